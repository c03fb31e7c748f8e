//! Matching one slice's detections to its lesions, and the AP table over many slices.

use super::ap::average_precision;
use crate::box_ops::{Box4, iou};

/// A lesion of the ground truth: its class and pixels (indices into the slice, row-major).
#[derive(Debug, Clone)]
pub struct TruthObject {
    /// 1 GGO, 2 consolidation.
    pub label: usize,
    /// Tight box.
    pub bbox: Box4,
    /// Row-major pixel indices.
    pub pixels: Vec<u32>,
}

/// A detection: class, score, box and mask membership `[H * W]`.
#[derive(Debug, Clone)]
pub struct PredictedObject {
    /// 1 GGO, 2 consolidation.
    pub label: usize,
    /// Class probability.
    pub score: f32,
    /// Box in slice pixels.
    pub bbox: Box4,
    /// `[H * W]` mask.
    pub mask: Vec<bool>,
}

/// One detection's IoUs with the objects of its class on its slice.
#[derive(Debug, Clone)]
struct Scored {
    score: f32,
    box_iou: Vec<f32>,
    mask_iou: Vec<f32>,
}

/// The IoU tables of one slice, per class (index = label).
#[derive(Debug, Clone, Default)]
pub struct SliceMatches {
    by_class: Vec<(usize, Vec<Scored>)>,
}

/// Computes every detection's box and mask IoU with the objects of its class.
pub fn match_slice(
    truth: &[TruthObject],
    predictions: &[PredictedObject],
    classes: usize,
) -> SliceMatches {
    let mut by_class = Vec::with_capacity(classes + 1);
    for label in 0..=classes {
        let objects: Vec<&TruthObject> = truth.iter().filter(|t| t.label == label).collect();
        let mut scored = Vec::new();
        for p in predictions.iter().filter(|p| p.label == label) {
            let predicted = p.mask.iter().filter(|&&m| m).count();
            let box_iou = objects.iter().map(|t| iou(&t.bbox, &p.bbox)).collect();
            let mask_iou = objects
                .iter()
                .map(|t| {
                    let inter = t.pixels.iter().filter(|&&i| p.mask[i as usize]).count();
                    let union = predicted + t.pixels.len() - inter;
                    if union == 0 {
                        0.0
                    } else {
                        inter as f32 / union as f32
                    }
                })
                .collect();
            scored.push(Scored {
                score: p.score,
                box_iou,
                mask_iou,
            });
        }
        scored.sort_by(|a, b| b.score.total_cmp(&a.score));
        by_class.push((objects.len(), scored));
    }
    SliceMatches { by_class }
}

/// Greedy matching at threshold `t`: `(score, true positive)` per detection.
fn greedy(objects: usize, scored: &[Scored], t: f32, masks: bool) -> Vec<(f32, bool)> {
    let mut taken = vec![false; objects];
    scored
        .iter()
        .map(|s| {
            let ious = if masks { &s.mask_iou } else { &s.box_iou };
            let mut best: Option<(usize, f32)> = None;
            for (j, &q) in ious.iter().enumerate() {
                if !taken[j] && q >= t && best.is_none_or(|(_, b)| q > b) {
                    best = Some((j, q));
                }
            }
            if let Some((j, _)) = best {
                taken[j] = true;
            }
            (s.score, best.is_some())
        })
        .collect()
}

/// AP figures of one class.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ClassAp {
    /// Class label.
    pub label: usize,
    /// Objects of the class over all slices.
    pub objects: usize,
    /// Detections of the class over all slices.
    pub detections: usize,
    /// Box AP at IoU 0.5.
    pub box_ap50: Option<f64>,
    /// Box AP averaged over IoU 0.50:0.95.
    pub box_ap: Option<f64>,
    /// Mask AP at IoU 0.5.
    pub mask_ap50: Option<f64>,
    /// Mask AP averaged over IoU 0.50:0.95.
    pub mask_ap: Option<f64>,
}

/// Accumulates slices and reports AP per class.
#[derive(Debug, Clone, Default)]
pub struct SegmentationEval {
    slices: Vec<SliceMatches>,
}

impl SegmentationEval {
    /// Adds one slice's matches.
    pub fn add(&mut self, slice: SliceMatches) {
        self.slices.push(slice);
    }

