//! Reading weight files for the commands, with messages that name the file.

use std::path::Path;

use ct_mask_net::importer::{Checkpoint, read_checkpoint};
use ct_mask_net::model::ModelKind;

/// Reads and imports a checkpoint file.
pub fn read(path: &Path) -> Result<Checkpoint, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    read_checkpoint(&bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reads a checkpoint and checks it holds the expected model.
pub fn read_kind(path: &Path, expected: ModelKind) -> Result<Checkpoint, String> {
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
