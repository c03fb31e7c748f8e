//! Slice classes from names: a file called as COVIDx-CT names its slices (`NCP_...`, `CP_...`,
//! `Normal_...`) or as COVID-CT-MD does (`COVID-19_...`, `CAP_...`, `Normal_...`), or a folder
//! named after the class.

/// Class indices in module S's order.
pub const NORMAL: usize = 0;
/// Common (non-COVID) pneumonia.
pub const PNEUMONIA: usize = 1;
/// COVID-19.
pub const COVID: usize = 2;

/// The class a name stands for, by its first word (case-insensitive; words end at `_`, `-`
/// followed by a non-digit, space or `.`): `normal`/`control` 0, `cp`/`cap`/`pneumonia` 1,
/// `ncp`/`covid`/`covid-19`/`covid19` 2. `None` for any other name.
pub fn class_from_name(name: &str) -> Option<usize> {
    let lower = name.to_ascii_lowercase();
    let first = lower.split(['_', ' ', '.']).next().unwrap_or_default();
    match first {
        "normal" | "control" => Some(NORMAL),
        "cp" | "cap" | "pneumonia" => Some(PNEUMONIA),
        "ncp" | "covid" | "covid-19" | "covid19" => Some(COVID),
        _ => None,
    }
}

/// The patient a slice's name identifies, when it follows COVIDx-CT
/// (`<class>_<patient>_<scan>_<slice>`) or COVID-CT-MD (`<class>_<patient>_<slice>`): the
/// second `_`-separated word, with the class word, e.g. `CP_0_3131_0140.png` -> `cp_0`,
/// `COVID-19_P001_000.png` -> `covid-19_p001`. `None` for names with fewer than three words
/// or without a class, which then count as a patient each.
pub fn patient_from_name(name: &str) -> Option<String> {
    class_from_name(name)?;
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s).to_ascii_lowercase();
    let words: Vec<&str> = stem.split('_').collect();
    (words.len() >= 3 && !words[1].is_empty()).then(|| format!("{}_{}", words[0], words[1]))
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{LabelledFile, labelled_files};

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::path::{Path, PathBuf};

    use super::class_from_name;

    /// An image file and its class.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LabelledFile {
        /// Path of the image.
        pub path: PathBuf,
        /// Its class.
        pub class: usize,
    }

    fn is_image(path: &Path) -> bool {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "dcm" | "dicom")
    }

    fn files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
        let mut out: Vec<PathBuf> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The labelled images of `dir`: images in sub-folders named after a class, and images
    /// directly in `dir` whose names carry a class. Sorted by path. Images whose class cannot
    /// be told are listed in the error when nothing else is found.
    pub fn labelled_files(dir: &Path) -> Result<Vec<LabelledFile>, String> {
        let entries = files(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let mut found = Vec::new();
        let mut unknown = Vec::new();
        for path in entries {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if path.is_dir() {
                let Some(class) = class_from_name(&name) else {
                    continue;
                };
                let inner =
                    files(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                found.extend(
                    inner
                        .into_iter()
                        .filter(|p| is_image(p))
                        .map(|path| LabelledFile { path, class }),
                );
            } else if is_image(&path) {
                match class_from_name(&name) {
                    Some(class) => found.push(LabelledFile { path, class }),
                    None => unknown.push(name),
                }
            }
        }
        if found.is_empty() {
            return Err(format!(
                "{} holds no labelled slice: put images in folders named normal, pneumonia and \
                 covid, or name them like NCP_..., CP_..., Normal_...{}",
                dir.display(),
                if unknown.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({} images without a class, e.g. {})",
                        unknown.len(),
                        unknown[0]
                    )
                }
            ));
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_naming_schemes() {
        assert_eq!(class_from_name("NCP_96_1328_0032.png"), Some(COVID));
        assert_eq!(class_from_name("CP_0_3131_0140.png"), Some(PNEUMONIA));
        assert_eq!(class_from_name("Normal_1_12_3.png"), Some(NORMAL));
        assert_eq!(class_from_name("COVID-19_P001_000.png"), Some(COVID));
        assert_eq!(class_from_name("CAP_cap001_005.png"), Some(PNEUMONIA));
        assert_eq!(class_from_name("covid"), Some(COVID));
        assert_eq!(class_from_name("Pneumonia"), Some(PNEUMONIA));
        assert_eq!(class_from_name("scan_001.png"), None);
        assert_eq!(class_from_name("NCPX_1.png"), None);
    }

    #[test]
    fn patients_from_both_naming_schemes() {
        assert_eq!(patient_from_name("CP_0_3131_0140.png").as_deref(), Some("cp_0"));
        assert_eq!(patient_from_name("NCP_96_1328_0032.png").as_deref(), Some("ncp_96"));
        assert_eq!(
            patient_from_name("COVID-19_P001_000.png").as_deref(),
            Some("covid-19_p001")
        );
        assert_eq!(patient_from_name("CAP_cap001_005.png").as_deref(), Some("cap_cap001"));
        assert_eq!(patient_from_name("covid_3.png"), None);
        assert_eq!(patient_from_name("scan_1_2.png"), None);
    }
}
