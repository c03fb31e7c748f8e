//! Where a slice sits: which series of which study it belongs to and its position along the
//! patient's axis, from a DICOM header or, for PNG and JPEG slices, from a COVIDx-CT or
//! COVID-CT-MD style file name.

use std::io::Cursor;

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use serde::{Deserialize, Serialize};

use crate::finetune::class_from_name;
use crate::imaging::{check_dicom_lengths, dicm_offset};

/// A slice's study and its place in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlicePlace {
    /// What groups slices into one study: the DICOM Study and Series Instance UIDs (one series
    /// is one stack of slices; two reconstructions of one study are two stacks), or the
    /// patient and scan words of a file name.
    pub key: String,
    /// The study in words for the page and the exports (patient, date, series), never empty.
    pub label: String,
    /// Millimetres along the slice normal, larger towards the head (DICOM patient
    /// coordinates: Image Position . (row x column direction)); `None` without a position.
    pub position_mm: Option<f64>,
    /// Instance Number, or the slice number of a file name.
    pub number: Option<i64>,
}

fn text(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<String> {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().trim_end_matches('\0').trim().to_string())
        .filter(|s| !s.is_empty())
}

fn numbers(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Vec<f64> {
    text(obj, tag)
        .map(|s| {
            s.split('\\')
                .filter_map(|v| v.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Position along the normal of the slice plane: `Image Position (Patient)` projected on
/// `row x column` of `Image Orientation (Patient)` (patient coordinates, +z towards the head);
/// the plain z of the position when the orientation is missing, then `Slice Location`.
fn position(obj: &DefaultDicomObject) -> Option<f64> {
    let at = numbers(obj, tags::IMAGE_POSITION_PATIENT);
    let cosines = numbers(obj, tags::IMAGE_ORIENTATION_PATIENT);
    if let ([x, y, z], [r0, r1, r2, c0, c1, c2]) = (at.as_slice(), cosines.as_slice()) {
        let normal = [r1 * c2 - r2 * c1, r2 * c0 - r0 * c2, r0 * c1 - r1 * c0];
        let length = normal.iter().map(|v| v * v).sum::<f64>().sqrt();
        if length > 1e-6 {
            // Orient the normal so that +z (the head) stays positive whatever the scan order.
            let sign = if normal[2] < 0.0 { -1.0 } else { 1.0 };
            return Some(sign * (x * normal[0] + y * normal[1] + z * normal[2]) / length);
        }
    }
    if let [_, _, z] = at.as_slice() {
        return Some(*z);
    }
    numbers(obj, tags::SLICE_LOCATION).first().copied()
}

/// The place of a DICOM slice, read from its header only (the pixel data is not decoded).
/// `None` when `bytes` are not a readable DICOM file or carry no study or series identifier.
pub fn dicom_place(bytes: &[u8]) -> Option<SlicePlace> {
    let offset = dicm_offset(bytes)?;
    check_dicom_lengths(&bytes[offset..]).ok()?;
    let obj = OpenFileOptions::new()
        .read_until(tags::PIXEL_DATA)
        .from_reader(Cursor::new(&bytes[offset..]))
        .ok()?;
    let study = text(&obj, tags::STUDY_INSTANCE_UID);
    let series = text(&obj, tags::SERIES_INSTANCE_UID);
    if study.is_none() && series.is_none() {
        return None;
    }
    let key = format!(
        "dicom:{}/{}",
        study.as_deref().unwrap_or("-"),
        series.as_deref().unwrap_or("-")
    );
    let mut words: Vec<String> = Vec::new();
    if let Some(patient) = text(&obj, tags::PATIENT_ID).or_else(|| text(&obj, tags::PATIENT_NAME)) {
        words.push(format!("patient {patient}"));
    }
    if let Some(date) = text(&obj, tags::STUDY_DATE) {
        words.push(pretty_date(&date));
    }
    match (
        text(&obj, tags::SERIES_NUMBER),
        text(&obj, tags::SERIES_DESCRIPTION),
    ) {
        (Some(n), Some(d)) => words.push(format!("series {n} ({})", squeeze(&d))),
        (Some(n), None) => words.push(format!("series {n}")),
        (None, Some(d)) => words.push(squeeze(&d)),
        (None, None) => {}
    }
    if words.is_empty() {
        let tail: String = key
            .chars()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        words.push(format!("study ...{tail}"));
    }
    Some(SlicePlace {
        key,
        label: words.join(", "),
        position_mm: position(&obj),
        number: text(&obj, tags::INSTANCE_NUMBER).and_then(|n| n.parse().ok()),
    })
}

/// `YYYYMMDD` as `YYYY-MM-DD`; anything else as it is.
fn pretty_date(date: &str) -> String {
    if date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit()) {
        format!("{}-{}-{}", &date[..4], &date[4..6], &date[6..])
    } else {
        date.to_string()
    }
}

/// Runs of spaces as one.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The place a PNG or JPEG slice's name gives: COVIDx-CT `<class>_<patient>_<scan>_<slice>`
/// (the study is the patient's scan) or COVID-CT-MD `<class>_<patient>_<slice>` (the study is
/// the patient), the slice number last. `None` for other names.
pub fn name_place(name: &str) -> Option<SlicePlace> {
    let file = name.rsplit(['/', '\\']).next().unwrap_or(name);
    class_from_name(file)?;
    let stem = file.rsplit_once('.').map_or(file, |(s, _)| s);
    let words: Vec<&str> = stem.split('_').collect();
    let number = |w: &str| w.parse::<i64>().ok();
    let (study_words, slice) = match words.as_slice() {
        [class, patient, scan, slice] if number(slice).is_some() => {
            (vec![*class, *patient, *scan], *slice)
        }
        [class, patient, slice] if number(slice).is_some() => (vec![*class, *patient], *slice),
        _ => return None,
    };
    if study_words.iter().any(|w| w.is_empty()) {
        return None;
    }
    let label = match study_words.as_slice() {
        [class, patient, scan] => format!("{class} patient {patient}, scan {scan}"),
        [class, patient] => format!("{class} patient {patient}"),
        _ => unreachable!("two or three words"),
    };
    Some(SlicePlace {
        key: format!("name:{}", study_words.join("_").to_ascii_lowercase()),
        label,
        position_mm: None,
        number: number(slice),
    })
}

/// The place of a file: from its DICOM header, else from its name.
pub fn slice_place(name: &str, bytes: &[u8]) -> Option<SlicePlace> {
    dicom_place(bytes).or_else(|| name_place(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_studies_and_slice_numbers() {
        let p = name_place("NCP_12_345_0067.png").unwrap();
        assert_eq!(p.key, "name:ncp_12_345");
        assert_eq!(p.label, "NCP patient 12, scan 345");
        assert_eq!(p.number, Some(67));
        let q = name_place("dir/COVID-19_P001_003.png").unwrap();
        assert_eq!(q.key, "name:covid-19_p001");
        assert_eq!(q.number, Some(3));
        assert_eq!(name_place("slice_12.png"), None);
        assert_eq!(name_place("NCP_12.png"), None);
        assert_eq!(name_place("CP_a_b_c.png"), None);
        assert_eq!(name_place("CP__1_2.png"), None);
    }

    #[test]
    fn dates_and_spaces_are_tidied() {
        assert_eq!(pretty_date("20200305"), "2020-03-05");
        assert_eq!(pretty_date("2020"), "2020");
        assert_eq!(squeeze(" ThorRoutine  2.0  D40s "), "ThorRoutine 2.0 D40s");
    }

    #[test]
    fn what_is_not_dicom_has_no_dicom_place() {
        assert_eq!(dicom_place(b"\x89PNG\r\n\x1a\n"), None);
        let mut bytes = vec![0u8; 132];
        bytes[128..132].copy_from_slice(b"DICM");
        assert_eq!(dicom_place(&bytes), None);
    }
}
