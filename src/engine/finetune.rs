//! Fine-tuning module S in the engine ("heads" mode): the page sends the S inputs it already
//! has for its labelled rows, then asks for one epoch at a time (so it can show progress,
//! cancel and resume), and finally for the best epoch's model.

use serde::{Deserialize, Serialize};
use web_time::Instant;

use crate::config::ClassifierConfig;
use crate::evaluation::ConfusionMatrix;
use crate::finetune::{FinetuneConfig, HeadsTrainer, improves_on};
use crate::importer::StateDict;

/// Metadata key of a fine-tuned classifier file naming the segmentation model it was paired
/// with when that was the built-in one (so a reload pairs it again).
pub const PAIRED_SEGMENTER_KEY: &str = "paired_segmenter";

/// The optimiser settings the page chose (defaults: the paper's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FineTuneSettings {
    /// Adam learning rate.
    pub learning_rate: f64,
    /// Adam weight decay.
    pub weight_decay: f64,
    /// Slices per step.
    pub batch_size: usize,
    /// Seed of the batch order.
    pub seed: u64,
}

impl Default for FineTuneSettings {
    fn default() -> Self {
        let paper = FinetuneConfig::new();
        Self {
            learning_rate: paper.learning_rate,
            weight_decay: paper.weight_decay,
            batch_size: paper.batch_size,
            seed: paper.seed,
        }
    }
}

/// A labelled set: each slice's S input (`[256 * 5]`, as [`super::AnalysedSlice`] carries
/// it), its class, and whether it is held out for validation.
#[derive(Debug, Clone, PartialEq)]
pub struct FineTuneSetup {
    /// `[n * 1280]` S inputs, slice after slice.
    pub features: Vec<f32>,
    /// `[n]` classes: 0 normal, 1 pneumonia, 2 COVID-19.
    pub labels: Vec<u8>,
    /// `[n]` whether each slice is in the validation split.
    pub validation: Vec<bool>,
    /// Optimiser settings.
    pub settings: FineTuneSettings,
}

/// What one epoch did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// Epochs done (0: the starting model, before any step).
    pub epoch: usize,
    /// Mean training loss of the epoch (`None` for epoch 0).
    pub train_loss: Option<f32>,
    /// Validation loss (`None` without validation slices).
    pub val_loss: Option<f32>,
    /// Validation confusion matrix (`None` without validation slices).
    pub confusion: Option<ConfusionMatrix>,
    /// The epoch kept so far: best validation accuracy, ties to the lower loss; the latest
    /// without validation slices.
    pub best_epoch: usize,
    /// Milliseconds the epoch took.
    pub ms: f64,
}

struct Split {
    features: Vec<Vec<f32>>,
    labels: Vec<usize>,
}

/// A fine-tuning run in progress.
pub(super) struct Session {
    trainer: HeadsTrainer,
    train: Split,
    val: Split,
    epoch: usize,
    best: Option<(usize, f64, f32)>,
    /// S's tensors at the best epoch.
    pub best_s: StateDict,
    /// Slices trained on.
    pub train_count: usize,
}

