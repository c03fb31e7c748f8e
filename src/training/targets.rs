//! Training targets on the host: which anchors and proposals are lesions, background or
//! ignored, their regression targets, and the mask targets of positive proposals.

use super::config::SegmentationTrainingConfig;
use super::instances::Instance;
use super::matcher::{Match, Matcher, Sampled, choose, sample};
use crate::box_ops::{Box4, BoxCoder};
use crate::model::SplitMix;
use crate::roi_heads::{HostFeatureMap, roi_align_host};
use crate::rpn::AnchorGenerator;

/// The lesions of one training image.
#[derive(Debug, Clone)]
pub struct GroundTruth {
    /// Boxes in the resized-image frame (the network's).
    pub boxes: Vec<Box4>,
    /// Classes: 1 GGO, 2 consolidation.
    pub labels: Vec<usize>,
    /// Instance masks at the original resolution, `[H0 * W0]` each.
    pub masks: Vec<Vec<f32>>,
    /// `[H0, W0]` of the masks.
    pub mask_size: [usize; 2],
    /// Original pixels per resized pixel (`1 / resize factor`).
    pub mask_scale: f32,
}

impl GroundTruth {
    /// Ground truth from instances found at the original resolution `size`, for an image
    /// resized by `resize_factor`.
    pub fn new(instances: Vec<Instance>, size: [usize; 2], resize_factor: f32) -> Self {
        let mut truth = Self {
            boxes: Vec::new(),
            labels: Vec::new(),
            masks: Vec::new(),
            mask_size: size,
            mask_scale: 1.0 / resize_factor,
        };
        for instance in instances {
            truth.boxes.push(instance.bbox.map(|v| v * resize_factor));
            truth.labels.push(instance.label);
            truth.masks.push(instance.mask);
        }
        truth
    }
}

/// Every anchor of every level, in the order the RPN head's outputs are concatenated
/// (level, then `(y, x, a)`).
pub fn all_anchors(
    generator: &AnchorGenerator,
    level_sizes: &[[usize; 2]],
    padded: [usize; 2],
) -> Vec<Box4> {
    let mut anchors = Vec::new();
    for &[h, w] in level_sizes {
        let stride = [padded[0] / h, padded[1] / w];
        for index in 0..h * w * generator.num_anchors() {
            anchors.push(generator.anchor_at(index, w, stride));
        }
    }
    anchors
}

/// The RPN's sampled anchors and their targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RpnTargets {
    /// Sampled anchors (positives first) as indices into [`all_anchors`].
    pub sampled: Vec<i64>,
    /// Objectness target of each sampled anchor (1 lesion, 0 background).
    pub objectness: Vec<f32>,
    /// Number of positives (the first entries of `sampled`).
    pub positives: usize,
    /// `[positives * 4]` regression targets (coder weights 1).
    pub regression: Vec<f32>,
}

/// Matches anchors to the lesions (with low-quality matches) and samples the RPN batch.
pub fn rpn_targets(
    anchors: &[Box4],
    truth: &GroundTruth,
    config: &SegmentationTrainingConfig,
    rng: &mut SplitMix,
) -> RpnTargets {
    let matcher = Matcher {
        high: config.rpn_fg_iou,
        low: config.rpn_bg_iou,
        allow_low_quality: true,
    };
    let matches = matcher.assign(&truth.boxes, anchors);
    let Sampled { positive, negative } = sample(
        &matches,
        config.rpn_batch,
        config.rpn_positive_fraction,
        rng,
    );
    let coder = BoxCoder::new([1.0; 4]);
    let regression = positive
        .iter()
        .flat_map(|&i| match matches[i] {
            Match::Object(g) => coder.encode(&truth.boxes[g], &anchors[i]),
            _ => unreachable!("positives are matched"),
        })
        .collect();
    let mut objectness = vec![1.0; positive.len()];
    objectness.resize(positive.len() + negative.len(), 0.0);
    RpnTargets {
        positives: positive.len(),
        sampled: positive
            .iter()
            .chain(&negative)
            .map(|&i| i as i64)
            .collect(),
        objectness,
        regression,
    }
}

/// The RoI heads' sampled proposals and their targets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoiTargets {
    /// Sampled RoIs (positives first), resized-image frame.
    pub rois: Vec<Box4>,
    /// Class of each RoI (0 background).
    pub labels: Vec<i64>,
    /// Number of positives (the first entries of `rois`).
    pub positives: usize,
    /// `[positives * 4]` regression targets (the RoI coder's weights).
    pub regression: Vec<f32>,
    /// Ground-truth instance of each positive.
    pub matched: Vec<usize>,
}

/// Matches proposals (with the ground-truth boxes added, as torchvision does) to the lesions
/// and samples the RoI batch.
pub fn roi_targets(
    proposals: &[Box4],
    truth: &GroundTruth,
    config: &SegmentationTrainingConfig,
    coder: &BoxCoder,
    rng: &mut SplitMix,
) -> RoiTargets {
    let mut candidates = proposals.to_vec();
    candidates.extend_from_slice(&truth.boxes);
    let matcher = Matcher {
        high: config.roi_fg_iou,
        low: config.roi_bg_iou,
        allow_low_quality: false,
    };
    let matches = matcher.assign(&truth.boxes, &candidates);
    let Sampled { positive, negative } = sample(
        &matches,
        config.roi_batch,
        config.roi_positive_fraction,
        rng,
    );
    let mut targets = RoiTargets {
        positives: positive.len(),
        ..RoiTargets::default()
    };
    for &i in &positive {
        let Match::Object(g) = matches[i] else {
            unreachable!("positives are matched")
        };
        targets.rois.push(candidates[i]);
        targets.labels.push(truth.labels[g] as i64);
        targets
            .regression
            .extend(coder.encode(&truth.boxes[g], &candidates[i]));
        targets.matched.push(g);
    }
    for &i in &negative {
        targets.rois.push(candidates[i]);
        targets.labels.push(0);
    }
    targets
}

