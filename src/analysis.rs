//! One slice in, everything a user sees out: the class answer from COVID-CT-Mask-Net, and the
//! lesions (boxes, masks, areas) from the segmentation model when its weights are present.
//!
//! When the two checkpoints share the whole detector bit for bit and the slice needs no
//! resizing (short side already 512), both models see the same input tensor, so one backbone,
//! FPN and RPN pass serves both; otherwise each model runs its own.

use burn::prelude::*;
use image::RgbImage;
use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::box_ops::rescale;
use crate::classifier::ranked_boxes;
use crate::config::{ClassificationConfig, DetectorConfig, SegmentationConfig};
use crate::error::ModelError;
use crate::importer::{DetectorSharing, StateDict, detector_sharing};
use crate::mask_head::paste_mask;
use crate::model::timing::{Stopwatch, settle};
use crate::model::{
    ClassificationModel, ModelInput, SegmentationModel, SlicePrediction, StageTimings,
    infer_detector_config,
};
use crate::pipeline::check_slice_shape;
use crate::transform::{TransformConfig, preprocess};

/// The setting of a weights file that gives the lesion score from which its lesions are drawn
/// and counted in the areas (see [`Analyzer::min_score`]); 0.5 when absent.
pub const LESION_MIN_SCORE_KEY: &str = "lesion_min_score";

/// The lesion score threshold a file's settings ask for, if valid (0 to 1).
pub fn lesion_min_score(metadata: &std::collections::BTreeMap<String, String>) -> Option<f32> {
    metadata
        .get(LESION_MIN_SCORE_KEY)
        .and_then(|v| v.parse::<f32>().ok())
        .filter(|v| (0.0..=1.0).contains(v))
}

/// Lesion class names by label (label 0 is background).
pub const LESION_NAMES: [&str; 3] = ["background", "ggo", "consolidation"];

/// One detected lesion, in original-image pixels.
#[derive(Debug, Clone, Serialize)]
pub struct Lesion {
    /// `ggo` or `consolidation`.
    pub label: &'static str,
    /// Class probability.
    pub score: f32,
    /// `[x1, y1, x2, y2]` in image pixels.
    #[serde(rename = "box")]
    pub bbox: [f32; 4],
}

/// Share of the slice covered by each lesion class, in percent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LesionAreas {
    /// Ground-glass opacity.
    pub ggo: f32,
    /// Consolidation.
    pub consolidation: f32,
}

/// Per-class union of the masks of the lesions shown.
#[derive(Debug, Clone)]
pub struct LesionMasks {
    /// `[H * W]` ground-glass opacity.
    pub ggo: Vec<bool>,
    /// `[H * W]` consolidation.
    pub consolidation: Vec<bool>,
}

/// Result of analysing one slice.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceReport {
    /// `[width, height]` of the slice.
    pub image_size: [usize; 2],
    /// The class answer.
    #[serde(flatten)]
    pub prediction: SlicePrediction,
    /// Lesions above the segmentation model's own score threshold, best first (absent without
    /// segmentation weights).
    pub detections: Option<Vec<Lesion>>,
    /// Lesion areas from the masks of detections scoring at least `min_score`.
    pub lesion_area_percent: Option<LesionAreas>,
    /// Whether fewer than 256 detections reached S and rows were repeated.
    pub classifier_input_padded: bool,
    /// Whether one detector pass served both models.
    pub shared_detector_pass: bool,
    /// Per-stage milliseconds (both models added up).
    pub timings_ms: StageTimings,
    /// What the reader should know about how the slice was read, in plain words (e.g. that a
    /// very large image was scaled down first); empty for most slices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// [`Lesion`] as read back from JSON, with an owned label.
#[derive(Deserialize)]
struct LesionText {
    label: String,
    score: f32,
    #[serde(rename = "box")]
    bbox: [f32; 4],
}

