//! Studies: the slices of one scan, put in anatomical order and rolled up into one summary.
//!
//! A study here is one stack of slices: one DICOM series (Study and Series Instance UIDs), or
//! the slices whose COVIDx-CT / COVID-CT-MD names identify the same patient and scan
//! ([`SlicePlace`]). The model itself classifies single slices, as the paper does; the roll-up
//! ([`StudySummary`]) only gathers their answers and lesion areas, so that a reader sees a
//! scan at a glance.

mod place;
mod summary;

pub use place::{SlicePlace, dicom_place, name_place, slice_place};
pub use summary::{StudySlice, StudySummary, TOP_SLICES, summarise};

use std::cmp::Ordering;

/// One study and its slices in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Study {
    /// [`SlicePlace::key`].
    pub key: String,
    /// [`SlicePlace::label`] of its first slice.
    pub label: String,
    /// Ids of its slices (as given to [`group`]), head first: by position along the slice
    /// normal when every slice has one, else by number when every slice has one, else by id.
    pub slices: Vec<usize>,
}

impl Study {
    /// 1-based place of slice `id` in the study and the number of slices.
    pub fn index_of(&self, id: usize) -> Option<(usize, usize)> {
        self.slices
            .iter()
            .position(|&s| s == id)
            .map(|i| (i + 1, self.slices.len()))
    }
}

/// Where slice `id` sits among `studies`: its study and its 1-based place of how many.
pub fn locate(studies: &[Study], id: usize) -> Option<(&Study, usize, usize)> {
    studies
        .iter()
        .find_map(|s| s.index_of(id).map(|(i, n)| (s, i, n)))
}

/// Groups slices `(id, place)` into studies, in the order each study first appears; slices
/// without a place belong to none.
pub fn group<'a>(slices: impl IntoIterator<Item = (usize, &'a SlicePlace)>) -> Vec<Study> {
    let mut studies: Vec<(Study, Vec<(usize, &SlicePlace)>)> = Vec::new();
    for (id, place) in slices {
        match studies.iter_mut().find(|(s, _)| s.key == place.key) {
            Some((_, members)) => members.push((id, place)),
            None => studies.push((
                Study {
                    key: place.key.clone(),
                    label: place.label.clone(),
                    slices: Vec::new(),
                },
                vec![(id, place)],
            )),
        }
    }
    studies
        .into_iter()
        .map(|(mut study, mut members)| {
            order(&mut members);
            study.slices = members.into_iter().map(|(id, _)| id).collect();
            study
        })
        .collect()
}

/// Head first: descending position if all have one, else ascending number if all have one,
/// else by id; ties by id.
fn order(members: &mut [(usize, &SlicePlace)]) {
    let all_positions = members.iter().all(|(_, p)| p.position_mm.is_some());
    let all_numbers = members.iter().all(|(_, p)| p.number.is_some());
    members.sort_by(|(a_id, a), (b_id, b)| {
        let by = if all_positions {
            let (x, y) = (a.position_mm.unwrap_or(0.0), b.position_mm.unwrap_or(0.0));
            y.total_cmp(&x)
        } else if all_numbers {
            a.number.cmp(&b.number)
        } else {
            Ordering::Equal
        };
        by.then(a_id.cmp(b_id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(key: &str, position_mm: Option<f64>, number: Option<i64>) -> SlicePlace {
        SlicePlace {
            key: key.into(),
            label: format!("study {key}"),
            position_mm,
            number,
        }
    }

    #[test]
    fn slices_group_by_study_head_first() {
        let places = [
            place("a", Some(-200.0), Some(75)),
            place("b", None, Some(9)),
            place("a", Some(-174.0), Some(62)),
            place("b", None, Some(2)),
            place("a", Some(-248.0), Some(99)),
        ];
        let studies = group(places.iter().enumerate());
        assert_eq!(studies.len(), 2);
        assert_eq!(studies[0].key, "a");
        assert_eq!(studies[0].label, "study a");
        assert_eq!(studies[0].slices, vec![2, 0, 4]);
        assert_eq!(studies[1].slices, vec![3, 1]);
        assert_eq!(studies[0].index_of(4), Some((3, 3)));
        assert_eq!(studies[0].index_of(1), None);
        let (study, index, count) = locate(&studies, 1).unwrap();
        assert_eq!((study.key.as_str(), index, count), ("b", 2, 2));
        assert!(locate(&studies, 9).is_none());
    }

    #[test]
    fn positions_win_over_numbers_only_when_every_slice_has_one() {
        let places = [
            place("a", Some(10.0), Some(1)),
            place("a", None, Some(3)),
            place("a", Some(30.0), Some(2)),
        ];
        assert_eq!(group(places.iter().enumerate())[0].slices, vec![0, 2, 1]);
        let places = [place("a", Some(10.0), None), place("a", None, Some(3))];
        assert_eq!(group(places.iter().enumerate())[0].slices, vec![0, 1]);
    }
}
