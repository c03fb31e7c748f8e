//! `ct-mask-net convert`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::Device;
use clap::Args;
use ct_mask_net::config::{ClassificationConfig, SegmentationConfig};
use ct_mask_net::importer::write_safetensors;
use ct_mask_net::model::{
    ClassificationModel, ModelKind, SegmentationModel, detector_config,
};

use crate::weights;

#[derive(Args)]
pub struct ConvertArgs {
    /// The checkpoint to convert (e.g. the authors' classification_model.pth).
    input: PathBuf,
    /// Where to write the safetensors file.
    output: PathBuf,
    /// Store the weights as 16-bit floats (half the size; the page's default format).
    #[arg(long)]
    f16: bool,
}

pub fn run(args: ConvertArgs) -> Result<ExitCode, String> {
    let checkpoint = weights::read(&args.input)?;
    let sd = &checkpoint.weights;
    let kind = ModelKind::detect(sd).map_err(|e| format!("{}: {e}", args.input.display()))?;
    let detector = detector_config(sd, &checkpoint.metadata)
        .map_err(|e| format!("{}: {e}", args.input.display()))?;

    // Build the model once: this checks every tensor's name and shape before anything is written.
    let device = Device::flex();
    let config_json = match kind {
        ModelKind::Segmentation => {
            let config = SegmentationConfig::new().with_detector(detector);
            let json = serde_json::to_string(&config).map_err(|e| e.to_string())?;
            SegmentationModel::load(sd, config, &device)
                .map_err(|e| format!("{}: {e}", args.input.display()))?;
            json
        }
        ModelKind::Classification => {
            let config = ClassificationConfig::new().with_detector(detector);
            let json = serde_json::to_string(&config).map_err(|e| e.to_string())?;
            ClassificationModel::load(sd, config, &device)
                .map_err(|e| format!("{}: {e}", args.input.display()))?;
            json
        }
    };

    // Our own files keep their provenance (epoch, losses, input scale, ...).
    let mut metadata: BTreeMap<String, String> = checkpoint.metadata.clone();
    metadata.insert("format".to_string(), "ct-mask-net".to_string());
    metadata.insert("model".to_string(), kind.name().to_string());
    metadata.insert("config".to_string(), config_json);
    if let Some(source) = args.input.file_name() {
        metadata.insert(
            "converted_from".to_string(),
            source.to_string_lossy().into_owned(),
        );
    }
    let bytes = write_safetensors(sd, args.f16, &metadata).map_err(|e| e.to_string())?;
    std::fs::write(&args.output, &bytes)
        .map_err(|e| format!("cannot write {}: {e}", args.output.display()))?;
    eprintln!(
        "wrote {} ({} model, {} tensors, {:.1} MB, {})",
        args.output.display(),
        kind.name(),
        sd.tensors.len(),
        bytes.len() as f64 / 1e6,
        if args.f16 { "f16" } else { "f32" }
    );
    Ok(ExitCode::SUCCESS)
}
