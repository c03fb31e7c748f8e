//! The slices a command was given: files as named, folders searched for slices, each with its
//! place in a study when its header or name gives one.

use std::io::Read;
use std::path::{Path, PathBuf};

use ct_mask_net::imaging::is_dicom;
use ct_mask_net::study::{SlicePlace, Study, locate, slice_place};

/// One slice to analyse.
pub struct Input {
    /// Where it is.
    pub path: PathBuf,
    /// Its study and place in it, if known.
    pub place: Option<SlicePlace>,
}

/// Files as given, and the slices under each folder (recursively, sorted by path): PNG and
/// JPEG by extension, DICOM by extension or by its marker whatever the name. Hidden entries
/// are skipped.
///
/// # Errors
/// A folder that cannot be read or holds no slice.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<Input>, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            walk(path, &mut files)?;
            if files.len() == before {
                return Err(format!(
                    "{} holds no CT slice (PNG, JPEG or DICOM)",
                    path.display()
                ));
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files
        .into_iter()
        .map(|path| {
            let place = std::fs::read(&path).ok().and_then(|bytes| {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                slice_place(name.as_deref().unwrap_or_default(), &bytes)
            });
            Input { path, place }
        })
        .collect())
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            !p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, out)?;
        } else if is_slice(&path) {
            out.push(path);
        }
    }
    Ok(())
}

fn is_slice(path: &Path) -> bool {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "dcm" | "dicom") {
        return true;
    }
    let mut head = [0u8; 132];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok_and(|()| is_dicom(&head))
}

/// The order to analyse `n` inputs in: as given, except that the slices of a study are
/// analysed together, head first, where its first slice was given.
pub fn analysis_order(n: usize, studies: &[Study]) -> Vec<usize> {
    let mut done = vec![false; n];
    let mut order = Vec::with_capacity(n);
    for i in 0..n {
        if done[i] {
            continue;
        }
        match locate(studies, i) {
            Some((study, _, _)) => {
                for &j in &study.slices {
                    if !done[j] {
                        done[j] = true;
                        order.push(j);
                    }
                }
            }
            None => {
                done[i] = true;
                order.push(i);
            }
        }
    }
    order
}