    /// Number of slices added.
    pub fn len(&self) -> usize {
        self.slices.len()
    }

    /// Whether no slice was added.
    pub fn is_empty(&self) -> bool {
        self.slices.is_empty()
    }

    fn ap(&self, label: usize, t: f32, masks: bool) -> Option<f64> {
        let mut ranked = Vec::new();
        let mut objects = 0;
        for slice in &self.slices {
            if let Some((n, scored)) = slice.by_class.get(label) {
                objects += n;
                ranked.extend(greedy(*n, scored, t, masks));
            }
        }
        average_precision(&ranked, objects)
    }

    fn mean_over_thresholds(&self, label: usize, masks: bool) -> Option<f64> {
        let values: Option<Vec<f64>> = (0..10)
            .map(|k| self.ap(label, 0.5 + 0.05 * k as f32, masks))
            .collect();
        values.map(|v| v.iter().sum::<f64>() / v.len() as f64)
    }

    /// AP figures of `label`.
    pub fn class(&self, label: usize) -> ClassAp {
        let count = |f: fn(&(usize, Vec<Scored>)) -> usize| -> usize {
            self.slices
                .iter()
                .filter_map(|s| s.by_class.get(label))
                .map(f)
                .sum()
        };
        ClassAp {
            label,
            objects: count(|c| c.0),
            detections: count(|c| c.1.len()),
            box_ap50: self.ap(label, 0.5, false),
            box_ap: self.mean_over_thresholds(label, false),
            mask_ap50: self.ap(label, 0.5, true),
            mask_ap: self.mean_over_thresholds(label, true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x: usize, y: usize, side: usize, width: usize) -> (Box4, Vec<u32>, Vec<bool>) {
        let mut pixels = Vec::new();
        let mut mask = vec![false; width * width];
        for yy in y..y + side {
            for xx in x..x + side {
                pixels.push((yy * width + xx) as u32);
                mask[yy * width + xx] = true;
            }
        }
        let b = [x as f32, y as f32, (x + side) as f32, (y + side) as f32];
        (b, pixels, mask)
    }

    #[test]
    fn matches_each_object_once_and_reports_ap() {
        let w = 20;
        let (b1, p1, m1) = square(0, 0, 4, w);
        let (b2, p2, _) = square(10, 10, 4, w);
        let (b3, _, m3) = square(10, 10, 2, w); // a quarter of object 2: IoU 0.25
        let truth = vec![
            TruthObject {
                label: 1,
                bbox: b1,
                pixels: p1,
            },
            TruthObject {
                label: 1,
                bbox: b2,
                pixels: p2,
            },
        ];
        let predictions = vec![
            PredictedObject {
                label: 1,
                score: 0.9,
                bbox: b1,
                mask: m1.clone(),
            },
            // A duplicate of the first: a false positive.
            PredictedObject {
                label: 1,
                score: 0.8,
                bbox: b1,
                mask: m1,
            },
            PredictedObject {
                label: 1,
                score: 0.7,
                bbox: b3,
                mask: m3,
            },
            // Wrong class: no effect on class 1.
            PredictedObject {
                label: 2,
                score: 0.95,
                bbox: b2,
                mask: vec![true; w * w],
            },
        ];
        let mut eval = SegmentationEval::default();
        eval.add(match_slice(&truth, &predictions, 2));
        let c1 = eval.class(1);
        assert_eq!((c1.objects, c1.detections), (2, 3));
        // At 0.5: TP, FP, FP against 2 objects -> precision 1 up to recall 0.5.
        let expected = 51.0 / 101.0;
        assert!((c1.box_ap50.unwrap() - expected).abs() < 1e-9);
        assert!((c1.mask_ap50.unwrap() - expected).abs() < 1e-9);
        // Exact boxes and masks: the same at every threshold.
        assert!((c1.box_ap.unwrap() - expected).abs() < 1e-9);
        // Class 2 has no object: undefined.
        let c2 = eval.class(2);
        assert_eq!((c2.objects, c2.detections, c2.box_ap50), (0, 1, None));
        // At IoU 0.25 the small box would match, but no threshold goes that low.
        assert!(c1.mask_ap.unwrap() < 0.51);
    }
}
