//! Building the model's modules from a checkpoint's tensors.

mod loader;

pub use loader::{ConvSpec, WeightLoader};
