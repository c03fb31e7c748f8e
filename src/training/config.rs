//! Hyper-parameters of segmentation training. Defaults are the paper's recipe
//! (`../shared/docs/REFERENCE.md`) except where marked.

use burn::config::Config;

use crate::transform::{TransformConfig, resize_plan};

/// Training the Mask R-CNN (detector + mask head).
#[derive(Config, Debug)]
pub struct SegmentationTrainingConfig {
    /// Anchors per image in the RPN loss.
    #[config(default = 256)]
    pub rpn_batch: usize,
    /// Largest share of positives among them.
    #[config(default = 0.75)]
    pub rpn_positive_fraction: f32,
    /// Anchor IoU at or above which an anchor is a lesion.
    #[config(default = 0.7)]
    pub rpn_fg_iou: f32,
    /// Anchor IoU below which an anchor is background.
    #[config(default = 0.3)]
    pub rpn_bg_iou: f32,
    /// Proposals per image in the RoI losses.
    #[config(default = 256)]
    pub roi_batch: usize,
    /// Largest share of positives among them.
    #[config(default = 0.75)]
    pub roi_positive_fraction: f32,
    /// Proposal IoU at or above which a proposal is a lesion.
    #[config(default = 0.75)]
    pub roi_fg_iou: f32,
    /// Proposal IoU below which a proposal is background (between: ignored).
    #[config(default = 0.5)]
    pub roi_bg_iou: f32,
    /// Not in the paper: positive RoIs per image in the mask loss, a random subset (the mask
    /// head over all 192 possible positives costs most of a CPU step).
    #[config(default = 32)]
    pub mask_rois: usize,
    /// Not in the paper: lesion regions smaller than this many pixels (of the original slice)
    /// are not instances (label noise of the masks; the evaluation uses the same rule).
    #[config(default = 16)]
    pub min_instance_pixels: usize,
    /// Adam learning rate. The paper fine-tunes from ImageNet weights at 1e-5; from scratch this
    /// project uses 1e-4.
    #[config(default = 1e-4)]
    pub learning_rate: f64,
    /// Adam weight decay (L2 added to the gradient, as PyTorch's Adam).
    #[config(default = 1e-3)]
    pub weight_decay: f64,
    /// Not in the paper: probability of a left-right mirror of each training slice.
    #[config(default = 0.5)]
    pub flip_probability: f32,
    /// Seed of sampling, augmentation and order.
    #[config(default = 0)]
    pub seed: u64,
    /// Smooth-L1 transition point of both box losses (torchvision: 1/9).
    #[config(default = 0.111_111_11)]
    pub smooth_l1_beta: f32,
    /// Not in the paper: `true` trains each slice at its own pixel size (times the jitter)
    /// instead of resizing its shorter side to 512. The lung-cropped MedSeg slices then show
    /// lesions at the pixel size they have in a full 512 x 512 slice, which is what the page
    /// feeds the model at the paper's transform; it also halves the work per step.
    #[config(default = false)]
    pub native_scale: bool,
    /// Not in the paper: each slice's resize factor is drawn log-uniformly from
    /// `[1 / (1 + j), 1 + j]` around its base size (0 = no jitter).
    #[config(default = 0.0)]
    pub scale_jitter: f32,
}

impl SegmentationTrainingConfig {
    /// The input transform of one `h x w` training slice, `unit` a uniform draw in `[0, 1)`
    /// that picks the jittered scale.
    pub fn transform_for(&self, base: &TransformConfig, h: usize, w: usize, unit: f32) -> TransformConfig {
        let j = self.scale_jitter.max(0.0) as f64;
        let jitter = if j > 0.0 {
            let span = (1.0 + j).ln();
            ((unit as f64 * 2.0 - 1.0) * span).exp()
        } else {
            1.0
        };
        if self.native_scale {
            return base.scaled_by(h, w, jitter);
        }
        let (paper_scale, _, _) = resize_plan(h, w, base);
        if jitter == 1.0 {
            base.clone()
        } else {
            base.scaled_by(h, w, paper_scale * jitter)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_for_native_and_jittered_scales() {
        let base = TransformConfig::default();
        let paper = SegmentationTrainingConfig::new();
        assert_eq!(paper.transform_for(&base, 300, 400, 0.9), base);
        let native = SegmentationTrainingConfig::new().with_native_scale(true);
        assert_eq!(resize_plan(300, 400, &native.transform_for(&base, 300, 400, 0.9)).1, 300);
        let jittered = native.clone().with_scale_jitter(0.25);
        let (low, _, _) = resize_plan(300, 400, &jittered.transform_for(&base, 300, 400, 0.0));
        let (high, _, _) = resize_plan(300, 400, &jittered.transform_for(&base, 300, 400, 0.999));
        assert!((low - 0.8).abs() < 0.01 && (high - 1.25).abs() < 0.01, "{low} {high}");
        let (mid, _, _) = resize_plan(300, 400, &jittered.transform_for(&base, 300, 400, 0.5));
        assert!((mid - 1.0).abs() < 1e-9);
    }
}
