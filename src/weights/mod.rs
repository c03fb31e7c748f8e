//! Building the model's modules from a checkpoint's tensors, and writing trained modules back.

mod export;
mod loader;

pub use export::{export_state_dict, is_backbone_bn_affine, is_bn_statistic, set_trainable};
pub use loader::{ConvSpec, NamedParam, ParamNames, WeightLoader};
