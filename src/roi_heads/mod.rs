//! RoI heads: multi-scale RoIAlign, the box head and predictor, and detection post-processing.

pub mod align;
mod box_head;
mod postprocess;

pub use align::multiscale_roi_align;
pub use box_head::{BoxHead, BoxPredictor};
pub use postprocess::{Detections, postprocess_detections};
