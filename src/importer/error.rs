//! The one error type of the importer.
//!
//! Every message is written for a person who dropped a file into the app and needs to know what
//! is wrong with that file, not with our code.

use std::fmt::Write as _;

/// How many names of each kind [`ImportError::WrongArchitecture`] spells out before it only
/// counts the rest.
const LISTED_NAMES: usize = 10;

/// Why a checkpoint could not be read or does not fit the model.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file has no bytes at all.
    #[error("the file is empty (0 bytes): not a model checkpoint")]
    Empty,

    /// The bytes are not a PyTorch checkpoint (`.pth`, legacy or zip) nor a safetensors file.
    #[error(
        "this file is not a model checkpoint: it is neither a PyTorch .pth file nor a \
         .safetensors file"
    )]
    NotACheckpoint,

    /// The file ends before all of its contents were read (an interrupted download or copy).
    #[error(
        "the checkpoint file is incomplete: it ends before all of its contents were read \
         (was the download or copy interrupted?)"
    )]
    Truncated,

    /// The file has the shape of a checkpoint but its contents are damaged or malformed.
    #[error("the checkpoint file is damaged or malformed: {0}")]
    Corrupt(String),

    /// The checkpoint was read, but no set of model weights was found in it.
    #[error(
        "the checkpoint holds no model weights (no 'model_weights', 'state_dict' or 'model' \
         entry, and no weights at its top level)"
    )]
    NoWeights,

    /// A weight is stored in a number format the importer cannot convert to 32-bit floats.
    #[error("the weight '{tensor}' is stored as {dtype}, a number format this app cannot read")]
    UnsupportedDtype {
        /// Name of the weight (or storage) that has the format.
        tensor: String,
        /// The format as the file names it, for example `ComplexFloatStorage`.
        dtype: String,
    },

    /// The weights do not belong to the expected network.
    #[error("{}", describe_architecture(missing, unexpected, mismatched))]
    WrongArchitecture {
        /// Weights the model needs that the file lacks.
        missing: Vec<String>,
        /// Weights in the file that the model does not have.
        unexpected: Vec<String>,
        /// Weights present in both with different shapes: name, expected shape, shape in file.
        mismatched: Vec<(String, Vec<usize>, Vec<usize>)>,
    },
}

/// Builds the message of [`ImportError::WrongArchitecture`]: counts, then up to
/// [`LISTED_NAMES`] names of each kind.
fn describe_architecture(
    missing: &[String],
    unexpected: &[String],
    mismatched: &[(String, Vec<usize>, Vec<usize>)],
) -> String {
    let mut text = format!(
        "the checkpoint does not fit this model: {} weight(s) missing, {} unexpected, \
         {} with the wrong shape",
        missing.len(),
        unexpected.len(),
        mismatched.len()
    );
    append_list(&mut text, "missing", missing.iter().map(String::clone));
    append_list(
        &mut text,
        "unexpected",
        unexpected.iter().map(String::clone),
    );
    append_list(
        &mut text,
        "wrong shape",
        mismatched
            .iter()
            .map(|(name, want, got)| format!("{name} (model {want:?}, file {got:?})")),
    );
    text
}

/// Appends `; <label>: a, b, ... and N more` when `items` is not empty.
fn append_list(text: &mut String, label: &str, items: impl ExactSizeIterator<Item = String>) {
    let total = items.len();
    if total == 0 {
        return;
    }
    let shown: Vec<String> = items.take(LISTED_NAMES).collect();
    let _ = write!(text, "; {label}: {}", shown.join(", "));
    if total > shown.len() {
        let _ = write!(text, " and {} more", total - shown.len());
    }
}

impl ImportError {
    /// Shorthand for [`ImportError::Corrupt`] with a message.
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Self::Corrupt(message.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn architecture_message_counts_and_truncates_lists() {
        let missing: Vec<String> = (0..13).map(|i| format!("layer{i}.weight")).collect();
        let error = ImportError::WrongArchitecture {
            missing,
            unexpected: vec!["extra.bias".into()],
            mismatched: vec![("fc.weight".into(), vec![3, 4], vec![4, 3])],
        };
        let text = error.to_string();
        assert!(text.contains("13 weight(s) missing, 1 unexpected, 1 with the wrong shape"));
        assert!(text.contains("layer9.weight and 3 more"), "{text}");
        assert!(!text.contains("layer10.weight"), "{text}");
        assert!(
            text.contains("fc.weight (model [3, 4], file [4, 3])"),
            "{text}"
        );
    }
}
