//! `ct-mask-net combine`: one file holding both models on their shared detector (the layout
//! of the default weights: the detector is stored once).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ct_mask_net::config::{ClassificationConfig, SegmentationConfig};
use ct_mask_net::importer::{DetectorSharing, detector_sharing, write_safetensors};
use ct_mask_net::model::{ClassificationModel, ModelKind, SegmentationModel};

use crate::weights;

#[derive(Args)]
pub struct CombineArgs {
    /// The segmentation model.
    #[arg(long)]
    segmentation: PathBuf,
    /// A classifier on the very same detector (e.g. `finetune --weights SEGMENTATION`'s output).
    #[arg(long)]
    classifier: PathBuf,
    /// Where to write the combined file.
    #[arg(long)]
    out: PathBuf,
    /// Store the weights as 16-bit floats.
    #[arg(long)]
    f16: bool,
    /// What the page shows as the model's name.
    #[arg(long)]
    description: Option<String>,
    /// Lesions scoring at least this are drawn and counted by default (the page, predict).
    #[arg(long)]
    lesion_min_score: Option<f32>,
    /// More settings to store, KEY=VALUE (e.g. provenance).
    #[arg(long = "meta", value_parser = parse_pair)]
    meta: Vec<(String, String)>,
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

pub fn run(args: CombineArgs) -> Result<ExitCode, String> {
    let (seg, seg_detector) = weights::read_kind(&args.segmentation, ModelKind::Segmentation)?;
    let (cls, cls_detector) = weights::read_kind(&args.classifier, ModelKind::Classification)?;
    if detector_sharing(&cls.weights, &seg.weights) != DetectorSharing::Identical
        || serde_json::to_value(&seg_detector).ok() != serde_json::to_value(&cls_detector).ok()
    {
        return Err(format!(
            "{} and {} do not share one detector (weights and settings must be identical): \
             fine-tune the classifier with --mode heads from this segmentation model",
            args.classifier.display(),
            args.segmentation.display()
        ));
    }
    let device = ct_mask_net::backend::cpu().device;
    let seg_config = SegmentationConfig::new().with_detector(seg_detector.clone());
    let cls_config = ClassificationConfig::new().with_detector(cls_detector);
    // Both must still build.
    SegmentationModel::load(&seg.weights, seg_config.clone(), &device)
        .map_err(|e| format!("{}: {e}", args.segmentation.display()))?;
    ClassificationModel::load(&cls.weights, cls_config, &device)
        .map_err(|e| format!("{}: {e}", args.classifier.display()))?;

    let mut combined = seg.weights.clone();
    for (name, tensor) in cls.weights.tensors.iter().filter(|(k, _)| k.starts_with("s2new.")) {
        combined.tensors.insert(name.clone(), tensor.clone());
    }
    let mut metadata: BTreeMap<String, String> = BTreeMap::new();
    for (prefix, source) in [("segmentation.", &seg.metadata), ("classifier.", &cls.metadata)] {
        for (k, v) in source.iter().filter(|(k, _)| !matches!(k.as_str(), "format" | "model" | "config")) {
            metadata.insert(format!("{prefix}{k}"), v.clone());
        }
    }
    metadata.insert("format".into(), "ct-mask-net".into());
    metadata.insert("model".into(), "segmentation+classification".into());
    metadata.insert(
        "config".into(),
        serde_json::to_string(&seg_config).map_err(|e| e.to_string())?,
    );
    // The segmentation model's training scale, where evaluate-segmentation looks for it.
    if let Some(scale) = seg.metadata.get("input_scale") {
        metadata.insert("input_scale".into(), scale.clone());
    }
    if let Some(v) = args.lesion_min_score {
        if !(0.0..=1.0).contains(&v) {
            return Err("--lesion-min-score takes a number from 0 to 1".into());
        }
        metadata.insert(ct_mask_net::analysis::LESION_MIN_SCORE_KEY.into(), v.to_string());
    }
    if let Some(text) = &args.description {
        metadata.insert("description".into(), text.clone());
    }
    metadata.extend(args.meta.iter().cloned());
    let bytes = write_safetensors(&combined, args.f16, &metadata).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;
    eprintln!(
        "wrote {} ({} tensors, {:.1} MB, {})",
        args.out.display(),
        combined.tensors.len(),
        bytes.len() as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" }
    );
    Ok(ExitCode::SUCCESS)
}
