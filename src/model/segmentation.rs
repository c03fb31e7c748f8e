//! The lesion segmentation model: detector + mask branch.

use burn::prelude::*;

use super::detector::Detector;
use super::input::ModelInput;
use super::timing::{StageTimings, Stopwatch, settle};
use crate::box_ops::{Box4, rescale};
use crate::config::SegmentationConfig;
use crate::error::ModelError;
use crate::importer::StateDict;
use crate::mask_head::{MaskHead, paste_mask};
use crate::readback::read_f32;
use crate::roi_heads::{Detections, multiscale_roi_align};
use crate::rpn::Proposals;
use crate::weights::WeightLoader;

/// Mask R-CNN for ground-glass opacity (label 1) and consolidation (label 2).
#[derive(Debug)]
pub struct SegmentationModel {
    /// Shared detector.
    pub detector: Detector,
    /// Mask head and predictor.
    pub mask_head: MaskHead,
    /// Hyper-parameters.
    pub config: SegmentationConfig,
}

/// Everything one segmentation pass produces.
#[derive(Debug, Clone)]
pub struct SegmentationResult {
    /// RPN proposals (resized frame).
    pub proposals: Proposals,
    /// Detections in the resized frame (the mask branch's RoIs).
    pub detections: Detections,
    /// Detection boxes in original-image pixels.
    pub boxes: Vec<Box4>,
    /// `[D * 28 * 28]` mask logits of each detection's class, before pasting.
    pub mask_logits: Vec<f32>,
    /// Side of each mask (28).
    pub mask_size: usize,
    /// `[H, W]` of the original image.
    pub image_size: [usize; 2],
    /// Per-stage timings.
    pub timings: StageTimings,
}

impl SegmentationResult {
    /// Pasted mask logits of detection `i` at the original resolution, `[H * W]` row-major,
    /// as torchvision's `paste_masks_in_image` (0 outside the expanded box).
    /// These are logits: the authors commented out the sigmoid, and their inference script
    /// thresholds these logits at 0.5 (a probability of about 0.62); a probability cut at 0.5
    /// is a logit cut at 0.
    pub fn pasted_mask(&self, i: usize) -> Vec<f32> {
        let m = self.mask_size;
        paste_mask(
            &self.mask_logits[i * m * m..(i + 1) * m * m],
            m,
            &self.boxes[i],
            self.image_size,
        )
    }
}

impl SegmentationModel {
    /// Builds the model from a segmentation checkpoint's tensors. A classifier's module S, if
    /// present in the file, is ignored; anything else missing, extra or mis-shaped is an error.
    pub fn load(
        weights: &StateDict,
        config: SegmentationConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let w = WeightLoader::new(weights, device);
        let detector = Detector::load(&w, &config.detector)?;
        let mask_head = MaskHead::load(
            &w,
            "roi_heads",
            config.detector.fpn_channels,
            &config.detector.roi_heads,
        );
        w.finish(&["s2new."])?;
        Ok(Self {
            detector,
            mask_head,
            config,
        })
    }

    /// Detects and segments lesions in one image.
    pub async fn run(&self, input: &ModelInput) -> Result<SegmentationResult, ModelError> {
        let mut timings = StageTimings::default();
        let mut watch = Stopwatch::start();
        let device = input.tensor.device();

        let features = self.detector.features(input.tensor.clone());
        settle(&device);
        timings.backbone_fpn_ms = watch.lap();

        let proposals = self
            .detector
            .proposals(&features, input.padded, input.resized)
            .await?;
        timings.rpn_ms = watch.lap();

        let detections = self
            .detector
            .detect(
                &features,
                &proposals.boxes,
                input.resized,
                &self.config.detections,
            )
            .await?;
        timings.roi_heads_ms = watch.lap();

        let mask_logits = self
            .mask_logits(&features, &detections, input.resized)
            .await?;
        timings.masks_ms = watch.lap();

        let boxes = detections
            .boxes
            .iter()
            .map(|b| rescale(b, input.resized, input.original))
            .collect();
        Ok(SegmentationResult {
            proposals,
            detections,
            boxes,
            mask_logits,
            mask_size: 2 * self.config.detector.roi_heads.mask_pool_size,
            image_size: input.original,
            timings,
        })
    }

    /// Mask logits `[D * 28 * 28]` of each detection's own class.
    pub async fn mask_logits(
        &self,
        features: &[Tensor<4>],
        detections: &Detections,
        image_size: [usize; 2],
    ) -> Result<Vec<f32>, ModelError> {
        if detections.is_empty() {
            return Ok(Vec::new());
        }
        let roi = &self.config.detector.roi_heads;
        let pooled = multiscale_roi_align(
            features,
            &detections.boxes,
            image_size,
            roi.mask_pool_size,
            roi.sampling_ratio,
            self.detector.roi_align,
        )
        .await?;
        let logits = self.mask_head.forward(pooled);
        let [_, classes, h, w] = logits.dims();
        let all = read_f32(logits).await?;

        let mut selected = Vec::with_capacity(detections.len() * h * w);
        for (i, &label) in detections.labels.iter().enumerate() {
            let start = (i * classes + label) * h * w;
            selected.extend_from_slice(&all[start..start + h * w]);
        }
        Ok(selected)
    }
}
