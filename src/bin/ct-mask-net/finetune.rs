//! `ct-mask-net finetune` and `ct-mask-net evaluate`: module S on labelled slices (a folder per
//! class, or COVIDx-CT-style names), with the paper's metrics.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::prelude::Device;
use clap::{Args, ValueEnum};
use ct_mask_net::config::ClassificationConfig;
use ct_mask_net::evaluation::ConfusionMatrix;
use ct_mask_net::finetune::{
    Evaluation, FinetuneConfig, HeadsBnTrainer, HeadsTrainer, LabelledFile,
    classifier_from_segmentation, improves_on, labelled_files, patient_from_name,
    stratified_split, with_new_s,
};
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::importer::{StateDict, write_safetensors};
use ct_mask_net::model::{ClassificationModel, ModelKind};
use ct_mask_net::pipeline::classification_input;
use ct_mask_net::transform::TransformConfig;
use web_time::Instant;

use crate::weights;

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Module S alone (detector outputs computed once per image).
    Heads,
    /// S plus the backbone's batch-norm affine weights (the paper's best).
    HeadsBn,
}

#[derive(Args)]
pub struct FinetuneArgs {
    /// Training slices: folders normal/, pneumonia/, covid/ or files named NCP_..., CP_...,
    /// Normal_... (COVID-CT-MD's COVID-19_/CAP_ work too).
    #[arg(long)]
    train: PathBuf,
    /// Validation slices, laid out the same way. Without it a seeded, stratified 20% of the
    /// training slices is held out, whole patients at a time where the names identify them
    /// (NCP_<patient>_<scan>_<slice>, COVID-19_<patient>_<slice>).
    #[arg(long)]
    val: Option<PathBuf>,
    /// What trains.
    #[arg(long, value_enum, default_value = "heads")]
    mode: Mode,
    /// The classifier to start from (ours or the authors' classification_model.pth), or a
    /// segmentation model: its detector with a new, seeded module S.
    #[arg(long)]
    weights: PathBuf,
    /// Where to write the fine-tuned classifier (the best epoch by validation accuracy).
    #[arg(long)]
    out: PathBuf,
    /// Epochs.
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-5)]
    lr: f64,
    /// Images per step.
    #[arg(long, default_value_t = 8)]
    batch: usize,
    /// Seed of the split and the batch order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Write the result as 16-bit floats.
    #[arg(long)]
    f16: bool,
}

