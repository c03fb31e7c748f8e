//! The legacy (non-zip) `torch.save` format, written by torch ≤ 1.5 and by
//! `torch.save(..., _use_new_zipfile_serialization=False)`; the authors' published files.
//!
//! Layout: five consecutive pickles (magic number, protocol version 1001, a `sys_info` dict, the
//! saved object, the list of storage keys), then for each key of that list, in order, an 8-byte
//! little-endian element count followed by the storage's raw bytes.

use std::collections::HashMap;
use std::rc::Rc;

use super::error::ImportError;
use super::input::Input;
use super::pickle::{self, Pickled};
use super::torch::{self, StorageRef};
use super::value::Value;
use super::weights::{Assembled, assemble};

/// `pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2)`: how every legacy file begins.
const MAGIC_PICKLE: [u8; 15] = [
    0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, b'.',
];

/// The legacy format's protocol version.
const PROTOCOL_VERSION: i64 = 1001;

/// Whether `bytes` start like a pickle (PROTO opcode with protocol 2–5).
pub(crate) fn sniff(bytes: &[u8]) -> bool {
    bytes.first() == Some(&0x80) && matches!(bytes.get(1), Some(2..=5))
}

/// Reads a legacy checkpoint.
pub(crate) fn read(bytes: &[u8]) -> Result<Assembled, ImportError> {
    let next = read_magic(bytes)?;
    let (version, next) = pickle::load(bytes, next, &mut no_persistent_ids)?;
    if version.root.as_int() != Some(PROTOCOL_VERSION) {
        return Err(ImportError::corrupt(
            "unknown legacy PyTorch format version",
        ));
    }
    let (sys_info, next) = pickle::load(bytes, next, &mut no_persistent_ids)?;
    check_byte_order(&sys_info)?;

    let mut storages: HashMap<String, Rc<StorageRef>> = HashMap::new();
    let mut record = |pid: Value| {
        let value = torch::persistent_storage(pid)?;
        if let Value::Storage(storage) = &value {
            storages
                .entry(storage.key.clone())
                .or_insert_with(|| Rc::clone(storage));
        }
        Ok(value)
    };
    let (object, next) = pickle::load(bytes, next, &mut record)?;
    let (keys, next) = pickle::load(bytes, next, &mut no_persistent_ids)?;

    let ranges = locate_storages(bytes, next, &keys, &storages)?;
    let mut lookup = |storage: &StorageRef| {
        let range = ranges.get(&storage.key).ok_or_else(|| {
            ImportError::corrupt(format!("the data of storage {} is missing", storage.key))
        })?;
        bytes.get(range.clone()).ok_or(ImportError::Truncated)
    };
    assemble(&object.root, bytes.len(), &mut lookup)
}

/// Checks the magic-number pickle and returns the offset after it.
///
/// A pickle that is not torch's magic number is some other file (`NotACheckpoint`); a file that
/// stops inside the magic number is `Truncated`.
fn read_magic(bytes: &[u8]) -> Result<usize, ImportError> {
    match pickle::load(bytes, 0, &mut no_persistent_ids) {
        Ok((magic, next)) => match &magic.root {
            Value::BigInt(digits)
                if digits.as_slice() == MAGIC_PICKLE.get(4..14).unwrap_or(&[]) =>
            {
                Ok(next)
            }
            _ => Err(ImportError::NotACheckpoint),
        },
        Err(ImportError::Truncated) if MAGIC_PICKLE.starts_with(bytes) => {
            Err(ImportError::Truncated)
        }
        Err(_) => Err(ImportError::NotACheckpoint),
    }
}

/// Refuses files written on big-endian machines (their storages would need byte swapping).
fn check_byte_order(sys_info: &Pickled) -> Result<(), ImportError> {
    let items = sys_info.root.dict_items().unwrap_or_default();
    let little = items
        .iter()
        .find(|(key, _)| key.as_str() == Some("little_endian"));
    match little.map(|(_, value)| value) {
        Some(Value::Bool(false)) => Err(ImportError::corrupt(
            "it was written on a big-endian computer, which this app does not support",
        )),
        _ => Ok(()),
    }
}

/// Walks the storage section and returns each storage's byte range in the file.
fn locate_storages(
    bytes: &[u8],
    pos: usize,
    keys: &Pickled,
    storages: &HashMap<String, Rc<StorageRef>>,
) -> Result<HashMap<String, std::ops::Range<usize>>, ImportError> {
    let keys = keys
        .root
        .sequence()
        .ok_or_else(|| ImportError::corrupt("the list of stored tensors is missing"))?;
    let mut ranges = HashMap::with_capacity(keys.len());
    let mut input = Input::new(bytes, pos);
    for key in keys {
        let key = match key {
            Value::Str(key) => key.to_string(),
            Value::Int(key) => key.to_string(),
            _ => return Err(ImportError::corrupt("a stored tensor has a malformed key")),
        };
        let storage = storages.get(&key).ok_or_else(|| {
            ImportError::corrupt(format!("storage {key} is listed but never described"))
        })?;
        let width = match &storage.dtype {
            None => 1,
            Some(dtype) => dtype.size().ok_or_else(|| ImportError::UnsupportedDtype {
                tensor: format!("storage {key}"),
                dtype: dtype.name(),
            })?,
        };

        let count = u64::from_le_bytes(input.array()?);
        let len = usize::try_from(count)
            .ok()
            .and_then(|n| n.checked_mul(width))
            .ok_or(ImportError::Truncated)?;
        let start = input.pos;
        input.take(len)?;
        ranges.insert(key, start..input.pos);
    }
    Ok(ranges)
}

/// Persistent-id handler for the pickles that must not contain any.
fn no_persistent_ids(_: Value) -> Result<Value, ImportError> {
    Err(ImportError::corrupt(
        "unexpected tensor reference in the file header",
    ))
}
