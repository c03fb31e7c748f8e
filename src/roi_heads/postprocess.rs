//! Post-processing of the box branch: from per-proposal class logits and regressions to ranked
//! detections. The same steps serve both models; only [`DetectionConfig`] differs.

use crate::box_ops::{Box4, BoxCoder, area, batched_nms, clip};
use crate::config::DetectionConfig;

/// Ranked detections of one image, best first.
#[derive(Debug, Clone, Default)]
pub struct Detections {
    /// Decoded, clipped boxes in the resized-image frame.
    pub boxes: Vec<Box4>,
    /// Class probabilities (softmax over all classes).
    pub scores: Vec<f32>,
    /// Class labels, 1-based (0 is background and never returned).
    pub labels: Vec<usize>,
    /// Row of the proposal each detection comes from.
    pub proposal_index: Vec<usize>,
    /// The raw regression outputs `(tx, ty, tw, th)` of the detection's class for its proposal:
    /// not decoded, not divided by the coder weights. Module S reads these.
    pub raw_deltas: Vec<[f32; 4]>,
}

impl Detections {
    /// Number of detections.
    pub fn len(&self) -> usize {
        self.boxes.len()
    }

    /// Whether there is no detection.
    pub fn is_empty(&self) -> bool {
        self.boxes.is_empty()
    }
}

/// Softmax of one row, as `exp(x - max) / sum`.
fn softmax(row: &[f32]) -> Vec<f32> {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f32> = row.iter().map(|&v| (v - max).exp()).collect();
    let sum: f32 = exps.iter().sum();
    exps.iter().map(|&e| e / sum).collect()
}

/// Turns the box branch's outputs into detections.
///
/// Steps, as the authors' RoI heads: softmax; decode every class's box against its proposal
/// (coder weights `coder`); clip to `image_size`; drop the background column, flattening each
/// proposal into one candidate per class in proposal-major order; drop candidates with area
/// <= 0; keep scores strictly above the threshold; per-class NMS; keep the best
/// `detections_per_img`.
///
/// # Shapes
/// - `class_logits`: `[R * K]` row-major `[R, K]`
/// - `box_regression`: `[R * 4K]` row-major `[R, 4K]`
pub fn postprocess_detections(
    proposals: &[Box4],
    class_logits: &[f32],
    box_regression: &[f32],
    num_classes: usize,
    coder: &BoxCoder,
    image_size: [usize; 2],
    config: &DetectionConfig,
) -> Detections {
    let mut candidates = Detections::default();
    let [height, width] = image_size.map(|v| v as f32);

    for (r, proposal) in proposals.iter().enumerate() {
        let probabilities = softmax(&class_logits[r * num_classes..(r + 1) * num_classes]);
        let regression = &box_regression[r * 4 * num_classes..(r + 1) * 4 * num_classes];
        for class in 1..num_classes {
            let d = &regression[4 * class..4 * class + 4];
            let deltas = [d[0], d[1], d[2], d[3]];
            let b = clip(&coder.decode(&deltas, proposal), height, width);
            let score = probabilities[class];
            if area(&b) <= 0.0 || score <= config.score_thresh {
                continue;
            }
            candidates.boxes.push(b);
            candidates.scores.push(score);
            candidates.labels.push(class);
            candidates.proposal_index.push(r);
            candidates.raw_deltas.push(deltas);
        }
    }

    let mut keep = batched_nms(
        &candidates.boxes,
        &candidates.scores,
        &candidates.labels,
        config.nms_thresh,
    );
    keep.truncate(config.detections_per_img);

    Detections {
        boxes: keep.iter().map(|&i| candidates.boxes[i]).collect(),
        scores: keep.iter().map(|&i| candidates.scores[i]).collect(),
        labels: keep.iter().map(|&i| candidates.labels[i]).collect(),
        proposal_index: keep.iter().map(|&i| candidates.proposal_index[i]).collect(),
        raw_deltas: keep.iter().map(|&i| candidates.raw_deltas[i]).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one() {
        let p = softmax(&[1.0, 2.0, 3.0]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] > p[1] && p[1] > p[0]);
    }

    #[test]
    fn drops_background_empty_boxes_and_low_scores() {
        let proposals = [[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 50.0, 60.0]];
        // Proposal 0: GGO likely; proposal 1 is empty, so its boxes have area 0.
        let logits = [0.0, 3.0, -3.0, 0.0, 3.0, 0.0];
        let regression = [0.0; 24];
        let config = DetectionConfig::new(0.05, 0.5, 100);
        let d = postprocess_detections(
            &proposals,
            &logits,
            &regression,
            3,
            &BoxCoder::new([10.0, 10.0, 5.0, 5.0]),
            [100, 100],
            &config,
        );
        assert_eq!(d.labels, vec![1]);
        assert_eq!(d.proposal_index, vec![0]);
        assert_eq!(d.boxes, vec![[0.0, 0.0, 10.0, 10.0]]);
        // Consolidation on proposal 0 has probability e^-3 / (1 + e^3 + e^-3) < 0.05: dropped.
    }
}
