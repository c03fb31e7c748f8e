//! Training the lesion segmentation model (Mask R-CNN) on labelled slices: ground-truth
//! instances, anchor and proposal matching, balanced sampling, the five losses and an Adam loop.
//! Inference code never depends on this module.

mod config;
mod data;
mod init;
mod instances;
mod matcher;
mod step;
mod targets;
mod trainer;

pub use crate::nn::losses::{bce_with_logits, cross_entropy, smooth_l1_sum};
pub use config::SegmentationTrainingConfig;
pub use data::{DataError, LabelledSlice, read_labelled_dir, training_example};
pub use init::initial_segmentation_weights;
pub use instances::{Instance, LabelMask, instances};
pub use matcher::{Match, Matcher, Sampled, sample};
pub use step::{LOSS_NAMES, LossTerms, SegmentationModules, TrainingExample, segmentation_losses};
pub use targets::{GroundTruth, RoiTargets, RpnTargets, all_anchors, roi_targets, rpn_targets};
pub use trainer::SegmentationTrainer;