impl<'de> Deserialize<'de> for Lesion {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = LesionText::deserialize(deserializer)?;
        let label = LESION_NAMES[1..]
            .iter()
            .find(|n| **n == text.label)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown lesion label `{}`", text.label))
            })?;
        Ok(Self {
            label,
            score: text.score,
            bbox: text.bbox,
        })
    }
}

/// A report plus what is needed to draw it.
#[derive(Debug, Clone)]
pub struct SliceAnalysis {
    /// What is reported.
    pub report: SliceReport,
    /// `[256 * 5]` S input, rows `[score, tx, ty, tw, th]`.
    pub ranked_boxes: Vec<f32>,
    /// Masks of the lesions scoring at least `min_score` (with segmentation weights).
    pub masks: Option<LesionMasks>,
}

/// Both models, ready to analyse slices.
#[derive(Debug)]
pub struct Analyzer {
    /// COVID-CT-Mask-Net.
    pub classifier: ClassificationModel,
    /// The lesion model, if its weights were given.
    pub segmenter: Option<SegmentationModel>,
    /// How the two checkpoints' detectors relate.
    pub sharing: Option<DetectorSharing>,
    /// Input transform of both models.
    pub transform: TransformConfig,
    /// Lesions below this score are listed but not drawn or counted in areas.
    pub min_score: f32,
    device: Device,
}

impl Analyzer {
    /// Builds the models from a classifier checkpoint and, optionally, a segmentation one, each
    /// with its detector settings ([`crate::model::detector_config`] reads them from a file).
    /// One detector pass serves both only when their detector weights and settings are equal.
    pub fn new(
        classifier: &StateDict,
        classifier_detector: DetectorConfig,
        segmenter: Option<(&StateDict, DetectorConfig)>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let sharing = segmenter.as_ref().map(|(weights, detector)| {
            let same_settings = serde_json::to_value(detector).ok()
                == serde_json::to_value(&classifier_detector).ok();
            if same_settings {
                detector_sharing(classifier, weights)
            } else {
                DetectorSharing::Different
            }
        });
        let config = ClassificationConfig::new().with_detector(classifier_detector);
        let classifier_model = ClassificationModel::load(classifier, config, device)?;
        let segmenter_model = segmenter
            .map(|(weights, detector)| {
                SegmentationModel::load(weights, SegmentationConfig::new().with_detector(detector), device)
            })
            .transpose()?;
        Ok(Self {
            classifier: classifier_model,
            segmenter: segmenter_model,
            sharing,
            transform: TransformConfig::default(),
            min_score: 0.5,
            device: device.clone(),
        })
    }

    /// [`Self::new`] with the paper's detector settings and the backbone read from the tensors
    /// (the authors' files, the placeholder).
    pub fn with_paper_settings(
        classifier: &StateDict,
        segmenter: Option<&StateDict>,
        device: &Device,
    ) -> Result<Self, ModelError> {
        Self::new(
            classifier,
            infer_detector_config(classifier),
            segmenter.map(|s| (s, infer_detector_config(s))),
            device,
        )
    }

