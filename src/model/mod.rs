//! The two models of the paper, assembled from the stages: the lesion [`SegmentationModel`]
//! (Mask R-CNN) and the [`ClassificationModel`] (COVID-CT-Mask-Net = detector + module S).
//!
//! Both run through asynchronous entry points: device work is queued without blocking and every
//! result comes back through an asynchronous read-back, so the same code runs in the browser.

mod classification;
mod detector;
mod input;
mod loading;
mod segmentation;
mod synthetic;
pub(crate) mod timing;

pub use classification::{
    CLASS_NAMES, ClassProbabilities, ClassificationModel, ClassificationResult, SlicePrediction,
};
pub use detector::{BoxBranchOutput, Detector, DetectorModules};
pub use input::ModelInput;
pub use loading::{ModelKind, detector_config, infer_detector_config, split_combined};
pub use segmentation::{SegmentationModel, SegmentationResult};
pub use synthetic::{SplitMix, synthetic_weights};
pub(crate) use synthetic::{architecture, name_seed};
pub use timing::StageTimings;
