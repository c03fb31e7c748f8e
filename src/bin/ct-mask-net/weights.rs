//! Reading weight files for the commands, with messages that name the file.

use std::path::{Path, PathBuf};

use ct_mask_net::importer::{Checkpoint, read_checkpoint};
use ct_mask_net::model::ModelKind;

/// The project's default weights (both models in one file), as built into this binary's
/// source tree.
pub const DEFAULT_WEIGHTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/weights/ct-mask-net-default.safetensors"
);

/// `path`, or the default weights when none was given.
pub fn or_default(path: Option<&Path>) -> Result<PathBuf, String> {
    match path {
        Some(p) => Ok(p.to_path_buf()),
        None if Path::new(DEFAULT_WEIGHTS).is_file() => Ok(PathBuf::from(DEFAULT_WEIGHTS)),
        None => Err(format!(
            "no weights given and the default weights ({DEFAULT_WEIGHTS}) are missing: pass \
             --weights FILE (the authors' classification_model.pth or one of ours)"
        )),
    }
}

/// Whether `path` holds both models (the default weights' layout).
pub fn is_combined(path: &Path) -> Result<bool, String> {
    Ok(ct_mask_net::model::split_combined(&read(path)?.weights).is_some())
}

/// Reads and imports a checkpoint file.
pub fn read(path: &Path) -> Result<Checkpoint, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read_checkpoint(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a checkpoint and checks it holds the expected model; returns it with its detector
/// settings (saved in our files, the paper's otherwise).
pub fn read_kind(
    path: &Path,
    expected: ModelKind,
) -> Result<(Checkpoint, ct_mask_net::config::DetectorConfig), String> {
    let checkpoint = read_kind_with_settings(path, expected)?;
    let detector = ct_mask_net::model::detector_config(&checkpoint.weights, &checkpoint.metadata)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((checkpoint, detector))
}

/// Reads a checkpoint and checks it holds the expected model; its saved settings are the
/// caller's to use ([`segmentation_config`]).
pub fn read_kind_with_settings(path: &Path, expected: ModelKind) -> Result<Checkpoint, String> {
    let mut checkpoint = read(path)?;
    if let Some((classifier, segmenter)) = ct_mask_net::model::split_combined(&checkpoint.weights)
    {
        checkpoint.weights = match expected {
            ModelKind::Classification => classifier,
            ModelKind::Segmentation => segmenter,
        };
        return Ok(checkpoint);
    }
    let kind =
        ModelKind::detect(&checkpoint.weights).map_err(|e| format!("{}: {e}", path.display()))?;
    if kind != expected {
        return Err(format!(
            "{} holds a {} model, but a {} model is needed here",
            path.display(),
            kind.name(),
            expected.name()
        ));
    }
    Ok(checkpoint)
}

/// The segmentation model's settings for `checkpoint`: the `config` that this project's files
/// carry (anchor sizes and other settings that tensor shapes cannot reveal), checked against
/// the tensors, or, for other files (the authors'), the paper's settings with the backbone
/// inferred from the tensors.
pub fn segmentation_config(
    checkpoint: &Checkpoint,
) -> Result<ct_mask_net::config::SegmentationConfig, String> {
    use ct_mask_net::config::SegmentationConfig;
    let inferred = ct_mask_net::model::infer_detector_config(&checkpoint.weights);
    let Some(text) = checkpoint.metadata.get("config") else {
        return Ok(SegmentationConfig::new().with_detector(inferred));
    };
    let config: SegmentationConfig = serde_json::from_str(text)
        .map_err(|e| format!("the file's model settings cannot be read ({e})"))?;
    let (ours, theirs) = (&config.detector.backbone, &inferred.backbone);
    if (ours.depth, ours.truncation) != (theirs.depth, theirs.truncation) {
        return Err(format!(
            "the file's settings say ResNet-{} (truncation {}) but its tensors are ResNet-{} \
             (truncation {})",
            ours.depth, ours.truncation, theirs.depth, theirs.truncation
        ));
    }
    Ok(config)
}
