//! `ct-mask-net train-segmentation`: trains the lesion segmentation model on labelled slices,
//! from scratch or from a checkpoint, saving a checkpoint after every epoch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::config::{DetectorConfig, SegmentationConfig};
use ct_mask_net::importer::{StateDict, write_safetensors};
use ct_mask_net::model::{ModelKind, SplitMix};
use ct_mask_net::training::{
    LOSS_NAMES, SegmentationTrainer, SegmentationTrainingConfig, initial_segmentation_weights,
    read_labelled_dir, training_example,
};
use ct_mask_net::transform::TransformConfig;
use web_time::Instant;

use crate::weights;

#[derive(Args)]
pub struct TrainSegmentationArgs {
    /// Folder of labelled slices: images/<name>.png and masks/<name>.png (0 background, 1 GGO,
    /// 2 consolidation), e.g. ../shared/data/medseg_ggo_consolidation/train.
    #[arg(long)]
    data: PathBuf,
    /// Folder for checkpoints (epoch-NNN.safetensors, last.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Start from this segmentation checkpoint instead of from scratch (continues its epoch
    /// count when it is one of ours; Adam's moments restart).
    #[arg(long)]
    resume: Option<PathBuf>,
    /// ResNet depth when starting from scratch: 18, 34 or 50.
    #[arg(long, default_value_t = 18)]
    depth: usize,
    /// Epochs to reach (counting those of a resumed checkpoint).
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Stop after this many steps in total (for smoke runs).
    #[arg(long)]
    max_steps: Option<usize>,
    /// Use only the first N slices.
    #[arg(long)]
    limit: Option<usize>,
    /// Adam learning rate.
    #[arg(long, default_value_t = 1e-4)]
    lr: f64,
    /// Seed of initialisation, order, sampling and augmentation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Anchor sides in pixels when starting from scratch, comma-separated (the paper's: 2,4,8,
    /// 16,32, small for lesions of hundreds of pixels). Saved in the checkpoints' settings; a
    /// resumed run keeps its file's anchors.
    #[arg(long, value_delimiter = ',')]
    anchor_sizes: Option<Vec<f32>>,
    /// Input size in training: `paper` resizes each slice's shorter side to 512; `native`
    /// keeps each slice's own pixel size (the project's recipe for lung-cropped slices). Saved
    /// in the checkpoints (`input_scale`), where evaluate-segmentation reads it back. Default:
    /// a resumed checkpoint's, otherwise `paper`.
    #[arg(long, value_enum)]
    scale: Option<InputScale>,
    /// Random resize of each training slice by a factor in [1/(1+J), 1+J] (0: none).
    #[arg(long, default_value_t = 0.0)]
    scale_jitter: f32,
}

/// How training and evaluation size their input slices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputScale {
    /// Shorter side resized to 512 (the paper's transform).
    Paper,
    /// Each slice at its own pixel size.
    Native,
}

impl InputScale {
    /// The name saved in a checkpoint's `input_scale` setting.
    pub fn name(self) -> &'static str {
        match self {
            Self::Paper => "paper",
            Self::Native => "native",
        }
    }

    /// The scale a checkpoint was trained at (`paper` when it does not say).
    pub fn of_checkpoint(metadata: &BTreeMap<String, String>) -> Self {
        match metadata.get("input_scale").map(String::as_str) {
            Some("native") => Self::Native,
            _ => Self::Paper,
        }
    }
}