/// Positive RoIs used by the mask loss: at most `limit`, a random subset, as indices into the
/// positives of `targets`.
pub fn mask_subset(targets: &RoiTargets, limit: usize, rng: &mut SplitMix) -> Vec<usize> {
    let mut chosen: Vec<usize> = (0..targets.positives).collect();
    choose(&mut chosen, limit, rng);
    chosen.sort_unstable();
    chosen
}

/// Mask targets `[R * side * side]`: each RoI's ground-truth instance mask pooled onto the RoI
/// with RoIAlign (torchvision's `project_masks_on_boxes`; soft values in `[0, 1]`).
pub fn mask_targets(
    truth: &GroundTruth,
    rois: &[Box4],
    matched: &[usize],
    side: usize,
) -> Vec<f32> {
    let [h, w] = truth.mask_size;
    let mut out = vec![0.0; rois.len() * side * side];
    let mut by_instance: Vec<Vec<usize>> = vec![Vec::new(); truth.masks.len()];
    for (r, &g) in matched.iter().enumerate() {
        by_instance[g].push(r);
    }
    for (g, members) in by_instance.iter().enumerate() {
        if members.is_empty() {
            continue;
        }
        let map = HostFeatureMap::from_chw(&truth.masks[g], 1, h, w);
        let boxes: Vec<Box4> = members.iter().map(|&r| rois[r]).collect();
        let pooled = roi_align_host(&map, &boxes, truth.mask_scale, side, 2);
        for (k, &r) in members.iter().enumerate() {
            out[r * side * side..(r + 1) * side * side]
                .copy_from_slice(&pooled[k * side * side..(k + 1) * side * side]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn truth() -> GroundTruth {
        // One 8x8 lesion at (4, 4) in a 16x16 slice, resized by 2.
        let mut mask = vec![0.0; 256];
        for y in 4..12 {
            for x in 4..12 {
                mask[y * 16 + x] = 1.0;
            }
        }
        let instance = Instance {
            label: 2,
            bbox: [4.0, 4.0, 12.0, 12.0],
            mask,
            pixels: 64,
        };
        GroundTruth::new(vec![instance], [16, 16], 2.0)
    }

    #[test]
    fn rpn_targets_find_the_lesion_anchors() {
        let truth = truth();
        assert_eq!(truth.boxes, vec![[8.0, 8.0, 24.0, 24.0]]);
        let generator = AnchorGenerator::new(&[16.0], &[1.0]);
        // One level, 4x4 locations, stride 8 on a 32x32 input.
        let anchors = all_anchors(&generator, &[[4, 4]], [32, 32]);
        assert_eq!(anchors.len(), 16);
        assert_eq!(anchors[5], [0.0, 0.0, 16.0, 16.0]);
        let config = SegmentationTrainingConfig::new()
            .with_rpn_batch(8)
            .with_rpn_positive_fraction(0.5);
        let t = rpn_targets(&anchors, &truth, &config, &mut SplitMix::new(1));
        // The anchor centred on the lesion (location (2, 2) -> [8, 8, 24, 24]) is the only
        // positive, with zero regression.
        assert_eq!(t.positives, 1);
        assert_eq!(t.sampled[0], 10);
        assert_eq!(t.regression, vec![0.0; 4]);
        assert_eq!(t.sampled.len(), 8);
        assert_eq!(t.objectness.iter().filter(|&&v| v == 1.0).count(), 1);
    }

    #[test]
    fn roi_targets_add_the_truth_and_mask_targets_pool_it() {
        let truth = truth();
        let config = SegmentationTrainingConfig::new().with_roi_batch(4);
        let coder = BoxCoder::new([10.0, 10.0, 5.0, 5.0]);
        let proposals = [[40.0, 40.0, 50.0, 50.0], [8.0, 8.0, 16.0, 16.0]];
        let t = roi_targets(&proposals, &truth, &config, &coder, &mut SplitMix::new(2));
        // Only the added ground-truth box reaches IoU 0.75; the far proposal is background and
        // the quarter-size one (IoU 0.25) too.
        assert_eq!(t.positives, 1);
        assert_eq!(t.rois[0], [8.0, 8.0, 24.0, 24.0]);
        assert_eq!(t.labels, vec![2, 0, 0]);
        assert_eq!(t.regression, vec![0.0; 4]);

        // Inside the lesion 1; the last bins sample between its last row/column and the
        // background beyond (bilinear, pixel corners at integers as torchvision's legacy
        // RoIAlign).
        let targets = mask_targets(&truth, &t.rois[..1], &t.matched, 4);
        assert_eq!(targets[0], 1.0);
        assert_eq!(targets[5], 1.0);
        assert_eq!(targets[3], 0.75);
        assert_eq!(targets[15], 0.5625);
        // A RoI over the lesion's left half and the background to its left.
        let half = mask_targets(&truth, &[[0.0, 8.0, 16.0, 24.0]], &[0], 2);
        assert_eq!(half, vec![0.0, 1.0, 0.0, 1.0]);
    }
}
