//! One training forward pass of the segmentation model: the five Mask R-CNN losses of one
//! image, as differentiable tensors.

use burn::prelude::*;

use super::config::SegmentationTrainingConfig;
use super::targets::{
    GroundTruth, all_anchors, mask_subset, mask_targets, roi_targets, rpn_targets,
};
use crate::box_ops::{Box4, BoxCoder};
use crate::config::SegmentationConfig;
use crate::error::ModelError;
use crate::mask_head::MaskHead;
use crate::model::{DetectorModules, ModelInput, SplitMix};
use crate::nn::losses::{bce_with_logits, cross_entropy, smooth_l1_sum};
use crate::readback::read_f32;
use crate::roi_heads::{RoiAlignMode, multiscale_roi_align};
use crate::rpn::{AnchorGenerator, RpnLevelOutput, select_proposals};

/// The trainable layers of the segmentation model.
#[derive(Module, Debug)]
pub struct SegmentationModules {
    /// Backbone, FPN, RPN head and box branch.
    pub detector: DetectorModules,
    /// Mask head and predictor.
    pub mask_head: MaskHead,
}

/// One image and its lesions.
#[derive(Debug, Clone)]
pub struct TrainingExample {
    /// The pre-processed image.
    pub input: ModelInput,
    /// Its lesions.
    pub truth: GroundTruth,
}

/// The five losses of one image, each `[1]`.
#[derive(Debug, Clone)]
pub struct LossTerms {
    /// RPN objectness (binary cross-entropy over the sampled anchors).
    pub rpn_objectness: Tensor<1>,
    /// RPN box regression (smooth L1 over positives / sampled anchors).
    pub rpn_box: Tensor<1>,
    /// RoI classification (cross-entropy over the sampled RoIs).
    pub roi_class: Tensor<1>,
    /// RoI box regression (smooth L1 over positives / sampled RoIs).
    pub roi_box: Tensor<1>,
    /// Mask binary cross-entropy over the positive RoIs' pixels.
    pub mask: Tensor<1>,
}

/// Names of the loss terms in [`LossTerms::values`] order.
pub const LOSS_NAMES: [&str; 5] = ["rpn_obj", "rpn_box", "roi_cls", "roi_box", "mask"];

impl LossTerms {
    /// Their sum, the loss that is minimised.
    pub fn total(&self) -> Tensor<1> {
        self.rpn_objectness.clone()
            + self.rpn_box.clone()
            + self.roi_class.clone()
            + self.roi_box.clone()
            + self.mask.clone()
    }

    /// The five values, in [`LOSS_NAMES`] order.
    pub async fn values(&self) -> Result<[f32; 5], ModelError> {
        let all = Tensor::cat(
            vec![
                self.rpn_objectness.clone(),
                self.rpn_box.clone(),
                self.roi_class.clone(),
                self.roi_box.clone(),
                self.mask.clone(),
            ],
            0,
        );
        let v = read_f32(all.without_autodiff()).await?;
        Ok([v[0], v[1], v[2], v[3], v[4]])
    }
}

