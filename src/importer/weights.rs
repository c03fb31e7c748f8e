//! Finds the state dict inside an unpickled checkpoint and materialises its float tensors.
//!
//! Only tensors reachable from the chosen weights dict are read; the optimizer state and the
//! anchor generator's cached anchors (other storages in the same file) are never converted.

use std::collections::BTreeMap;

use super::convert::materialize;
use super::error::ImportError;
use super::names::canonical_name;
use super::torch::{Dtype, StorageRef};
use super::value::Value;
use super::{RawTensor, StateDict};

/// Keys under which a training script may have stored the state dict, most specific first.
const WEIGHT_KEYS: [&str; 3] = ["model_weights", "state_dict", "model"];

/// A dict's key/value pairs.
type Entries = Vec<(Value, Value)>;

/// The parts of a [`super::Checkpoint`] that a format reader produces.
pub(crate) struct Assembled {
    /// Float weights by canonical name.
    pub weights: StateDict,
    /// Canonical names of entries that were not loaded.
    pub skipped: Vec<String>,
    /// Scalar top-level entries (`epoch`, `lrate`, `model_name`, ...) as text.
    pub metadata: BTreeMap<String, String>,
}

/// Looks up the bytes of a whole storage.
pub(crate) type StorageBytes<'a, 'b> = dyn FnMut(&StorageRef) -> Result<&'b [u8], ImportError> + 'a;

/// Finds the weights in `root` and reads them through `storage_bytes`.
///
/// `file_len` bounds the number of values that may be materialised.
pub(crate) fn assemble(
    root: &Value,
    file_len: usize,
    storage_bytes: &mut StorageBytes<'_, '_>,
) -> Result<Assembled, ImportError> {
    let top = root.dict_items();
    let (entries, from_key) = find_weights(top.as_deref()).ok_or(ImportError::NoWeights)?;

    let mut metadata = BTreeMap::new();
    if let (Some(top), Some(from_key)) = (&top, from_key) {
        for (key, value) in top {
            let (Some(key), Some(text)) = (key.as_str(), value.scalar_text()) else {
                continue;
            };
            if key != from_key {
                metadata.insert(key.to_owned(), text);
            }
        }
    }

    let mut weights = StateDict::default();
    let mut skipped = Vec::new();
    let mut budget = file_len;
    for (key, value) in entries {
        let Some(original) = key.as_str() else {
            continue;
        };
        let name = canonical_name(original);
        let tensor = match &value {
            Value::Tensor(tensor) => tensor,
            _ => {
                skipped.push(name);
                continue;
            }
        };
        if matches!(tensor.dtype, Dtype::Integer(..)) {
            skipped.push(name);
            continue;
        }
        let bytes = storage_bytes(&tensor.storage)?;
        let raw: RawTensor = materialize(original, tensor, bytes, &mut budget)?;
        if weights.tensors.insert(name.clone(), raw).is_some() {
            return Err(ImportError::corrupt(format!(
                "two weights are both named '{name}' once DataParallel/torchvision prefixes \
                 are normalised"
            )));
        }
    }
    Ok(Assembled {
        weights,
        skipped,
        metadata,
    })
}

/// The weights dict's entries, and the top-level key it came from (`None` for a bare state dict).
fn find_weights(top: Option<&[(Value, Value)]>) -> Option<(Entries, Option<&'static str>)> {
    let top = top?;
    for wanted in WEIGHT_KEYS {
        let found = top.iter().find(|(key, _)| key.as_str() == Some(wanted));
        if let Some(entries) = found.and_then(|(_, value)| value.dict_items())
            && looks_like_state_dict(&entries)
        {
            return Some((entries, Some(wanted)));
        }
    }
    looks_like_state_dict(top).then(|| (top.to_vec(), None))
}

/// A state dict has only string keys and at least one tensor value.
fn looks_like_state_dict(entries: &[(Value, Value)]) -> bool {
    entries.iter().all(|(key, _)| key.as_str().is_some())
        && entries
            .iter()
            .any(|(_, value)| matches!(value, Value::Tensor(_)))
}