impl Session {
    /// Checks the set and builds the trainer from the active classifier's weights.
    pub async fn start(
        base: &StateDict,
        classifier: &ClassifierConfig,
        setup: FineTuneSetup,
        device: &burn::prelude::Device,
    ) -> Result<(Self, EpochReport), String> {
        let width = classifier.num_detections * classifier.values_per_detection;
        let n = setup.labels.len();
        if n == 0 {
            return Err("No labelled slice: give at least one slice a class first".into());
        }
        if setup.features.len() != n * width || setup.validation.len() != n {
            return Err(format!(
                "The labelled set is inconsistent ({n} labels, {} inputs of {width} values, {} \
                 split flags)",
                setup.features.len() / width.max(1),
                setup.validation.len()
            ));
        }
        if let Some(bad) = setup
            .labels
            .iter()
            .find(|&&c| c as usize >= classifier.num_classes)
        {
            return Err(format!(
                "Unknown class {bad} (0 normal, 1 pneumonia, 2 COVID-19)"
            ));
        }
        let mut train = Split {
            features: Vec::new(),
            labels: Vec::new(),
        };
        let mut val = Split {
            features: Vec::new(),
            labels: Vec::new(),
        };
        for (i, chunk) in setup.features.chunks_exact(width).enumerate() {
            let split = if setup.validation[i] {
                &mut val
            } else {
                &mut train
            };
            split.features.push(chunk.to_vec());
            split.labels.push(setup.labels[i] as usize);
        }
        if train.labels.is_empty() {
            return Err(
                "Every labelled slice is in the validation split: keep some for training".into(),
            );
        }
        let s = &setup.settings;
        let config = FinetuneConfig::new()
            .with_learning_rate(s.learning_rate)
            .with_weight_decay(s.weight_decay)
            .with_batch_size(s.batch_size.max(1))
            .with_seed(s.seed);
        let trainer = HeadsTrainer::new(base, classifier.clone(), config, device)
            .map_err(|e| format!("The active classifier cannot be fine-tuned: {e}"))?;
        let best_s = trainer.s_weights().await.map_err(|e| e.to_string())?;
        let mut session = Self {
            trainer,
            train_count: train.labels.len(),
            train,
            val,
            epoch: 0,
            best: None,
            best_s,
        };
        let report = session.report(None, Instant::now()).await?;
        Ok((session, report))
    }

    /// One more epoch.
    pub async fn epoch(&mut self) -> Result<EpochReport, String> {
        let started = Instant::now();
        let loss = self
            .trainer
            .epoch(&self.train.features, &self.train.labels)
            .await
            .map_err(|e| e.to_string())?;
        self.epoch += 1;
        self.report(Some(loss), started).await
    }

    async fn report(
        &mut self,
        train_loss: Option<f32>,
        started: Instant,
    ) -> Result<EpochReport, String> {
        let (val_loss, confusion, accuracy) = if self.val.labels.is_empty() {
            (None, None, 0.0)
        } else {
            let e = self
                .trainer
                .evaluate(&self.val.features, &self.val.labels)
                .await
                .map_err(|e| e.to_string())?;
            let accuracy = e.confusion.accuracy().unwrap_or(0.0);
            (Some(e.loss), Some(e.confusion), accuracy)
        };
        let loss = val_loss.unwrap_or(f32::INFINITY);
        let better = match self.best {
            None => true,
            Some(_) if self.val.labels.is_empty() => true,
            Some((_, a, l)) => improves_on(accuracy, loss, (a, l)),
        };
        if better {
            self.best = Some((self.epoch, accuracy, loss));
            self.best_s = self.trainer.s_weights().await.map_err(|e| e.to_string())?;
        }
        Ok(EpochReport {
            epoch: self.epoch,
            train_loss,
            val_loss,
            confusion,
            best_epoch: self.best.map_or(0, |b| b.0),
            ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }

    /// The kept epoch.
    pub fn best_epoch(&self) -> usize {
        self.best.map_or(0, |b| b.0)
    }
}

/// Times heads-mode fine-tuning on this device: `slices` seeded random S inputs with the
/// active classifier's S, `epochs` epochs with the paper's settings (a fifth held out for
/// validation, as the page's split does). Returns the mean milliseconds per epoch (training
/// and validation). The user's own fine-tuning run, if any, is left alone.
pub async fn benchmark(
    base: &StateDict,
    classifier: &ClassifierConfig,
    slices: usize,
    epochs: usize,
    device: &burn::prelude::Device,
) -> Result<f64, String> {
    let width = classifier.num_detections * classifier.values_per_detection;
    let mut rng = crate::model::SplitMix::new(7);
    let setup = FineTuneSetup {
        features: (0..slices * width).map(|_| rng.next_unit() - 0.5).collect(),
        labels: (0..slices).map(|i| (i % 3) as u8).collect(),
        validation: (0..slices).map(|i| i % 5 == 4).collect(),
        settings: FineTuneSettings::default(),
    };
    let (mut session, _) = Session::start(base, classifier, setup, device).await?;
    let started = Instant::now();
    for _ in 0..epochs.max(1) {
        session.epoch().await?;
    }
    Ok(started.elapsed().as_secs_f64() * 1e3 / epochs.max(1) as f64)
}
