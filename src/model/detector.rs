//! The detector both models share: ResNet body, FPN, RPN and the RoI box branch.

use burn::prelude::*;

use crate::backbone::ResNet;
use crate::box_ops::{Box4, BoxCoder};
use crate::config::{DetectionConfig, DetectorConfig, RoiHeadsConfig};
use crate::error::ModelError;
use crate::fpn::Fpn;
use crate::readback::read_f32;
use crate::roi_heads::{
    BoxHead, BoxPredictor, Detections, RoiAlignMode, multiscale_roi_align, postprocess_detections,
};
use crate::rpn::{AnchorGenerator, Proposals, RpnHead, select_proposals};
use crate::weights::WeightLoader;

/// The detector's learnable layers.
#[derive(Module, Debug)]
pub struct DetectorModules {
    /// `backbone.body`
    pub body: ResNet,
    /// `backbone.fpn`
    pub fpn: Fpn,
    /// `rpn.head`
    pub rpn_head: RpnHead,
    /// `roi_heads.box_head`
    pub box_head: BoxHead,
    /// `roi_heads.box_predictor`
    pub box_predictor: BoxPredictor,
}

impl DetectorModules {
    /// Backbone and FPN.
    ///
    /// # Shapes
    /// - `images`: `[1, 3, H, W]` -> pyramid levels `[1, C, H / 2^(l+2), W / 2^(l+2)]`
    pub fn features(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        self.fpn.forward(self.body.forward(images))
    }

    /// Box head and predictor on `rois` (resized-image frame) pooled from `features`, left on
    /// the device (differentiable with [`RoiAlignMode::Device`]).
    ///
    /// # Shapes
    /// - returns class logits `[R, K]` and box regression `[R, 4K]`
    pub async fn box_outputs(
        &self,
        features: &[Tensor<4>],
        rois: &[Box4],
        image_size: [usize; 2],
        roi: &RoiHeadsConfig,
        mode: RoiAlignMode,
    ) -> Result<(Tensor<2>, Tensor<2>), ModelError> {
        let pooled = multiscale_roi_align(
            features,
            rois,
            image_size,
            roi.box_pool_size,
            roi.sampling_ratio,
            mode,
        )
        .await?;
        Ok(self.box_predictor.forward(self.box_head.forward(pooled)))
    }
}

/// Raw outputs of the box branch for a set of proposals.
#[derive(Debug, Clone)]
pub struct BoxBranchOutput {
    /// `[R * K]` class logits, row-major `[R, K]`.
    pub class_logits: Vec<f32>,
    /// `[R * 4K]` box regression, row-major `[R, 4K]`.
    pub box_regression: Vec<f32>,
}

/// Layers, configuration and anchors of the detector.
#[derive(Debug)]
pub struct Detector {
    /// Learnable layers.
    pub modules: DetectorModules,
    /// Hyper-parameters.
    pub config: DetectorConfig,
    /// Cell anchors (the same on every level).
    pub anchors: AnchorGenerator,
    /// Where RoIAlign runs (host for the CPU backend, device otherwise).
    pub roi_align: RoiAlignMode,
}

impl Detector {
    /// Builds the detector from `backbone.*`, `rpn.*` and `roi_heads.box_*` tensors.
    pub fn load(w: &WeightLoader, config: &DetectorConfig) -> Result<Self, ModelError> {
        let body = ResNet::load(w, "backbone.body", &config.backbone).ok_or_else(|| {
            ModelError::UnsupportedConfig(format!(
                "ResNet depth {} (supported: 18, 34, 50)",
                config.backbone.depth
            ))
        })?;
        let stage_channels = config.backbone.stage_channels();
        let c = config.fpn_channels;
        let rpn = &config.rpn;
        let roi = &config.roi_heads;
        let pooled_features = c * roi.box_pool_size * roi.box_pool_size;

        let modules = DetectorModules {
            body,
            fpn: Fpn::load(w, "backbone.fpn", &stage_channels, c),
            rpn_head: RpnHead::load(w, "rpn.head", c, rpn.anchors_per_location()),
            box_head: BoxHead::load(
                w,
                "roi_heads.box_head",
                pooled_features,
                roi.representation_size,
            ),
            box_predictor: BoxPredictor::load(
                w,
                "roi_heads.box_predictor",
                roi.representation_size,
                roi.num_classes,
            ),
        };
        Ok(Self {
            modules,
            anchors: rpn.anchor_generator(),
            roi_align: RoiAlignMode::for_device(w.device()),
            config: config.clone(),
        })
    }

    /// Backbone and FPN.
    ///
    /// # Shapes
    /// - `images`: `[1, 3, H, W]` -> pyramid levels `[1, C, H / 2^(l+2), W / 2^(l+2)]`
    pub fn features(&self, images: Tensor<4>) -> Vec<Tensor<4>> {
        self.modules.features(images)
    }

    /// RPN head on every level and proposal selection.
    pub async fn proposals(
        &self,
        features: &[Tensor<4>],
        padded: [usize; 2],
        image_size: [usize; 2],
    ) -> Result<Proposals, ModelError> {
        let levels = features
            .iter()
            .map(|f| self.modules.rpn_head.forward(f.clone()))
            .collect();
        select_proposals(levels, &self.anchors, &self.config.rpn, padded, image_size).await
    }

    /// Box branch outputs for `proposals` (resized-image frame).
    pub async fn box_branch(
        &self,
        features: &[Tensor<4>],
        proposals: &[Box4],
        image_size: [usize; 2],
    ) -> Result<BoxBranchOutput, ModelError> {
        let (class_logits, box_regression) = self
            .modules
            .box_outputs(
                features,
                proposals,
                image_size,
                &self.config.roi_heads,
                self.roi_align,
            )
            .await?;
        Ok(BoxBranchOutput {
            class_logits: read_f32(class_logits).await?,
            box_regression: read_f32(box_regression).await?,
        })
    }

    /// Box branch and post-processing: ranked detections in the resized-image frame.
    pub async fn detect(
        &self,
        features: &[Tensor<4>],
        proposals: &[Box4],
        image_size: [usize; 2],
        detection: &DetectionConfig,
    ) -> Result<Detections, ModelError> {
        let out = self.box_branch(features, proposals, image_size).await?;
        Ok(self.postprocess(proposals, &out, image_size, detection))
    }

    /// Detection post-processing of box-branch outputs.
    pub fn postprocess(
        &self,
        proposals: &[Box4],
        out: &BoxBranchOutput,
        image_size: [usize; 2],
        detection: &DetectionConfig,
    ) -> Detections {
        let roi = &self.config.roi_heads;
        postprocess_detections(
            proposals,
            &out.class_logits,
            &out.box_regression,
            roi.num_classes,
            &BoxCoder::new(roi.box_coder_weights),
            image_size,
            detection,
        )
    }
}
