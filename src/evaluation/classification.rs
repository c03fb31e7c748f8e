//! Slice classification metrics with the paper's definitions: per-class sensitivity
//! (recall, `TP / (TP + FN)`) and precision (`TP / (TP + FP)`), overall accuracy, and the
//! confusion matrix (rows true class, columns predicted; 0 normal, 1 pneumonia, 2 COVID-19).

use serde::{Deserialize, Serialize};

/// Number of slice classes.
pub const CLASSES: usize = 3;

/// Counts of (true, predicted) class pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// `counts[true][predicted]`.
    pub counts: [[usize; CLASSES]; CLASSES],
}

impl ConfusionMatrix {
    /// Adds one slice.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Slices counted.
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// Share of slices classified correctly; `None` without slices.
    pub fn accuracy(&self) -> Option<f64> {
        let correct: usize = (0..CLASSES).map(|c| self.counts[c][c]).sum();
        let total = self.total();
        (total > 0).then(|| correct as f64 / total as f64)
    }

    /// Sensitivity of `class`; `None` when no slice is of that class.
    pub fn sensitivity(&self, class: usize) -> Option<f64> {
        let row: usize = self.counts[class].iter().sum();
        (row > 0).then(|| self.counts[class][class] as f64 / row as f64)
    }

    /// Precision of `class`; `None` when no slice was predicted as that class.
    pub fn precision(&self, class: usize) -> Option<f64> {
        let column: usize = (0..CLASSES).map(|t| self.counts[t][class]).sum();
        (column > 0).then(|| self.counts[class][class] as f64 / column as f64)
    }
}

/// The index of the largest logit (the first on ties).
pub fn argmax(logits: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in logits.iter().enumerate() {
        if *v > logits[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_papers_confusion_matrix_gives_its_figures() {
        // Table 2's matrix (rows true Control, CP, COVID).
        let m = ConfusionMatrix {
            counts: [[8703, 738, 9], [406, 6767, 213], [14, 386, 3946]],
        };
        let pct = |v: Option<f64>| (v.unwrap() * 10000.0).round() / 100.0;
        assert_eq!(pct(m.sensitivity(2)), 90.80);
        assert_eq!(pct(m.sensitivity(1)), 91.62);
        assert_eq!(pct(m.sensitivity(0)), 92.10);
        assert_eq!(pct(m.accuracy()), 91.66);
        assert_eq!(m.total(), 21182);
        assert!(m.precision(2).unwrap() > 0.94);
    }

    #[test]
    fn empty_rows_are_undefined() {
        let mut m = ConfusionMatrix::default();
        assert_eq!(m.accuracy(), None);
        m.add(0, 1);
        assert_eq!(m.sensitivity(0), Some(0.0));
        assert_eq!(m.sensitivity(2), None);
        assert_eq!(m.precision(0), None);
        assert_eq!(m.precision(1), Some(0.0));
        assert_eq!(argmax(&[0.1, 0.5, 0.5]), 1);
    }
}
