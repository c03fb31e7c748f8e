//! Evaluation: slice classification metrics ([`ConfusionMatrix`]) and, for the lesion
//! segmentation model, box and mask average precision per class.
//!
//! # Segmentation AP: definition
//! - Ground truth: every 8-connected region of one label (1 GGO, 2 consolidation) of a slice's
//!   mask with at least `min_pixels` pixels is one object (the rule training uses).
//! - Predictions: the model's detections (score > 0.05, per-class NMS 0.5, top 100) with their
//!   masks pasted at the slice's resolution and cut at probability 0.5.
//! - Matching, per slice and class, per IoU threshold `t`: detections in descending score each
//!   take the unmatched object of highest IoU if that IoU is at least `t`; a detection that takes
//!   one is a true positive, any other a false positive. Box IoU for box AP, pixel IoU of the
//!   masks for mask AP.
//! - AP: [`average_precision`] over all slices' detections of the class (COCO's 101-point
//!   interpolation). AP50 uses `t = 0.5`; AP uses the mean over `t = 0.50, 0.55, ..., 0.95`.
//!   Means over classes skip a class without objects. No area ranges, no crowd regions, at most
//!   100 detections per slice (the model's own limit).

mod ap;
mod classification;
mod segmentation;

pub use ap::average_precision;
pub use classification::{CLASSES, ConfusionMatrix, argmax};
pub use segmentation::{
    ClassAp, PredictedObject, SegmentationEval, SliceMatches, TruthObject, match_slice,
};
