//! The zip `torch.save` format (the default since torch 1.6).
//!
//! An uncompressed zip archive holding `<prefix>/data.pkl` (the pickled object, whose persistent
//! ids name storages) and `<prefix>/data/<key>` (each storage's raw little-endian bytes), and
//! usually `<prefix>/byteorder`. Storage entries are read in place from the input bytes.

use std::collections::HashMap;
use std::io::Cursor;
use std::ops::Range;

use zip::{CompressionMethod, ZipArchive};

use super::error::ImportError;
use super::pickle;
use super::torch::{self, StorageRef};
use super::weights::{Assembled, assemble};

/// Signature of a zip local file header.
const LOCAL_HEADER: [u8; 4] = *b"PK\x03\x04";

/// Signature of the zip end-of-central-directory record, which closes every complete archive.
const END_OF_DIRECTORY: [u8; 4] = *b"PK\x05\x06";

/// Whether `bytes` start like a zip archive.
pub(crate) fn sniff(bytes: &[u8]) -> bool {
    bytes.starts_with(&LOCAL_HEADER)
}

/// Reads a zip checkpoint.
pub(crate) fn read(bytes: &[u8]) -> Result<Assembled, ImportError> {
    let mut archive = ZipArchive::new(Cursor::new(bytes)).map_err(|_| open_error(bytes))?;
    let entries = index_entries(&mut archive, bytes)?;

    let pickle_name = entries
        .keys()
        .filter(|name| *name == "data.pkl" || name.ends_with("/data.pkl"))
        .min_by_key(|name| name.len())
        .cloned()
        .ok_or(ImportError::NotACheckpoint)?;
    let prefix = pickle_name.trim_end_matches("data.pkl").to_owned();

    if let Some(order) = entries.get(&format!("{prefix}byteorder")) {
        let order = read_entry(bytes, order)?;
        if order.trim_ascii() == b"big" {
            return Err(ImportError::corrupt(
                "it was written on a big-endian computer, which this app does not support",
            ));
        }
    }

    let data_pkl = entries
        .get(&pickle_name)
        .ok_or(ImportError::NotACheckpoint)?;
    let data_pkl = read_entry(bytes, data_pkl)?;
    // The archive itself is complete (its directory was read), so a pickle that stops early
    // is damaged, not cut short.
    let (object, _) =
        pickle::load(data_pkl, 0, &mut torch::persistent_storage).map_err(|e| match e {
            ImportError::Truncated => ImportError::corrupt("its data.pkl record is damaged"),
            other => other,
        })?;

    let mut lookup = |storage: &StorageRef| {
        let name = format!("{prefix}data/{}", storage.key);
        let entry = entries.get(&name).ok_or_else(|| {
            ImportError::corrupt(format!("the data of storage {} is missing", storage.key))
        })?;
        read_entry(bytes, entry)
    };
    assemble(&object.root, bytes.len(), &mut lookup)
}

/// Where one archive member's data lies, and whether it is stored uncompressed.
struct Entry {
    /// Byte range of the member's data in the archive.
    range: Range<usize>,
    /// Whether the member is stored without compression.
    stored: bool,
}

/// Maps each member name to the byte range of its data inside `bytes`.
fn index_entries(
    archive: &mut ZipArchive<Cursor<&[u8]>>,
    bytes: &[u8],
) -> Result<HashMap<String, Entry>, ImportError> {
    let mut entries = HashMap::with_capacity(archive.len());
    for index in 0..archive.len() {
        let file = archive.by_index_raw(index).map_err(|_| open_error(bytes))?;
        let start = usize::try_from(file.data_start()).map_err(|_| ImportError::Truncated)?;
        let len = usize::try_from(file.compressed_size()).map_err(|_| ImportError::Truncated)?;
        let end = start.checked_add(len).ok_or(ImportError::Truncated)?;
        let stored = file.compression() == CompressionMethod::Stored;
        entries.insert(
            file.name().to_owned(),
            Entry {
                range: start..end,
                stored,
            },
        );
    }
    Ok(entries)
}

/// The bytes of a stored (uncompressed) member.
fn read_entry<'a>(bytes: &'a [u8], entry: &Entry) -> Result<&'a [u8], ImportError> {
    if !entry.stored {
        return Err(ImportError::corrupt(
            "its contents are compressed; PyTorch checkpoints are stored uncompressed",
        ));
    }
    bytes.get(entry.range.clone()).ok_or(ImportError::Truncated)
}

/// Explains why a zip-looking file could not be opened: without a complete end-of-directory
/// record (22 bytes at least) it was cut short, otherwise it is damaged.
fn open_error(bytes: &[u8]) -> ImportError {
    let tail_start = bytes.len().saturating_sub(65_557);
    let tail = bytes.get(tail_start..).unwrap_or_default();
    let complete_record = tail
        .windows(4)
        .enumerate()
        .any(|(at, window)| window == END_OF_DIRECTORY && tail.len() - at >= 22);
    if complete_record {
        ImportError::corrupt("its zip directory is damaged")
    } else {
        ImportError::Truncated
    }
}
