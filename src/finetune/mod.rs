//! Fine-tuning module S on a user's labelled slices: classes from names, seeded stratified
//! splits, the "heads" mode (S alone, on cached detector outputs) and the "heads+BN" mode (S and
//! the backbone's batch-norm affine weights, through the detector).

mod labels;
mod split;

pub use labels::{COVID, NORMAL, PNEUMONIA, class_from_name, patient_from_name};
#[cfg(not(target_arch = "wasm32"))]
pub use labels::{LabelledFile, labelled_files};
pub use split::stratified_split;

mod config;
mod heads;
mod heads_bn;
mod start;

pub use config::FinetuneConfig;
pub use heads::{Evaluation, HeadsTrainer, evaluate_s, improves_on, with_new_s};
pub use start::classifier_from_segmentation;
pub use heads_bn::{ClassifierModules, HeadsBnTrainer, classifier_logits, ranked_tensor};
