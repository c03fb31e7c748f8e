//! The project's own weight format: safetensors, tensors by canonical name, F32 or F16, with
//! a free-form text metadata map in the `__metadata__` header entry.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use half::f16;
use safetensors::tensor::{Dtype, SafeTensorError, SafeTensors, View};

use super::convert::{decode_bf16, decode_f16, decode_f32, decode_f64};
use super::error::ImportError;
use super::names::canonical_name;
use super::weights::Assembled;
use super::{RawTensor, StateDict};

/// Largest header the importer accepts (the crate's own limit is 100 MB).
const HEADER_LIMIT: u64 = 100_000_000;

/// Serialises `sd` as safetensors: F32, or F16 rounded to nearest when `half` is true.
/// `metadata` goes into the header's `__metadata__` map.
pub fn write_safetensors(
    sd: &StateDict,
    half: bool,
    metadata: &BTreeMap<String, String>,
) -> Result<Vec<u8>, ImportError> {
    let mut views = Vec::with_capacity(sd.tensors.len());
    for (name, tensor) in &sd.tensors {
        let numel = tensor
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if numel != Some(tensor.data.len()) {
            return Err(ImportError::corrupt(format!(
                "the weight '{name}' has {} values for shape {:?}",
                tensor.data.len(),
                tensor.shape
            )));
        }
        let bytes: Vec<u8> = if half {
            tensor
                .data
                .iter()
                .flat_map(|&v| f16::from_f32(v).to_le_bytes())
                .collect()
        } else {
            tensor.data.iter().flat_map(|&v| v.to_le_bytes()).collect()
        };
        let dtype = if half { Dtype::F16 } else { Dtype::F32 };
        views.push((
            name.as_str(),
            Owned {
                dtype,
                shape: tensor.shape.clone(),
                bytes,
            },
        ));
    }
    let info: HashMap<String, String> = metadata.clone().into_iter().collect();
    let info = (!info.is_empty()).then_some(info);
    safetensors::tensor::serialize(views, info)
        .map_err(|e| ImportError::corrupt(format!("could not write safetensors: {e}")))
}

/// Whether `bytes` start like safetensors: an 8-byte little-endian header length, then `{`.
pub(crate) fn sniff(bytes: &[u8]) -> bool {
    let Some(len) = bytes.get(..8).and_then(|b| <[u8; 8]>::try_from(b).ok()) else {
        return false;
    };
    let len = u64::from_le_bytes(len);
    (2..=HEADER_LIMIT).contains(&len) && bytes.get(8) == Some(&b'{')
}

/// Reads a safetensors file: float tensors become f32 (integer ones are listed as skipped),
/// names are canonicalised, and `__metadata__` becomes the metadata map.
pub(crate) fn read(bytes: &[u8]) -> Result<Assembled, ImportError> {
    let file = SafeTensors::deserialize(bytes).map_err(map_error)?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(map_error)?;
    let metadata = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();

    let mut sd = StateDict::default();
    let mut skipped = Vec::new();
    for (name, view) in file.iter() {
        let canonical = canonical_name(name);
        let data = match view.dtype() {
            Dtype::F32 => decode_f32(view.data()),
            Dtype::F16 => decode_f16(view.data()),
            Dtype::BF16 => decode_bf16(view.data()),
            Dtype::F64 => decode_f64(view.data()),
            Dtype::I64 | Dtype::I32 | Dtype::I16 | Dtype::I8 | Dtype::U8 | Dtype::BOOL => {
                skipped.push(canonical);
                continue;
            }
            other => {
                return Err(ImportError::UnsupportedDtype {
                    tensor: name.into(),
                    dtype: format!("{other:?}"),
                });
            }
        };
        let tensor = RawTensor {
            shape: view.shape().to_vec(),
            data,
        };
        if sd.tensors.insert(canonical.clone(), tensor).is_some() {
            return Err(ImportError::corrupt(format!(
                "two weights are both named '{canonical}'"
            )));
        }
    }
    Ok(Assembled {
        weights: sd,
        skipped,
        metadata,
    })
}

/// Maps the crate's errors: a header or data section longer than the file means truncation.
fn map_error(error: SafeTensorError) -> ImportError {
    match error {
        SafeTensorError::InvalidHeaderLength | SafeTensorError::MetadataIncompleteBuffer => {
            ImportError::Truncated
        }
        other => ImportError::corrupt(format!("invalid safetensors data ({other})")),
    }
}

/// A tensor's bytes ready for [`safetensors::tensor::serialize`].
struct Owned {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

impl View for Owned {
    fn dtype(&self) -> Dtype {
        self.dtype
    }

    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.bytes)
    }

    fn data_len(&self) -> usize {
        self.bytes.len()
    }
}
