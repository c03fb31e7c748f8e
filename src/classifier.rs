//! Module S: classifies the whole slice from the detector's ranked box predictions.
//!
//! Input: the `N = 256` best detections in descending score order, each row
//! `[score, tx, ty, tw, th]` with the *raw* box-regression outputs of its class, flattened
//! row-major to `5N` values. Two hidden layers of 1024 with ReLU (the paper draws one; the code
//! and checkpoints have two), then 3 logits: 0 Control, 1 common pneumonia, 2 COVID-19.

use burn::nn::Linear;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::config::ClassifierConfig;
use crate::roi_heads::Detections;
use crate::weights::WeightLoader;

/// Module S (`s2new.*`).
#[derive(Module, Debug)]
pub struct ModuleS {
    fc_scores: Linear,
    fc_scores_2: Linear,
    fc_scores_img: Linear,
}

/// S's output with its hidden pre-activations (for parity checks and the "why" view).
#[derive(Debug, Clone)]
pub struct SOutput {
    /// `[B, hidden]` first hidden layer before ReLU.
    pub hidden1_preact: Tensor<2>,
    /// `[B, hidden]` second hidden layer before ReLU.
    pub hidden2_preact: Tensor<2>,
    /// `[B, classes]` logits.
    pub logits: Tensor<2>,
}

impl ModuleS {
    /// Loads `prefix.{fc_scores,fc_scores_2,fc_scores_img}`.
    pub fn load(w: &WeightLoader, prefix: &str, config: &ClassifierConfig) -> Self {
        let inputs = config.num_detections * config.values_per_detection;
        Self {
            fc_scores: w.linear(&format!("{prefix}.fc_scores"), inputs, config.hidden),
            fc_scores_2: w.linear(
                &format!("{prefix}.fc_scores_2"),
                config.hidden,
                config.hidden,
            ),
            fc_scores_img: w.linear(
                &format!("{prefix}.fc_scores_img"),
                config.hidden,
                config.num_classes,
            ),
        }
    }

    /// # Shapes
    /// - `ranked`: `[B, N, 5]` -> logits `[B, classes]`
    pub fn forward(&self, ranked: Tensor<3>) -> Tensor<2> {
        self.forward_detailed(ranked).logits
    }

    /// Like [`Self::forward`], keeping the hidden pre-activations.
    ///
    /// # Shapes
    /// - `ranked`: `[B, N, 5]`
    pub fn forward_detailed(&self, ranked: Tensor<3>) -> SOutput {
        let x = ranked.flatten(1, 2);
        let hidden1_preact = self.fc_scores.forward(x);
        let hidden2_preact = self.fc_scores_2.forward(relu(hidden1_preact.clone()));
        let logits = self.fc_scores_img.forward(relu(hidden2_preact.clone()));
        SOutput {
            hidden1_preact,
            hidden2_preact,
            logits,
        }
    }
}

/// Builds S's `[N, 5]` input (row-major) from ranked detections.
///
/// With at least `n_rows` detections, the first `n_rows` are used. With fewer (`n > 0`), each
/// detection is repeated in order over contiguous runs: row `i` takes detection
/// `floor(i * n / n_rows)`, so every detection appears `floor` or `ceil` of `n_rows / n` times.
/// This replaces the original's clock-seeded random run lengths with a deterministic rule of the
/// same shape. With no detection at all, every row is zero (the original crashes there).
///
/// Returns the rows and whether padding happened.
pub fn ranked_boxes(detections: &Detections, n_rows: usize) -> (Vec<f32>, bool) {
    let n = detections.len();
    let mut rows = Vec::with_capacity(n_rows * 5);
    for i in 0..n_rows {
        if n == 0 {
            rows.extend_from_slice(&[0.0; 5]);
            continue;
        }
        let d = if n >= n_rows { i } else { i * n / n_rows };
        rows.push(detections.scores[d]);
        rows.extend_from_slice(&detections.raw_deltas[d]);
    }
    (rows, n < n_rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detections(n: usize) -> Detections {
        Detections {
            boxes: vec![[0.0; 4]; n],
            scores: (0..n).map(|i| 1.0 - i as f32 * 0.1).collect(),
            labels: vec![1; n],
            proposal_index: (0..n).collect(),
            raw_deltas: (0..n).map(|i| [i as f32; 4]).collect(),
        }
    }

    #[test]
    fn takes_the_best_rows_in_order() {
        let (rows, padded) = ranked_boxes(&detections(5), 3);
        assert!(!padded);
        assert_eq!(
            rows,
            vec![
                1.0, 0.0, 0.0, 0.0, 0.0, 0.9, 1.0, 1.0, 1.0, 1.0, 0.8, 2.0, 2.0, 2.0, 2.0
            ]
        );
    }

    #[test]
    fn pads_with_even_contiguous_runs() {
        let (rows, padded) = ranked_boxes(&detections(3), 8);
        assert!(padded);
        let sources: Vec<f32> = rows.chunks(5).map(|r| r[1]).collect();
        assert_eq!(sources, vec![0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
    }

    #[test]
    fn no_detection_gives_zero_rows() {
        let (rows, padded) = ranked_boxes(&detections(0), 4);
        assert!(padded);
        assert!(rows.iter().all(|&v| v == 0.0));
    }
}
