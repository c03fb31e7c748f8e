//! Turns a tensor description plus its storage bytes into `f32` values.
//!
//! Contiguous tensors (all of the authors' weights) are converted in one pass over a slice;
//! strided views are gathered element by element. Every index is bounds-checked.

use half::{bf16, f16};

use super::RawTensor;
use super::error::ImportError;
use super::torch::{Dtype, TensorRef};

/// Reads `tensor` (named `name` in messages) from `storage`, the bytes of its whole storage.
///
/// `budget` is the number of elements still allowed to be materialised; it starts at the file
/// size, so a hostile shape or zero stride cannot allocate far more memory than the file has.
pub(crate) fn materialize(
    name: &str,
    tensor: &TensorRef,
    storage: &[u8],
    budget: &mut usize,
) -> Result<RawTensor, ImportError> {
    let unsupported = || ImportError::UnsupportedDtype {
        tensor: name.into(),
        dtype: tensor.dtype.name(),
    };
    let decode: fn(&[u8]) -> Vec<f32> = match tensor.dtype {
        Dtype::F32 => decode_f32,
        Dtype::F64 => decode_f64,
        Dtype::F16 => decode_f16,
        Dtype::BF16 => decode_bf16,
        _ => return Err(unsupported()),
    };
    let width = tensor.dtype.size().ok_or_else(unsupported)?;
    let outside = || {
        ImportError::corrupt(format!(
            "the weight '{name}' points outside its stored data"
        ))
    };

    let numel = tensor
        .size
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let numel = numel.filter(|&n| n <= *budget).ok_or_else(|| {
        ImportError::corrupt(format!(
            "the weight '{name}' claims more values than the file holds"
        ))
    })?;
    *budget -= numel;
    let shape = tensor.size.clone();
    if numel == 0 {
        return Ok(RawTensor {
            shape,
            data: Vec::new(),
        });
    }

    if is_contiguous(&tensor.size, &tensor.stride) {
        let start = tensor.offset.checked_mul(width).ok_or_else(outside)?;
        let len = numel.checked_mul(width).ok_or_else(outside)?;
        let end = start.checked_add(len).ok_or_else(outside)?;
        let bytes = storage.get(start..end).ok_or_else(outside)?;
        return Ok(RawTensor {
            shape,
            data: decode(bytes),
        });
    }

    // Strided view: check the farthest element once, then gather.
    let last = tensor
        .size
        .iter()
        .zip(&tensor.stride)
        .try_fold(tensor.offset, |acc, (&d, &s)| {
            acc.checked_add(d.saturating_sub(1).checked_mul(s)?)
        });
    let last = last.ok_or_else(outside)?;
    if last
        .checked_add(1)
        .and_then(|n| n.checked_mul(width))
        .is_none_or(|n| n > storage.len())
    {
        return Err(outside());
    }
    let mut data = Vec::with_capacity(numel);
    let mut index = vec![0usize; tensor.size.len()];
    for _ in 0..numel {
        let element: usize = tensor.offset
            + index
                .iter()
                .zip(&tensor.stride)
                .map(|(&i, &s)| i * s)
                .sum::<usize>();
        let start = element * width;
        let bytes = storage.get(start..start + width).ok_or_else(outside)?;
        data.extend(decode(bytes));
        advance(&mut index, &tensor.size);
    }
    Ok(RawTensor { shape, data })
}

/// Whether row-major strides for `size` equal `stride` (dimensions of length 1 are free).
fn is_contiguous(size: &[usize], stride: &[usize]) -> bool {
    let mut expected = 1usize;
    for (&d, &s) in size.iter().zip(stride).rev() {
        if d != 1 && s != expected {
            return false;
        }
        expected = expected.saturating_mul(d);
    }
    true
}

/// Steps a row-major multi-index forward by one element.
fn advance(index: &mut [usize], size: &[usize]) {
    for (i, &d) in index.iter_mut().zip(size).rev() {
        *i += 1;
        if *i < d {
            return;
        }
        *i = 0;
    }
}

/// Little-endian f32 bytes to values.
pub(crate) fn decode_f32(bytes: &[u8]) -> Vec<f32> {
    bytes
        .as_chunks::<4>()
        .0
        .iter()
        .map(|c| f32::from_le_bytes(*c))
        .collect()
}

/// Little-endian f64 bytes to (rounded) f32 values.
pub(crate) fn decode_f64(bytes: &[u8]) -> Vec<f32> {
    bytes
        .as_chunks::<8>()
        .0
        .iter()
        .map(|c| f64::from_le_bytes(*c) as f32)
        .collect()
}

/// Little-endian IEEE half bytes to f32 values.
pub(crate) fn decode_f16(bytes: &[u8]) -> Vec<f32> {
    bytes
        .as_chunks::<2>()
        .0
        .iter()
        .map(|c| f16::from_le_bytes(*c).to_f32())
        .collect()
}

/// Little-endian bfloat16 bytes to f32 values.
pub(crate) fn decode_bf16(bytes: &[u8]) -> Vec<f32> {
    bytes
        .as_chunks::<2>()
        .0
        .iter()
        .map(|c| bf16::from_le_bytes(*c).to_f32())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;

    use super::*;
    use crate::importer::torch::StorageRef;

    fn tensor(offset: usize, size: &[usize], stride: &[usize]) -> TensorRef {
        let storage = Rc::new(StorageRef {
            key: "0".into(),
            dtype: Some(Dtype::F32),
            view_offset: 0,
        });
        TensorRef {
            storage,
            offset,
            size: size.to_vec(),
            stride: stride.to_vec(),
            dtype: Dtype::F32,
        }
    }

    fn storage(n: usize) -> Vec<u8> {
        (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
    }

    #[test]
    fn transposed_view_with_offset_is_gathered() {
        let mut budget = 1000;
        let raw = materialize("t", &tensor(1, &[2, 3], &[1, 2]), &storage(7), &mut budget).unwrap();
        assert_eq!(raw.shape, vec![2, 3]);
        assert_eq!(raw.data, vec![1.0, 3.0, 5.0, 2.0, 4.0, 6.0]);
        assert_eq!(budget, 994);
    }

    #[test]
    fn zero_dim_and_out_of_range_and_budget() {
        let mut budget = 1000;
        let raw = materialize("s", &tensor(3, &[], &[]), &storage(4), &mut budget).unwrap();
        assert_eq!((raw.shape.len(), raw.data), (0, vec![3.0]));
        let err = materialize("o", &tensor(2, &[3], &[1]), &storage(4), &mut budget);
        assert!(matches!(err, Err(ImportError::Corrupt(_))));
        let err = materialize("z", &tensor(0, &[2000], &[0]), &storage(4), &mut budget);
        assert!(matches!(err, Err(ImportError::Corrupt(_))));
    }
}
