//! COVID-CT-Mask-Net: the detector's ranked box predictions classified by module S.

use burn::prelude::*;
use serde::{Deserialize, Serialize};

use super::detector::Detector;
use super::input::ModelInput;
use super::timing::{StageTimings, Stopwatch, settle};
use crate::classifier::{ModuleS, ranked_boxes};
use crate::config::ClassificationConfig;
use crate::error::ModelError;
use crate::importer::StateDict;
use crate::readback::read_f32;
use crate::roi_heads::Detections;
use crate::weights::WeightLoader;

/// Class names in S's output order.
pub const CLASS_NAMES: [&str; 3] = ["normal", "pneumonia", "covid"];

/// [`SlicePrediction`] as read back from JSON, with an owned class name.
#[derive(Deserialize)]
struct PredictionText {
    predicted_class: String,
    class_probabilities: ClassProbabilities,
    s_logits: [f32; 3],
}

impl<'de> Deserialize<'de> for SlicePrediction {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = PredictionText::deserialize(deserializer)?;
        let predicted_class = CLASS_NAMES
            .iter()
            .find(|n| **n == text.predicted_class)
            .ok_or_else(|| {
                serde::de::Error::custom(format!("unknown class `{}`", text.predicted_class))
            })?;
        Ok(Self {
            predicted_class,
            class_probabilities: text.class_probabilities,
            s_logits: text.s_logits,
        })
    }
}

/// Detector + module S.
#[derive(Debug)]
pub struct ClassificationModel {
    /// Detector (no mask branch).
    pub detector: Detector,
    /// Module S.
    pub classifier: ModuleS,
    /// Hyper-parameters.
    pub config: ClassificationConfig,
}

/// The slice-level answer.
#[derive(Debug, Clone, Serialize)]
pub struct SlicePrediction {
    /// `normal`, `pneumonia` or `covid`.
    pub predicted_class: &'static str,
    /// Softmax of the logits.
    pub class_probabilities: ClassProbabilities,
    /// S's raw logits.
    pub s_logits: [f32; 3],
}

/// Probability of each class (softmax of S's logits; they sum to 1).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassProbabilities {
    /// Control: no pneumonia.
    pub normal: f32,
    /// Common (non-COVID) pneumonia.
    pub pneumonia: f32,
    /// COVID-19.
    pub covid: f32,
}

impl ClassProbabilities {
    /// In [`CLASS_NAMES`] order.
    pub fn as_array(&self) -> [f32; 3] {
        [self.normal, self.pneumonia, self.covid]
    }
}

/// Everything one classification pass produces.
#[derive(Debug, Clone)]
pub struct ClassificationResult {
    /// The answer.
    pub prediction: SlicePrediction,
    /// `[N * 5]` S input, rows `[score, tx, ty, tw, th]` best first.
    pub ranked_boxes: Vec<f32>,
    /// Whether fewer than N detections survived and rows were repeated.
    pub padded: bool,
    /// The ranked detections (resized frame).
    pub detections: Detections,
    /// Number of proposals the RPN produced.
    pub num_proposals: usize,
    /// Per-stage timings.
    pub timings: StageTimings,
}

impl SlicePrediction {
    /// Prediction from S's three logits.
    pub fn from_logits(logits: [f32; 3]) -> Self {
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps = logits.map(|l| (l - max).exp());
        let sum: f32 = exps.iter().sum();
        let [normal, pneumonia, covid] = exps.map(|e| e / sum);
        let class_probabilities = ClassProbabilities {
            normal,
            pneumonia,
            covid,
        };
        let best = (0..3)
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap_or(0);
        Self {
            predicted_class: CLASS_NAMES[best],
            class_probabilities,
            s_logits: logits,
        }
    }
}

impl ClassificationModel {
    /// Builds the model from a classifier checkpoint's tensors (a mask branch, if present, is
    /// ignored).
    pub fn load(
        weights: &StateDict,
        config: ClassificationConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let w = WeightLoader::new(weights, device);
        let detector = Detector::load(&w, &config.detector)?;
        let classifier = ModuleS::load(&w, "s2new", &config.classifier);
        w.finish(&["roi_heads.mask_"])?;
        Ok(Self {
            detector,
            classifier,
            config,
        })
    }

    /// S's logits for one `[N * 5]` ranked-box input.
    pub async fn classify_ranked(
        &self,
        ranked: &[f32],
        device: &Device,
    ) -> Result<[f32; 3], ModelError> {
        let n = self.config.classifier.num_detections;
        let v = self.config.classifier.values_per_detection;
        let input = Tensor::<3>::from_data(TensorData::new(ranked.to_vec(), [1, n, v]), device);
        let logits = read_f32(self.classifier.forward(input)).await?;
        match logits.as_slice() {
            [a, b, c] => Ok([*a, *b, *c]),
            other => Err(ModelError::UnsupportedConfig(format!(
                "module S must have 3 outputs, this one has {}",
                other.len()
            ))),
        }
    }

    /// Classifies one image.
    pub async fn run(&self, input: &ModelInput) -> Result<ClassificationResult, ModelError> {
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

        let (ranked, padded) = ranked_boxes(&detections, self.config.classifier.num_detections);
        let logits = self.classify_ranked(&ranked, &device).await?;
        timings.classifier_ms = watch.lap();

        Ok(ClassificationResult {
            prediction: SlicePrediction::from_logits(logits),
            ranked_boxes: ranked,
            padded,
            detections,
            num_proposals: proposals.boxes.len(),
            timings,
        })
    }
}
