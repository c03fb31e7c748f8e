//! The roll-up of a study's slice answers: mean class probabilities, how many slices each class
//! won, the slices most confidently COVID-19, and the lesion burden slice by slice.

use serde::Serialize;

use crate::analysis::{LesionAreas, SliceReport};
use crate::evaluation::argmax;
use crate::model::{CLASS_NAMES, ClassProbabilities};

/// How many of the most COVID-like slices a summary names.
pub const TOP_SLICES: usize = 3;

/// One analysed slice of a study.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudySlice {
    /// The slice's id (a batch row, a file's index).
    pub id: usize,
    /// 1-based place in the study, head first.
    pub index: usize,
    /// Its class probabilities.
    pub probabilities: ClassProbabilities,
    /// Its lesion areas (percent of the slice), with a lesion model.
    pub areas: Option<LesionAreas>,
}

impl StudySlice {
    /// Slice `id`, `index`-th of its study, with the answer `report` gives.
    pub fn from_report(id: usize, index: usize, report: &SliceReport) -> Self {
        Self {
            id,
            index,
            probabilities: report.prediction.class_probabilities,
            areas: report.lesion_area_percent,
        }
    }
}

/// A slice named in a summary.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RankedSlice {
    /// The slice's id.
    pub id: usize,
    /// 1-based place in the study.
    pub slice: usize,
    /// Probability of COVID-19.
    pub p_covid: f32,
}

/// Lesion areas of one slice, in study order.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SliceBurden {
    /// 1-based place in the study.
    pub slice: usize,
    /// GGO, percent of the slice.
    pub ggo: f32,
    /// Consolidation, percent of the slice.
    pub consolidation: f32,
}

/// What a study's analysed slices say together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StudySummary {
    /// Slices with an answer.
    pub slices: usize,
    /// The class with the highest mean probability (`normal` | `pneumonia` | `covid`).
    pub predicted_class: &'static str,
    /// Mean of the slices' class probabilities.
    pub mean_probabilities: ClassProbabilities,
    /// How many slices each class won, in [`CLASS_NAMES`] order.
    pub slices_per_class: [usize; 3],
    /// Up to [`TOP_SLICES`] slices with the highest COVID-19 probability, highest first.
    pub most_covid: Vec<RankedSlice>,
    /// Lesion areas slice by slice, in study order (slices with a lesion model only).
    pub lesion_burden: Vec<SliceBurden>,
    /// Mean lesion areas over [`StudySummary::lesion_burden`]; `None` without any.
    pub mean_lesion_percent: Option<LesionAreas>,
    /// The slice with the largest GGO + consolidation area; `None` without lesion areas.
    pub largest_lesion_slice: Option<usize>,
}

/// Rolls up `slices` (any order); `None` when there is none.
pub fn summarise(slices: &[StudySlice]) -> Option<StudySummary> {
    if slices.is_empty() {
        return None;
    }
    let n = slices.len() as f32;
    let mut sum = [0f32; 3];
    let mut slices_per_class = [0usize; 3];
    for s in slices {
        let p = s.probabilities.as_array();
        for (total, v) in sum.iter_mut().zip(p) {
            *total += v;
        }
        slices_per_class[argmax(&p)] += 1;
    }
    let mean = sum.map(|v| v / n);

    let mut ranked: Vec<RankedSlice> = slices
        .iter()
        .map(|s| RankedSlice {
            id: s.id,
            slice: s.index,
            p_covid: s.probabilities.covid,
        })
        .collect();
    ranked.sort_by(|a, b| b.p_covid.total_cmp(&a.p_covid).then(a.slice.cmp(&b.slice)));
    ranked.truncate(TOP_SLICES);

    let mut lesion_burden: Vec<SliceBurden> = slices
        .iter()
        .filter_map(|s| {
            s.areas.map(|a| SliceBurden {
                slice: s.index,
                ggo: a.ggo,
                consolidation: a.consolidation,
            })
        })
        .collect();
    lesion_burden.sort_by_key(|b| b.slice);
    let mean_lesion_percent = (!lesion_burden.is_empty()).then(|| {
        let m = lesion_burden.len() as f32;
        LesionAreas {
            ggo: lesion_burden.iter().map(|b| b.ggo).sum::<f32>() / m,
            consolidation: lesion_burden.iter().map(|b| b.consolidation).sum::<f32>() / m,
        }
    });
    let largest_lesion_slice = lesion_burden
        .iter()
        .max_by(|a, b| {
            (a.ggo + a.consolidation)
                .total_cmp(&(b.ggo + b.consolidation))
                .then(b.slice.cmp(&a.slice))
        })
        .filter(|b| b.ggo + b.consolidation > 0.0)
        .map(|b| b.slice);

    Some(StudySummary {
        slices: slices.len(),
        predicted_class: CLASS_NAMES[argmax(&mean)],
        mean_probabilities: ClassProbabilities {
            normal: mean[0],
            pneumonia: mean[1],
            covid: mean[2],
        },
        slices_per_class,
        most_covid: ranked,
        lesion_burden,
        mean_lesion_percent,
        largest_lesion_slice,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice(id: usize, index: usize, p: [f32; 3], areas: Option<[f32; 2]>) -> StudySlice {
        StudySlice {
            id,
            index,
            probabilities: ClassProbabilities {
                normal: p[0],
                pneumonia: p[1],
                covid: p[2],
            },
            areas: areas.map(|[ggo, consolidation]| LesionAreas { ggo, consolidation }),
        }
    }

    #[test]
    fn a_study_rolls_up_its_slices() {
        let slices = [
            slice(10, 2, [0.6, 0.1, 0.3], Some([1.0, 0.0])),
            slice(11, 1, [0.2, 0.1, 0.7], Some([4.0, 2.0])),
            slice(12, 4, [0.5, 0.4, 0.1], Some([0.0, 0.0])),
            slice(13, 3, [0.1, 0.1, 0.8], None),
        ];
        let s = summarise(&slices).unwrap();
        assert_eq!(s.slices, 4);
        assert_eq!(s.predicted_class, "covid"); // mean 0.35 / 0.175 / 0.475
        assert!((s.mean_probabilities.normal - 0.35).abs() < 1e-6);
        assert!((s.mean_probabilities.covid - 0.475).abs() < 1e-6);
        assert_eq!(s.slices_per_class, [2, 0, 2]);
        let top: Vec<(usize, usize)> = s.most_covid.iter().map(|r| (r.id, r.slice)).collect();
        assert_eq!(top, vec![(13, 3), (11, 1), (10, 2)]);
        let order: Vec<usize> = s.lesion_burden.iter().map(|b| b.slice).collect();
        assert_eq!(order, vec![1, 2, 4]);
        let mean = s.mean_lesion_percent.unwrap();
        assert!(
            (mean.ggo - 5.0 / 3.0).abs() < 1e-6 && (mean.consolidation - 2.0 / 3.0).abs() < 1e-6
        );
        assert_eq!(s.largest_lesion_slice, Some(1));
    }

    #[test]
    fn empty_and_lesion_free_studies() {
        assert_eq!(summarise(&[]), None);
        let s = summarise(&[slice(0, 1, [0.9, 0.05, 0.05], Some([0.0, 0.0]))]).unwrap();
        assert_eq!(s.predicted_class, "normal");
        assert_eq!(s.largest_lesion_slice, None);
        let s = summarise(&[slice(0, 1, [0.9, 0.05, 0.05], None)]).unwrap();
        assert_eq!(s.mean_lesion_percent, None);
        assert!(s.lesion_burden.is_empty());
    }
}
