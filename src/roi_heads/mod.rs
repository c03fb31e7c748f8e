//! RoI heads: multi-scale RoIAlign, the box head and predictor, and detection post-processing.

pub mod align;
mod align_host;
mod box_head;
mod postprocess;

pub use align::{RoiAlignMode, multiscale_roi_align};
pub use align_host::{HostFeatureMap, roi_align_host};
pub use box_head::{BoxHead, BoxPredictor};
pub use postprocess::{Detections, postprocess_detections};
