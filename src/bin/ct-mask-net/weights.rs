//! Reading weight files for the commands, with messages that name the file.

use std::path::Path;

use ct_mask_net::importer::{Checkpoint, read_checkpoint};
use ct_mask_net::model::ModelKind;

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
    let checkpoint = read(path)?;
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