fn ints(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

fn floats<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// The losses of `example` under `modules`; differentiable when the modules live on an
/// autodiff device. `rng` drives the anchor, RoI and mask sampling.
pub async fn segmentation_losses(
    modules: &SegmentationModules,
    model: &SegmentationConfig,
    train: &SegmentationTrainingConfig,
    anchors: &AnchorGenerator,
    example: &TrainingExample,
    rng: &mut SplitMix,
) -> Result<LossTerms, ModelError> {
    let input = &example.input;
    let truth = &example.truth;
    let detector = &modules.detector;
    let features = detector.features(input.tensor.clone());
    let device = features[0].device();

    // RPN: head outputs of every level, concatenated in anchor order.
    let levels: Vec<RpnLevelOutput> = features
        .iter()
        .map(|f| detector.rpn_head.forward(f.clone()))
        .collect();
    let sizes: Vec<[usize; 2]> = levels.iter().map(|l| l.size).collect();
    let objectness = Tensor::cat(levels.iter().map(|l| l.objectness.clone()).collect(), 0);
    let deltas = Tensor::cat(levels.iter().map(|l| l.deltas.clone()).collect(), 0);

    let every_anchor = all_anchors(anchors, &sizes, input.padded);
    let rpn = rpn_targets(&every_anchor, truth, train, rng);
    let sampled = rpn.sampled.len().max(1) as f32;
    let rpn_objectness = bce_with_logits(
        objectness.select(0, ints(rpn.sampled.clone(), &device)),
        floats(rpn.objectness.clone(), [rpn.sampled.len()], &device),
    );
    let positives = ints(rpn.sampled[..rpn.positives].to_vec(), &device);
    let rpn_box = smooth_l1_sum(
        deltas.select(0, positives),
        floats(rpn.regression.clone(), [rpn.positives, 4], &device),
        train.smooth_l1_beta,
    )
    .div_scalar(sampled);

    // Proposals (no gradient flows through their selection, as in torchvision).
    let detached = levels.iter().map(RpnLevelOutput::detach).collect();
    let proposals = select_proposals(
        detached,
        anchors,
        &model.detector.rpn,
        input.padded,
        input.resized,
    )
    .await?;

    // RoI heads.
    let roi = &model.detector.roi_heads;
    let coder = BoxCoder::new(roi.box_coder_weights);
    let targets = roi_targets(&proposals.boxes, truth, train, &coder, rng);
    let n_rois = targets.rois.len();
    let (class_logits, box_regression) = detector
        .box_outputs(
            &features,
            &targets.rois,
            input.resized,
            roi,
            RoiAlignMode::Device,
        )
        .await?;
    let roi_class = cross_entropy(class_logits, ints(targets.labels.clone(), &device));

    let p = targets.positives;
    let roi_box = if p == 0 {
        Tensor::zeros([1], &device)
    } else {
        let columns: Vec<i64> = targets.labels[..p]
            .iter()
            .flat_map(|&c| (0..4).map(move |k| 4 * c + k))
            .collect();
        let rows = box_regression.narrow(0, 0, p);
        let chosen = rows.gather(
            1,
            Tensor::from_data(TensorData::new(columns, [p, 4]), &device),
        );
        smooth_l1_sum(
            chosen,
            floats(targets.regression.clone(), [p, 4], &device),
            train.smooth_l1_beta,
        )
        .div_scalar(n_rois.max(1) as f32)
    };

    // Masks of a subset of the positives.
    let subset = mask_subset(&targets, train.mask_rois, rng);
    let mask = if subset.is_empty() {
        Tensor::zeros([1], &device)
    } else {
        let rois: Vec<Box4> = subset.iter().map(|&i| targets.rois[i]).collect();
        let matched: Vec<usize> = subset.iter().map(|&i| targets.matched[i]).collect();
        let labels: Vec<i64> = subset.iter().map(|&i| targets.labels[i]).collect();
        let pooled = multiscale_roi_align(
            &features,
            &rois,
            input.resized,
            roi.mask_pool_size,
            roi.sampling_ratio,
            RoiAlignMode::Device,
        )
        .await?;
        let logits = modules.mask_head.forward(pooled);
        let [r, classes, side, _] = logits.dims();
        let pixels = side * side;
        let index: Vec<i64> = labels
            .iter()
            .flat_map(|&c| std::iter::repeat_n(c, pixels))
            .collect();
        let own_class = logits
            .reshape([r, classes, pixels])
            .gather(
                1,
                Tensor::from_data(TensorData::new(index, [r, 1, pixels]), &device),
            )
            .reshape([r * pixels]);
        let target = mask_targets(truth, &rois, &matched, side);
        bce_with_logits(own_class, floats(target, [r * pixels], &device))
    };

    Ok(LossTerms {
        rpn_objectness,
        rpn_box,
        roi_class,
        roi_box,
        mask,
    })
}
