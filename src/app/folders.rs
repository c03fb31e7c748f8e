//! Folders dropped on the page or picked with the folder button: their slices, found through
//! the browser's file-system entries (`webkitGetAsEntry`), read locally like single files.

use js_sys::{Array, Promise};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    DataTransfer, File, FileSystemDirectoryEntry, FileSystemDirectoryReader, FileSystemEntry,
    FileSystemFileEntry,
};

use crate::batch::is_slice_name;

/// What a drop holds: its entries (files and folders), taken while the drop event lasts (the
/// browser empties the transfer afterwards), or its plain files where entries are not offered.
pub enum Dropped {
    /// File-system entries, to walk with [`files_in`].
    Entries(Vec<FileSystemEntry>),
    /// Plain files.
    Files(Vec<File>),
}

/// Takes what `data` holds; call it inside the drop handler.
pub fn take(data: &DataTransfer) -> Dropped {
    let items = data.items();
    let entries: Vec<FileSystemEntry> = (0..items.length())
        .filter_map(|i| items.get(i))
        .filter(|item| item.kind() == "file")
        .filter_map(|item| item.webkit_get_as_entry().ok().flatten())
        .collect();
    if entries.is_empty() {
        Dropped::Files(super::browser::files_of(data.files()))
    } else {
        Dropped::Entries(entries)
    }
}

/// The files under `entries`: dropped files as they are, and from folders (walked to any
/// depth, in path order) the files that may be slices ([`is_slice_name`]); `skipped` counts
/// the others.
pub async fn files_in(entries: Vec<FileSystemEntry>) -> (Vec<File>, usize) {
    let mut found: Vec<File> = Vec::new();
    let mut skipped = 0;
    // (entry, whether it came from inside a folder)
    let mut stack: Vec<(FileSystemEntry, bool)> =
        entries.into_iter().rev().map(|e| (e, false)).collect();
    while let Some((entry, in_folder)) = stack.pop() {
        if entry.is_directory() {
            let reader = entry
                .unchecked_into::<FileSystemDirectoryEntry>()
                .create_reader();
            let mut children = Vec::new();
            // readEntries hands out a folder's entries in batches until an empty one.
            while let Some(batch) = read_batch(&reader).await {
                children.extend(batch);
            }
            children.sort_by_key(|e| std::cmp::Reverse(e.name()));
            stack.extend(children.into_iter().map(|e| (e, true)));
        } else if entry.is_file() {
            if in_folder && !is_slice_name(&entry.name()) {
                skipped += 1;
                continue;
            }
            if let Some(file) = file_of(entry.unchecked_ref::<FileSystemFileEntry>()).await {
                found.push(file);
            }
        }
    }
    (found, skipped)
}

/// The next batch of a folder's entries; `None` when done or unreadable.
async fn read_batch(reader: &FileSystemDirectoryReader) -> Option<Vec<FileSystemEntry>> {
    let promise = Promise::new(&mut |resolve, reject| {
        if let Err(e) = reader.read_entries_with_callback_and_callback(&resolve, &reject) {
            let _ = reject.call1(&wasm_bindgen::JsValue::NULL, &e);
        }
    });
    let batch: Array = JsFuture::from(promise).await.ok()?.dyn_into().ok()?;
    (batch.length() > 0).then(|| batch.iter().map(|v| v.unchecked_into()).collect())
}

/// The file behind a file entry; `None` when the browser cannot open it.
async fn file_of(entry: &FileSystemFileEntry) -> Option<File> {
    let promise = Promise::new(&mut |resolve, reject| {
        entry.file_with_callback_and_callback(&resolve, &reject);
    });
    JsFuture::from(promise).await.ok()?.dyn_into().ok()
}
