//! "heads" fine-tuning: module S alone, on cached detector outputs.
//!
//! In this mode the detector never changes, so each image's `[256, 5]` ranked boxes are
//! computed once ([`crate::model::ClassificationModel::run`]) and every epoch only runs S.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use super::config::FinetuneConfig;
use crate::classifier::ModuleS;
use crate::config::ClassifierConfig;
use crate::error::ModelError;
use crate::evaluation::{ConfusionMatrix, argmax};
use crate::importer::StateDict;
use crate::model::SplitMix;
use crate::nn::losses::bce_with_logits;
use crate::readback::read_f32;
use crate::weights::{ParamNames, WeightLoader, export_state_dict, set_trainable};

/// The prefix of module S's tensors in a classifier checkpoint.
const S_PREFIX: &str = "s2new";

/// Loss and metrics of S on a labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean binary cross-entropy with logits against the one-hot labels.
    pub loss: f32,
    /// Confusion matrix.
    pub confusion: ConfusionMatrix,
    /// `[n * 3]` logits, in input order.
    pub logits: Vec<f32>,
}

/// Module S on an autodiff device with Adam.
pub struct HeadsTrainer {
    s: Option<ModuleS>,
    names: ParamNames,
    optimizer: ModuleOptimizer,
    classifier: ClassifierConfig,
    config: FinetuneConfig,
    rng: SplitMix,
    device: Device,
}

fn one_hot(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut v = vec![0.0; labels.len() * classes];
    for (i, &c) in labels.iter().enumerate() {
        v[i * classes + c] = 1.0;
    }
    v
}

impl HeadsTrainer {
    /// Starts from the `s2new.*` tensors of a classifier checkpoint.
    pub fn new(
        weights: &StateDict,
        classifier: ClassifierConfig,
        config: FinetuneConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let w = WeightLoader::new(weights, device);
        let s = ModuleS::load(&w, S_PREFIX, &classifier);
        let names = w.param_names();
        w.finish(&["backbone.", "rpn.", "roi_heads."])?;
        let s = set_trainable(s, &names, |_| true).train();
        let optimizer = crate::nn::adam(config.weight_decay);
        Ok(Self {
            s: Some(s),
            names,
            optimizer,
            classifier,
            rng: SplitMix::new(config.seed ^ 0xF1_7E),
            config,
            device: device.clone(),
        })
    }

    fn batch(&self, features: &[&[f32]]) -> Tensor<3> {
        let n = self.classifier.num_detections;
        let v = self.classifier.values_per_detection;
        let data: Vec<f32> = features.iter().flat_map(|f| f.iter().copied()).collect();
        Tensor::from_data(TensorData::new(data, [features.len(), n, v]), &self.device)
    }

    /// One epoch over `features` (`[256 * 5]` each) in a seeded random order, in batches of
    /// the configured size; returns the mean training loss.
    pub async fn epoch(
        &mut self,
        features: &[Vec<f32>],
        labels: &[usize],
    ) -> Result<f32, ModelError> {
        let mut order: Vec<usize> = (0..features.len()).collect();
        self.rng.shuffle(&mut order);
        let classes = self.classifier.num_classes;
        let mut total = 0.0f64;
        for chunk in order.chunks(self.config.batch_size.max(1)) {
            let inputs: Vec<&[f32]> = chunk.iter().map(|&i| features[i].as_slice()).collect();
            let chunk_labels: Vec<usize> = chunk.iter().map(|&i| labels[i]).collect();
            let s = self.s.take().expect("S is present between steps");
            let logits = s.forward(self.batch(&inputs));
            let targets = Tensor::from_data(
                TensorData::new(one_hot(&chunk_labels, classes), [chunk.len() * classes]),
                &self.device,
            );
            let loss = bce_with_logits(logits.reshape([chunk.len() * classes]), targets);
            let value = read_f32(loss.clone().without_autodiff()).await?[0];
            if !value.is_finite() {
                self.s = Some(s);
                return Err(ModelError::Device(format!(
                    "fine-tuning diverged: the loss is {value}"
                )));
            }
            total += value as f64 * chunk.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &s);
            self.s = Some(self.optimizer.step(self.config.learning_rate, s, grads));
        }
        Ok((total / features.len().max(1) as f64) as f32)
    }

    /// Loss, confusion matrix and logits of the current S on a labelled set.
    pub async fn evaluate(
        &self,
        features: &[Vec<f32>],
        labels: &[usize],
    ) -> Result<Evaluation, ModelError> {
        let s = self.s.as_ref().expect("S is present between steps").valid();
        evaluate_s(&s, &self.classifier, features, labels, &self.device).await
    }

    /// S's tensors (`s2new.*`) as they are now.
    pub async fn s_weights(&self) -> Result<StateDict, ModelError> {
        let s = self.s.as_ref().expect("S is present between steps").valid();
        export_state_dict(&s, &self.names).await
    }
}

/// Loss, confusion matrix and logits of `s` on a labelled set (inference only).
pub async fn evaluate_s(
    s: &ModuleS,
    classifier: &ClassifierConfig,
    features: &[Vec<f32>],
    labels: &[usize],
    device: &Device,
) -> Result<Evaluation, ModelError> {
    let n = classifier.num_detections;
    let v = classifier.values_per_detection;
    let classes = classifier.num_classes;
    let mut logits = Vec::with_capacity(features.len() * classes);
    for chunk in features.chunks(64) {
        let data: Vec<f32> = chunk.iter().flat_map(|f| f.iter().copied()).collect();
        let input = Tensor::<3>::from_data(TensorData::new(data, [chunk.len(), n, v]), device);
        logits.extend(read_f32(s.forward(input)).await?);
    }
    Ok(Evaluation::of_logits(logits, labels, classes))
}

impl Evaluation {
    /// Scores `[n * classes]` logits against `labels`: the mean binary cross-entropy with
    /// logits against one-hot targets (the training loss) and the confusion matrix.
    pub fn of_logits(logits: Vec<f32>, labels: &[usize], classes: usize) -> Self {
        let mut confusion = ConfusionMatrix::default();
        let mut loss = 0.0f64;
        for (row, &label) in logits.chunks_exact(classes).zip(labels) {
            confusion.add(label, argmax(row));
            for (c, &x) in row.iter().enumerate() {
                let t = if c == label { 1.0 } else { 0.0 };
                loss += (x.max(0.0) - x * t + (-x.abs()).exp().ln_1p()) as f64;
            }
        }
        let count = (labels.len() * classes).max(1) as f64;
        Self {
            loss: (loss / count) as f32,
            confusion,
            logits,
        }
    }
}

/// Whether an epoch with validation `accuracy` and `loss` is kept over the best so far
/// (`(accuracy, loss)`): higher accuracy, ties to the lower loss.
pub fn improves_on(accuracy: f64, loss: f32, best: (f64, f32)) -> bool {
    accuracy > best.0 || (accuracy == best.0 && loss < best.1)
}

/// `base` with its `s2new.*` tensors replaced by `s_weights` (the detector untouched).
pub fn with_new_s(base: &StateDict, s_weights: &StateDict) -> StateDict {
    let mut merged = base.clone();
    for (name, tensor) in &s_weights.tensors {
        merged.tensors.insert(name.clone(), tensor.clone());
    }
    merged
}