#[derive(Args)]
pub struct EvaluateArgs {
    /// The classifier to evaluate.
    #[arg(long)]
    weights: PathBuf,
    /// Labelled slices (folders per class or COVIDx-CT-style names).
    data: PathBuf,
    /// Print the figures as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

const NAMES: [&str; 3] = ["normal", "pneumonia", "covid"];

fn load_classifier(
    path: &Path,
    device: &Device,
) -> Result<(ClassificationModel, ct_mask_net::importer::StateDict), String> {
    let (checkpoint, detector) = weights::read_kind(path, ModelKind::Classification)?;
    let config = ClassificationConfig::new().with_detector(detector);
    let model = ClassificationModel::load(&checkpoint.weights, config, device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((model, checkpoint.weights))
}

/// The classifier to fine-tune: `path` itself, or, for a segmentation model, its detector with
/// a new S seeded by `seed`.
fn starting_classifier(
    path: &Path,
    seed: u64,
    device: &Device,
) -> Result<(ClassificationModel, StateDict), String> {
    let checkpoint = weights::read(path)?;
    let kind =
        ModelKind::detect(&checkpoint.weights).map_err(|e| format!("{}: {e}", path.display()))?;
    if kind == ModelKind::Classification {
        return load_classifier(path, device);
    }
    let detector = ct_mask_net::model::detector_config(&checkpoint.weights, &checkpoint.metadata)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let weights = classifier_from_segmentation(&checkpoint.weights, &detector, seed, device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "starting from the detector of segmentation model {} with a new module S (seed {seed})",
        path.display()
    );
    let config = ClassificationConfig::new().with_detector(detector);
    let model = ClassificationModel::load(&weights, config, device)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((model, weights))
}

/// Each file's `[256 * 5]` ranked boxes and its S logits.
type DetectorOutputs = (Vec<Vec<f32>>, Vec<[f32; 3]>);

/// Each file's `[256 * 5]` ranked boxes and S logits under `model`.
fn detector_outputs(
    model: &ClassificationModel,
    files: &[LabelledFile],
    what: &str,
    device: &Device,
) -> Result<DetectorOutputs, String> {
    let started = Instant::now();
    let transform = TransformConfig::default();
    let mut features = Vec::with_capacity(files.len());
    let mut logits = Vec::with_capacity(files.len());
    for (k, file) in files.iter().enumerate() {
        let bytes = std::fs::read(&file.path)
            .map_err(|e| format!("cannot read {}: {e}", file.path.display()))?;
        let image = decode_slice(&bytes).map_err(|e| format!("{}: {e}", file.path.display()))?;
        let input = classification_input(&image, &transform, device);
        let result = pollster::block_on(model.run(&input))
            .map_err(|e| format!("{}: {e}", file.path.display()))?;
        features.push(result.ranked_boxes);
        logits.push(result.prediction.s_logits);
        let elapsed = started.elapsed().as_secs_f64();
        eprint!(
            "\r{what}: detector outputs {}/{} ({:.0} s left)   ",
            k + 1,
            files.len(),
            elapsed / (k + 1) as f64 * (files.len() - k - 1) as f64
        );
    }
    eprintln!();
    Ok((features, logits))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.1}%", 100.0 * v))
}

fn print_metrics(m: &ConfusionMatrix) {
    println!("accuracy {} on {} slices", pct(m.accuracy()), m.total());
    println!("{:<10} {:>11} {:>10}", "class", "sensitivity", "precision");
    for (c, name) in NAMES.iter().enumerate() {
        println!(
            "{name:<10} {:>11} {:>10}",
            pct(m.sensitivity(c)),
            pct(m.precision(c))
        );
    }
    println!("confusion matrix (rows true, columns predicted: normal, pneumonia, covid):");
    for (c, name) in NAMES.iter().enumerate() {
        println!("  {name:<10} {:?}", m.counts[c]);
    }
}

pub fn evaluate(args: EvaluateArgs) -> Result<ExitCode, String> {
    let device = ct_mask_net::backend::cpu().device;
    let (model, _) = load_classifier(&args.weights, &device)?;
    let files = labelled_files(&args.data)?;
    let (_, logits) = detector_outputs(&model, &files, "evaluate", &device)?;
    let mut m = ConfusionMatrix::default();
    for (file, l) in files.iter().zip(&logits) {
        m.add(file.class, ct_mask_net::evaluation::argmax(l));
    }
    if args.json {
        let value = serde_json::json!({
            "slices": m.total(),
            "accuracy": m.accuracy(),
            "sensitivity": (0..3).map(|c| m.sensitivity(c)).collect::<Vec<_>>(),
            "precision": (0..3).map(|c| m.precision(c)).collect::<Vec<_>>(),
            "confusion": m.counts,
            "classes": NAMES,
        });
        println!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    print_metrics(&m);
    Ok(ExitCode::SUCCESS)
}

/// The best epoch so far by validation accuracy (ties: lower validation loss).
struct Best {
    epoch: usize,
    accuracy: f64,
    loss: f32,
    metrics: ConfusionMatrix,
    weights: StateDict,
}

impl Best {
    fn offer(
        &mut self,
        epoch: usize,
        val: &Evaluation,
        weights: impl FnOnce() -> Result<StateDict, String>,
    ) -> Result<(), String> {
        let accuracy = val.confusion.accuracy().unwrap_or(0.0);
        if epoch == 0 || improves_on(accuracy, val.loss, (self.accuracy, self.loss)) {
            *self = Best {
                epoch,
                accuracy,
                loss: val.loss,
                metrics: val.confusion.clone(),
                weights: weights()?,
            };
        }
        Ok(())
    }
}

fn report_epoch(epoch: usize, train_loss: Option<f32>, val: &Evaluation, started: Instant) {
    let train = train_loss.map_or(String::new(), |l| format!("train loss {l:.4}, "));
    let per_epoch = if epoch == 0 {
        String::new()
    } else {
        format!(
            " ({:.2} s/epoch)",
            started.elapsed().as_secs_f64() / epoch as f64
        )
    };
    println!(
        "epoch {epoch}: {train}validation loss {:.4}, accuracy {}{per_epoch}",
        val.loss,
        pct(val.confusion.accuracy())
    );
}

fn empty_best() -> Best {
    Best {
        epoch: 0,
        accuracy: 0.0,
        loss: f32::INFINITY,
        metrics: ConfusionMatrix::default(),
        weights: StateDict::default(),
    }
}

fn heads(
    model: &ClassificationModel,
    base: &StateDict,
    config: FinetuneConfig,
    train: &[LabelledFile],
    val: &[LabelledFile],
    device: &Device,
) -> Result<Best, String> {
    let (train_x, _) = detector_outputs(model, train, "train", device)?;
    let (val_x, _) = detector_outputs(model, val, "validation", device)?;
    let train_y: Vec<usize> = train.iter().map(|f| f.class).collect();
    let val_y: Vec<usize> = val.iter().map(|f| f.class).collect();
    let epochs = config.epochs;
    let mut trainer = HeadsTrainer::new(base, model.config.classifier.clone(), config, device)
        .map_err(|e| e.to_string())?;
    let s_weights = |t: &HeadsTrainer| -> Result<StateDict, String> {
        let s = pollster::block_on(t.s_weights()).map_err(|e| e.to_string())?;
        Ok(with_new_s(base, &s))
    };
    let started = Instant::now();
    let mut best = empty_best();
    for epoch in 0..=epochs {
        let train_loss = if epoch == 0 {
            None
        } else {
            Some(pollster::block_on(trainer.epoch(&train_x, &train_y)).map_err(|e| e.to_string())?)
        };
        let val =
            pollster::block_on(trainer.evaluate(&val_x, &val_y)).map_err(|e| e.to_string())?;
        report_epoch(epoch, train_loss, &val, started);
        best.offer(epoch, &val, || s_weights(&trainer))?;
    }
    Ok(best)
}

fn decode_all(files: &[LabelledFile]) -> Result<Vec<image::RgbImage>, String> {
    files
        .iter()
        .map(|f| {
            let bytes = std::fs::read(&f.path)
                .map_err(|e| format!("cannot read {}: {e}", f.path.display()))?;
            decode_slice(&bytes).map_err(|e| format!("{}: {e}", f.path.display()))
        })
        .collect()
}

fn heads_bn(
    model: &ClassificationModel,
    base: &StateDict,
    config: FinetuneConfig,
    train: &[LabelledFile],
    val: &[LabelledFile],
    device: &Device,
) -> Result<Best, String> {
    let train_images = decode_all(train)?;
    let val_images = decode_all(val)?;
    let train_y: Vec<usize> = train.iter().map(|f| f.class).collect();
    let val_y: Vec<usize> = val.iter().map(|f| f.class).collect();
    let transform = TransformConfig::default();
    let train_input = |i: usize| classification_input(&train_images[i], &transform, device);
    let val_input = |i: usize| classification_input(&val_images[i], &transform, device);
    let epochs = config.epochs;
    let mut trainer = HeadsBnTrainer::new(base, model.config.clone(), config, device)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let mut best = empty_best();
    for epoch in 0..=epochs {
        let train_loss = if epoch == 0 {
            None
        } else {
            let epoch_started = Instant::now();
            let loss = pollster::block_on(trainer.epoch(train.len(), &train_y, train_input))
                .map_err(|e| e.to_string())?;
            eprintln!(
                "heads+BN: {:.2} s per image step (forward and backward through the detector)",
                epoch_started.elapsed().as_secs_f64() / train.len().max(1) as f64
            );
            Some(loss)
        };
        let val = pollster::block_on(trainer.evaluate(val.len(), &val_y, val_input))
            .map_err(|e| e.to_string())?;
        report_epoch(epoch, train_loss, &val, started);
        best.offer(epoch, &val, || {
            pollster::block_on(trainer.state_dict()).map_err(|e| e.to_string())
        })?;
    }
    Ok(best)
}

pub fn finetune(args: FinetuneArgs) -> Result<ExitCode, String> {
    let device = ct_mask_net::backend::cpu().device;
    let (model, base) = starting_classifier(&args.weights, args.seed, &device)?;
    let all = labelled_files(&args.train)?;
    let (train_files, val_files) = match &args.val {
        Some(dir) => (all, labelled_files(dir)?),
        None => {
            let classes: Vec<usize> = all.iter().map(|f| f.class).collect();
            let patients: Vec<String> = all
                .iter()
                .map(|f| {
                    let name = f.path.file_name().unwrap_or_default().to_string_lossy();
                    patient_from_name(&name).unwrap_or_else(|| f.path.display().to_string())
                })
                .collect();
            let (t, v) = stratified_split(&classes, Some(&patients), 0.2, args.seed);
            (
                t.iter().map(|&i| all[i].clone()).collect(),
                v.iter().map(|&i| all[i].clone()).collect(),
            )
        }
    };
    let count = |files: &[LabelledFile]| -> [usize; 3] {
        let mut c = [0; 3];
        files.iter().for_each(|f| c[f.class] += 1);
        c
    };
    // Patients per class as far as the names tell (unnamed slices count one each).
    let patients = |files: &[LabelledFile]| -> [usize; 3] {
        let mut seen: [Vec<String>; 3] = Default::default();
        for f in files {
            let name = f.path.file_name().unwrap_or_default().to_string_lossy();
            let p = patient_from_name(&name).unwrap_or_else(|| f.path.display().to_string());
            if !seen[f.class].contains(&p) {
                seen[f.class].push(p);
            }
        }
        seen.map(|s| s.len())
    };
    eprintln!(
        "train {:?} / validation {:?} slices (normal, pneumonia, covid); patients by name: \
         train {:?} / validation {:?}",
        count(&train_files),
        count(&val_files),
        patients(&train_files),
        patients(&val_files)
    );
    let config = FinetuneConfig::new()
        .with_learning_rate(args.lr)
        .with_batch_size(args.batch)
        .with_epochs(args.epochs)
        .with_seed(args.seed);
    let (best, mode) = match args.mode {
        Mode::Heads => (
            heads(&model, &base, config, &train_files, &val_files, &device)?,
            "heads",
        ),
        Mode::HeadsBn => (
            heads_bn(&model, &base, config, &train_files, &val_files, &device)?,
            "heads+bn",
        ),
    };
    println!("best epoch {} (validation):", best.epoch);
    print_metrics(&best.metrics);

    let mut metadata = BTreeMap::new();
    metadata.insert("format".to_string(), "ct-mask-net".to_string());
    metadata.insert(
        "model".to_string(),
        ModelKind::Classification.name().to_string(),
    );
    metadata.insert(
        "config".to_string(),
        serde_json::to_string(&model.config).map_err(|e| e.to_string())?,
    );
    metadata.insert("finetuned_mode".to_string(), mode.to_string());
    metadata.insert("best_epoch".to_string(), best.epoch.to_string());
    metadata.insert(
        "validation_accuracy".to_string(),
        format!("{:.4}", best.accuracy),
    );
    let bytes = write_safetensors(&best.weights, args.f16, &metadata).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, bytes)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!("wrote {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
