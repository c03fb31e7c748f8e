//! Reads the checkpoints users bring: the authors' PyTorch `.pth` files (legacy torch-1.1
//! format), modern zip `.pth` files, and the project's own safetensors files.
//!
//! COVID-CT-Mask-Net (Ter-Sarkisov, 2020, <https://arxiv.org/abs/2009.03478>) was published as
//! `torch.save` dictionaries `{'epoch', 'model_name', 'model_weights', 'optimizer_state',
//! 'lrate', 'anchor_generator'}`. The anchor generator is a pickled instance of the authors'
//! own Python class, so a general pickle loader that insists on known classes fails on these
//! files. This importer reads pickles with a small virtual machine of its own that turns
//! unknown classes into inert objects, then reads only the tensors reachable from the weights
//! dict.
//!
//! All weights come out as `f32`, under their canonical (torchvision 0.3) names; see
//! [`canonical_name`]. Nothing here panics on bad input: every problem is an [`ImportError`].

use std::collections::BTreeMap;

mod convert;
mod error;
mod input;
mod legacy;
mod names;
mod pickle;
mod safetensors_io;
mod sharing;
mod torch;
mod value;
mod weights;
mod zipfmt;

pub use error::ImportError;
pub use names::canonical_name;
pub use safetensors_io::write_safetensors;
pub use sharing::{DetectorSharing, detector_sharing};

/// One weight tensor, converted to `f32`, in row-major order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RawTensor {
    /// Shape; empty for a 0-dimensional (scalar) tensor.
    pub shape: Vec<usize>,
    /// Values in row-major order; `shape.iter().product()` of them.
    pub data: Vec<f32>,
}

/// Weights by canonical name.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StateDict {
    /// The tensors, sorted by name.
    pub tensors: BTreeMap<String, RawTensor>,
}

/// The container a checkpoint was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckpointFormat {
    /// The legacy `torch.save` format (torch ≤ 1.5, the authors' files).
    TorchLegacy,
    /// The zip `torch.save` format (torch ≥ 1.6 default).
    TorchZip,
    /// safetensors (the project's own format).
    Safetensors,
}

/// What [`read_checkpoint`] found in a file.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The container format.
    pub format: CheckpointFormat,
    /// The floating-point weights, as `f32`, by canonical name.
    pub weights: StateDict,
    /// Canonical names, sorted, of weights-dict entries that were not loaded (integer tensors
    /// such as batch-norm `num_batches_tracked`, and non-tensor entries).
    pub skipped: Vec<String>,
    /// Scalar entries beside the weights (`epoch`, `lrate`, `model_name`, ...) as text, or a
    /// safetensors file's `__metadata__`.
    pub metadata: BTreeMap<String, String>,
}

/// Reads a checkpoint from its bytes, recognising the format by its first bytes.
///
/// PyTorch files: the weights are taken from the `model_weights`, `state_dict` or `model`
/// entry of a top-level dict, or from the top-level dict itself when it is a state dict. Only
/// those tensors are converted; optimizer state and other objects are ignored.
pub fn read_checkpoint(bytes: &[u8]) -> Result<Checkpoint, ImportError> {
    if bytes.is_empty() {
        return Err(ImportError::Empty);
    }
    if zipfmt::sniff(bytes) {
        let parts = zipfmt::read(bytes)?;
        return Ok(from_parts(CheckpointFormat::TorchZip, parts));
    }
    // Safetensors before legacy: a 640-byte header length also starts with 0x80 0x02.
    if safetensors_io::sniff(bytes) {
        let parts = safetensors_io::read(bytes)?;
        return Ok(from_parts(CheckpointFormat::Safetensors, parts));
    }
    if legacy::sniff(bytes) {
        let parts = legacy::read(bytes)?;
        return Ok(from_parts(CheckpointFormat::TorchLegacy, parts));
    }
    Err(ImportError::NotACheckpoint)
}

/// Wraps what a format reader assembled.
fn from_parts(format: CheckpointFormat, parts: weights::Assembled) -> Checkpoint {
    Checkpoint {
        format,
        weights: parts.weights,
        skipped: parts.skipped,
        metadata: parts.metadata,
    }
}

impl StateDict {
    /// Checks that the weights are exactly `expected` (name, shape): every expected name present
    /// with that shape, and no other names.
    ///
    /// On failure returns [`ImportError::WrongArchitecture`] listing missing, unexpected and
    /// mismatched names (each sorted).
    pub fn check_architecture(&self, expected: &[(String, Vec<usize>)]) -> Result<(), ImportError> {
        let wanted: BTreeMap<&str, &[usize]> = expected
            .iter()
            .map(|(name, shape)| (name.as_str(), shape.as_slice()))
            .collect();
        let mut missing = Vec::new();
        let mut mismatched = Vec::new();
        for (&name, &shape) in &wanted {
            match self.tensors.get(name) {
                None => missing.push(name.to_owned()),
                Some(tensor) if tensor.shape != shape => {
                    mismatched.push((name.to_owned(), shape.to_vec(), tensor.shape.clone()));
                }
                Some(_) => {}
            }
        }
        let unexpected: Vec<String> = self
            .tensors
            .keys()
            .filter(|name| !wanted.contains_key(name.as_str()))
            .cloned()
            .collect();
        if missing.is_empty() && unexpected.is_empty() && mismatched.is_empty() {
            Ok(())
        } else {
            Err(ImportError::WrongArchitecture {
                missing,
                unexpected,
                mismatched,
            })
        }
    }
}
