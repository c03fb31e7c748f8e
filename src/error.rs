//! Errors of the model and its pipeline.

use crate::importer::ImportError;

/// Anything that can go wrong while building or running the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The weights could not be read or do not fit the architecture.
    #[error(transparent)]
    Weights(#[from] ImportError),
    /// The configuration asks for something this implementation does not support.
    #[error("unsupported model configuration: {0}")]
    UnsupportedConfig(String),
    /// The image cannot be a CT slice (e.g. its shape).
    #[error("{0}")]
    UnsupportedImage(String),
    /// The compute device failed (out of memory, lost device, failed read-back).
    #[error("the compute device failed: {0}")]
    Device(String),
}
