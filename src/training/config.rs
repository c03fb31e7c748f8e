//! Hyper-parameters of segmentation training. Defaults are the paper's recipe
//! (`../shared/docs/REFERENCE.md`) except where marked.

use burn::config::Config;

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
}