    /// Analyses one decoded slice.
    pub async fn analyze(&self, image: &RgbImage) -> Result<SliceAnalysis, ModelError> {
        check_slice_shape(image)?;
        let started = Instant::now();
        let original = [image.height() as usize, image.width() as usize];
        let cls_pre = preprocess(&crate::imaging::classifier_resize(image), &self.transform);
        let seg_pre = self
            .segmenter
            .as_ref()
            .map(|_| preprocess(image, &self.transform));
        let share = self.sharing == Some(DetectorSharing::Identical)
            && seg_pre.as_ref().is_some_and(|s| s.data == cls_pre.data);
        let cls_size = cls_pre.resized;
        let cls_input = ModelInput::new(
            cls_pre.data,
            cls_pre.padded,
            cls_pre.resized,
            cls_size,
            &self.device,
        );
        let mut timings = StageTimings {
            preprocess_ms: started.elapsed().as_secs_f64() * 1e3,
            ..StageTimings::default()
        };

        // Classifier, keeping its features and proposals for a shared pass.
        let detector = &self.classifier.detector;
        let mut watch = Stopwatch::start();
        let features = detector.features(cls_input.tensor.clone());
        settle(&self.device);
        timings.backbone_fpn_ms = watch.lap();
        let proposals = detector
            .proposals(&features, cls_input.padded, cls_input.resized)
            .await?;
        timings.rpn_ms = watch.lap();
        let ranked_detections = detector
            .detect(
                &features,
                &proposals.boxes,
                cls_input.resized,
                &self.classifier.config.detections,
            )
            .await?;
        timings.roi_heads_ms = watch.lap();
        let (ranked, padded) = ranked_boxes(
            &ranked_detections,
            self.classifier.config.classifier.num_detections,
        );
        let logits = self
            .classifier
            .classify_ranked(&ranked, &self.device)
            .await?;
        timings.classifier_ms = watch.lap();

        // Segmentation.
        let mut detections = None;
        let mut areas = None;
        let mut masks = None;
        if let (Some(segmenter), Some(seg_pre)) = (&self.segmenter, seg_pre) {
            let (seg_detections, mask_logits, resized) = if share {
                let resized = cls_input.resized;
                let d = segmenter
                    .detector
                    .detect(
                        &features,
                        &proposals.boxes,
                        resized,
                        &segmenter.config.detections,
                    )
                    .await?;
                timings.roi_heads_ms += watch.lap();
                let m = segmenter.mask_logits(&features, &d, resized).await?;
                (d, m, resized)
            } else {
                let input = ModelInput::new(
                    seg_pre.data,
                    seg_pre.padded,
                    seg_pre.resized,
                    original,
                    &self.device,
                );
                let r = segmenter.run(&input).await?;
                timings.backbone_fpn_ms += r.timings.backbone_fpn_ms;
                timings.rpn_ms += r.timings.rpn_ms;
                timings.roi_heads_ms += r.timings.roi_heads_ms;
                timings.masks_ms += r.timings.masks_ms;
                watch.lap();
                (r.detections, r.mask_logits, seg_pre.resized)
            };
            let m = 2 * segmenter.config.detector.roi_heads.mask_pool_size;
            let cut = segmenter.config.mask_logit_threshold();
            let mut union = LesionMasks {
                ggo: vec![false; original[0] * original[1]],
                consolidation: vec![false; original[0] * original[1]],
            };
            let mut lesions = Vec::with_capacity(seg_detections.len());
            for i in 0..seg_detections.len() {
                let bbox = rescale(&seg_detections.boxes[i], resized, original);
                let label = seg_detections.labels[i];
                let score = seg_detections.scores[i];
                lesions.push(Lesion {
                    label: LESION_NAMES[label.min(2)],
                    score,
                    bbox,
                });
                if score < self.min_score {
                    continue;
                }
                let pasted =
                    paste_mask(&mask_logits[i * m * m..(i + 1) * m * m], m, &bbox, original);
                let target = if label == 1 {
                    &mut union.ggo
                } else {
                    &mut union.consolidation
                };
                for (t, logit) in target.iter_mut().zip(pasted) {
                    *t |= logit > cut;
                }
            }
            let percent = |mask: &[bool]| {
                100.0 * mask.iter().filter(|&&v| v).count() as f32 / mask.len().max(1) as f32
            };
            areas = Some(LesionAreas {
                ggo: percent(&union.ggo),
                consolidation: percent(&union.consolidation),
            });
            detections = Some(lesions);
            masks = Some(union);
            timings.masks_ms += watch.lap();
        }

        Ok(SliceAnalysis {
            report: SliceReport {
                image_size: [original[1], original[0]],
                prediction: SlicePrediction::from_logits(logits),
                detections,
                lesion_area_percent: areas,
                classifier_input_padded: padded,
                shared_detector_pass: share,
                timings_ms: timings,
                notes: Vec::new(),
            },
            ranked_boxes: ranked,
            masks,
        })
    }
}
