//! Hyper-parameters of COVID-CT-Mask-Net (Ter-Sarkisov, 2020) as Burn [`Config`]s.
//!
//! Every default is the value of the paper's code (`train_segmentation.py`,
//! `inference_segmentation.py`, `train_classifier.py`, `evaluate_classifier.py`), as measured on
//! the authors' implementation (see `../shared/oracle/README.md` §3).

use burn::config::Config;

use crate::backbone::BackboneConfig;
use crate::rpn::RpnConfig;

/// Box-branch post-processing: which detections survive and in what number.
#[derive(Config, Debug)]
pub struct DetectionConfig {
    /// Keep a candidate only if its class probability is strictly greater than this.
    pub score_thresh: f32,
    /// Per-class NMS IoU threshold (a box is suppressed when IoU is strictly greater).
    pub nms_thresh: f32,
    /// Number of detections kept per image, best first.
    pub detections_per_img: usize,
}

impl DetectionConfig {
    /// The segmentation model's inference settings: score > 0.05, NMS 0.5, top 100.
    pub fn segmentation() -> Self {
        Self::new(0.05, 0.5, 100)
    }

    /// The classifier's settings: score > -0.01 (keeps every candidate), NMS 0.75, top 256.
    pub fn classification() -> Self {
        Self::new(-0.01, 0.75, 256)
    }
}

/// RoI heads: multi-scale RoIAlign, the two-layer box head and the box predictor.
#[derive(Config, Debug)]
pub struct RoiHeadsConfig {
    /// Output side of the box RoIAlign.
    #[config(default = 7)]
    pub box_pool_size: usize,
    /// Output side of the mask RoIAlign.
    #[config(default = 14)]
    pub mask_pool_size: usize,
    /// Bilinear samples per bin side (legacy, non-aligned RoIAlign).
    #[config(default = 2)]
    pub sampling_ratio: usize,
    /// Width of the two fully connected layers of the box head (`fc6`, `fc7`).
    #[config(default = 128)]
    pub representation_size: usize,
    /// Classes including background: background, GGO, consolidation.
    #[config(default = 3)]
    pub num_classes: usize,
    /// Box coder weights `(wx, wy, ww, wh)` of the RoI box regression.
    #[config(default = "[10.0, 10.0, 5.0, 5.0]")]
    pub box_coder_weights: [f32; 4],
    /// Channels of each of the four 3x3 convolutions of the mask head.
    #[config(default = 256)]
    pub mask_head_channels: usize,
    /// Number of 3x3 convolutions in the mask head (`mask_fcn1..4`).
    #[config(default = 4)]
    pub mask_head_layers: usize,
}

/// Module S: the classifier that reads the ranked detections.
#[derive(Config, Debug)]
pub struct ClassifierConfig {
    /// Number of ranked detections S reads (the RoI batch of the classifier).
    #[config(default = 256)]
    pub num_detections: usize,
    /// Values per detection: score and the four raw box-regression outputs.
    #[config(default = 5)]
    pub values_per_detection: usize,
    /// Width of the two hidden layers (`fc_scores`, `fc_scores_2`).
    #[config(default = 1024)]
    pub hidden: usize,
    /// Output classes: 0 Control (normal), 1 common pneumonia, 2 COVID-19.
    #[config(default = 3)]
    pub num_classes: usize,
}

/// The shared detector: backbone, FPN, RPN and RoI box branch.
#[derive(Config, Debug)]
pub struct DetectorConfig {
    /// ResNet body.
    #[config(default = "BackboneConfig::new()")]
    pub backbone: BackboneConfig,
    /// Output channels of every FPN level.
    #[config(default = 256)]
    pub fpn_channels: usize,
    /// Region proposal network.
    #[config(default = "RpnConfig::new()")]
    pub rpn: RpnConfig,
    /// RoI heads.
    #[config(default = "RoiHeadsConfig::new()")]
    pub roi_heads: RoiHeadsConfig,
}

/// The lesion segmentation model (Mask R-CNN).
#[derive(Config, Debug)]
pub struct SegmentationConfig {
    /// Detector.
    #[config(default = "DetectorConfig::new()")]
    pub detector: DetectorConfig,
    /// Post-processing of the box branch.
    #[config(default = "DetectionConfig::segmentation()")]
    pub detections: DetectionConfig,
    /// Sigmoid probability above which a mask pixel belongs to the lesion. The authors
    /// commented out the sigmoid and cut the raw logits at 0.5 (a probability of about 0.62);
    /// we cut the probability at 0.5, i.e. the logit at 0, and say so.
    #[config(default = 0.5)]
    pub mask_threshold: f32,
}

impl SegmentationConfig {
    /// [`Self::mask_threshold`] as a logit: `ln(p / (1 - p))`.
    pub fn mask_logit_threshold(&self) -> f32 {
        let p = self.mask_threshold.clamp(1e-6, 1.0 - 1e-6);
        (p / (1.0 - p)).ln()
    }
}

/// COVID-CT-Mask-Net: the detector without masks, followed by module S.
#[derive(Config, Debug)]
pub struct ClassificationConfig {
    /// Detector.
    #[config(default = "DetectorConfig::new()")]
    pub detector: DetectorConfig,
    /// Post-processing that ranks the detections S reads.
    #[config(default = "DetectionConfig::classification()")]
    pub detections: DetectionConfig,
    /// Module S.
    #[config(default = "ClassifierConfig::new()")]
    pub classifier: ClassifierConfig,
}
