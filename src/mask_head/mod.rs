//! Mask branch (`roi_heads.mask_head.mask_fcn1..4`, `roi_heads.mask_predictor.*`) and the
//! pasting of 28x28 mask logits into the image.

mod head;
mod paste;

pub use head::MaskHead;
pub use paste::{paste_mask, paste_masks};