fn save(
    path: &Path,
    sd: &StateDict,
    config: &SegmentationConfig,
    progress: &BTreeMap<String, String>,
) -> Result<(), String> {
    let mut metadata = progress.clone();
    metadata.insert("format".into(), "ct-mask-net".into());
    metadata.insert("model".into(), ModelKind::Segmentation.name().into());
    metadata.insert(
        "config".into(),
        serde_json::to_string(config).map_err(|e| e.to_string())?,
    );
    let bytes = write_safetensors(sd, false, &metadata).map_err(|e| e.to_string())?;
    let partial = path.with_extension("partial");
    std::fs::write(&partial, &bytes)
        .and_then(|_| std::fs::rename(&partial, path))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn minutes(seconds: f64) -> String {
    if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else {
        format!("{:.0} min", seconds / 60.0)
    }
}

pub fn run(args: TrainSegmentationArgs) -> Result<ExitCode, String> {
    let mut slices = read_labelled_dir(&args.data).map_err(|e| e.to_string())?;
    if let Some(limit) = args.limit {
        slices.truncate(limit.max(1));
    }
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;

    let device = ct_mask_net::backend::cpu().device;
    let mut scale = args.scale.unwrap_or(InputScale::Paper);
    let (weights, first_epoch, model) = match &args.resume {
        Some(path) => {
            let checkpoint = weights::read_kind_with_settings(path, ModelKind::Segmentation)?;
            scale = args
                .scale
                .unwrap_or_else(|| InputScale::of_checkpoint(&checkpoint.metadata));
            let epoch = checkpoint
                .metadata
                .get("epoch")
                .and_then(|e| e.parse::<usize>().ok())
                .unwrap_or(0);
            let model = weights::segmentation_config(&checkpoint)?;
            (checkpoint.weights, epoch, model)
        }
        None => {
            let mut detector =
                DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(args.depth));
            if let Some(sizes) = &args.anchor_sizes {
                if sizes.is_empty() || sizes.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
                    return Err(
                        "--anchor-sizes needs positive numbers, e.g. 16,32,64,128,256".into(),
                    );
                }
                detector.rpn.anchor_sizes = sizes.clone();
            }
            let sd = initial_segmentation_weights(&detector, args.seed, &device)
                .map_err(|e| e.to_string())?;
            (sd, 0, SegmentationConfig::new().with_detector(detector))
        }
    };
    if !(args.scale_jitter.is_finite() && (0.0..=1.0).contains(&args.scale_jitter)) {
        return Err("--scale-jitter takes a number from 0 to 1, e.g. 0.25".into());
    }
    let train = SegmentationTrainingConfig::new()
        .with_learning_rate(args.lr)
        .with_seed(args.seed)
        .with_native_scale(scale == InputScale::Native)
        .with_scale_jitter(args.scale_jitter);
    let mut trainer = SegmentationTrainer::new(&weights, model, train.clone(), &device)
        .map_err(|e| e.to_string())?;
    let base_transform = TransformConfig::default();
    let mut rng = SplitMix::new(args.seed.wrapping_add(first_epoch as u64));

    eprintln!(
        "training ResNet-{} segmentation on {} slices from {}, epochs {}..{}, lr {}, {} scale \
         (jitter {})",
        trainer.model_config().detector.backbone.depth,
        slices.len(),
        args.data.display(),
        first_epoch + 1,
        args.epochs,
        args.lr,
        scale.name(),
        args.scale_jitter
    );
    let started = Instant::now();
    let total_steps = (args.epochs.saturating_sub(first_epoch) * slices.len())
        .min(args.max_steps.unwrap_or(usize::MAX));
    let mut done = 0usize;
    for epoch in first_epoch + 1..=args.epochs {
        let mut order: Vec<usize> = (0..slices.len()).collect();
        rng.shuffle(&mut order);
        let mut sums = [0.0f64; 5];
        for (k, &i) in order.iter().enumerate() {
            if done >= total_steps {
                break;
            }
            let flip = rng.next_unit() < train.flip_probability;
            let [h, w] = slices[i].mask.size;
            let transform = train.transform_for(&base_transform, h, w, rng.next_unit());
            let example = training_example(
                &slices[i],
                flip,
                &transform,
                train.min_instance_pixels,
                &device,
            );
            let values = pollster::block_on(trainer.step(&example))
                .map_err(|e| format!("{} (slice {}): {e}", e, slices[i].name))?;
            done += 1;
            for (s, v) in sums.iter_mut().zip(values) {
                *s += v as f64;
            }
            let elapsed = started.elapsed().as_secs_f64();
            let left = elapsed / done as f64 * (total_steps - done) as f64;
            let terms: Vec<String> = LOSS_NAMES
                .iter()
                .zip(values)
                .map(|(n, v)| format!("{n} {v:.3}"))
                .collect();
            eprintln!(
                "epoch {epoch}/{} step {}/{} loss {:.3} ({}) {:.1} s/step, {} left",
                args.epochs,
                k + 1,
                slices.len(),
                values.iter().sum::<f32>(),
                terms.join(", "),
                elapsed / done as f64,
                minutes(left)
            );
        }
        let steps = order.len().min(done.max(1)) as f64;
        let means: Vec<String> = LOSS_NAMES
            .iter()
            .zip(sums)
            .map(|(n, s)| format!("{n} {:.4}", s / steps))
            .collect();
        let sd = pollster::block_on(trainer.state_dict()).map_err(|e| e.to_string())?;
        let mut progress = BTreeMap::new();
        progress.insert("epoch".to_string(), epoch.to_string());
        progress.insert("train_slices".to_string(), slices.len().to_string());
        progress.insert("mean_losses".to_string(), means.join(", "));
        progress.insert("learning_rate".to_string(), args.lr.to_string());
        progress.insert("input_scale".to_string(), scale.name().to_string());
        progress.insert("scale_jitter".to_string(), args.scale_jitter.to_string());
        let config = trainer.model_config();
        save(
            &args.out.join(format!("epoch-{epoch:03}.safetensors")),
            &sd,
            config,
            &progress,
        )?;
        save(&args.out.join("last.safetensors"), &sd, config, &progress)?;
        println!(
            "epoch {epoch}: mean {} (total {:.4}) after {}",
            means.join(", "),
            sums.iter().sum::<f64>() / steps,
            minutes(started.elapsed().as_secs_f64())
        );
        if done >= total_steps {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}
