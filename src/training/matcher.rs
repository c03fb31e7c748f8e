//! Matching predictions (anchors, proposals) to ground-truth boxes by IoU, as torchvision's
//! `Matcher`, and sampling a balanced training batch from the result.

use crate::box_ops::{Box4, iou};
use crate::model::SplitMix;

/// What a prediction was matched to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The ground-truth box of this index.
    Object(usize),
    /// Background: best IoU below the low threshold (or no ground truth at all).
    Background,
    /// Between the thresholds: left out of the loss.
    Ignored,
}

/// IoU thresholds of a matcher.
#[derive(Debug, Clone, Copy)]
pub struct Matcher {
    /// IoU at or above which a prediction is matched to its best ground truth.
    pub high: f32,
    /// IoU below which a prediction is background.
    pub low: f32,
    /// Also match, for every ground truth, the predictions of its highest IoU (the RPN's rule,
    /// so every lesion gets anchors even when none reaches `high`).
    pub allow_low_quality: bool,
}

impl Matcher {
    /// Matches every box of `predictions` against `truth`.
    pub fn assign(&self, truth: &[Box4], predictions: &[Box4]) -> Vec<Match> {
        if truth.is_empty() {
            return vec![Match::Background; predictions.len()];
        }
        let mut best_for_truth = vec![0.0f32; truth.len()];
        let mut matches = Vec::with_capacity(predictions.len());
        let mut best_truth = Vec::with_capacity(predictions.len());
        for p in predictions {
            let (mut best, mut arg) = (f32::NEG_INFINITY, 0);
            for (g, t) in truth.iter().enumerate() {
                let q = iou(t, p);
                let q = if q.is_nan() { 0.0 } else { q };
                if q > best {
                    best = q;
                    arg = g;
                }
                if q > best_for_truth[g] {
                    best_for_truth[g] = q;
                }
            }
            best_truth.push(arg);
            matches.push(if best >= self.high {
                Match::Object(arg)
            } else if best < self.low {
                Match::Background
            } else {
                Match::Ignored
            });
        }
        if self.allow_low_quality {
            for (p, pred) in predictions.iter().enumerate() {
                let reaches_best = truth
                    .iter()
                    .enumerate()
                    .any(|(g, t)| best_for_truth[g] > 0.0 && iou(t, pred) == best_for_truth[g]);
                if reaches_best {
                    matches[p] = Match::Object(best_truth[p]);
                }
            }
        }
        matches
    }
}

/// A balanced batch: indices of positive and negative predictions.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sampled {
    /// Matched predictions, at most `batch * positive_fraction`.
    pub positive: Vec<usize>,
    /// Background predictions filling the rest of the batch.
    pub negative: Vec<usize>,
}

impl Sampled {
    /// Positives then negatives.
    pub fn all(&self) -> Vec<usize> {
        self.positive
            .iter()
            .chain(&self.negative)
            .copied()
            .collect()
    }
}

/// torchvision's `BalancedPositiveNegativeSampler`: up to `batch * positive_fraction` random
/// positives, then random negatives up to `batch` in all.
pub fn sample(
    matches: &[Match],
    batch: usize,
    positive_fraction: f32,
    rng: &mut SplitMix,
) -> Sampled {
    let mut positive: Vec<usize> = (0..matches.len())
        .filter(|&i| matches!(matches[i], Match::Object(_)))
        .collect();
    let mut negative: Vec<usize> = (0..matches.len())
        .filter(|&i| matches[i] == Match::Background)
        .collect();
    let n_pos = positive
        .len()
        .min((batch as f32 * positive_fraction) as usize);
    let n_neg = negative.len().min(batch - n_pos);
    choose(&mut positive, n_pos, rng);
    choose(&mut negative, n_neg, rng);
    Sampled { positive, negative }
}

/// Keeps `k` random elements of `items` (partial Fisher-Yates).
pub fn choose(items: &mut Vec<usize>, k: usize, rng: &mut SplitMix) {
    let k = k.min(items.len());
    for i in 0..k {
        let j = i + rng.below(items.len() - i);
        items.swap(i, j);
    }
    items.truncate(k);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_and_low_quality_matches() {
        let truth = [[0.0, 0.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0]];
        let predictions = [
            [0.0, 0.0, 10.0, 9.0],    // IoU 0.9 with truth 0
            [0.0, 0.0, 10.0, 6.0],    // 0.6: between
            [0.0, 0.0, 10.0, 2.0],    // 0.2: background
            [20.0, 20.0, 25.0, 25.0], // 0.25 with truth 1: its best
            [50.0, 50.0, 60.0, 60.0], // no overlap
        ];
        let strict = Matcher {
            high: 0.7,
            low: 0.3,
            allow_low_quality: false,
        };
        assert_eq!(
            strict.assign(&truth, &predictions),
            [
                Match::Object(0),
                Match::Ignored,
                Match::Background,
                Match::Background,
                Match::Background
            ]
        );
        let rpn = Matcher {
            allow_low_quality: true,
            ..strict
        };
        let m = rpn.assign(&truth, &predictions);
        assert_eq!(m[3], Match::Object(1));
        assert_eq!(m[4], Match::Background);
        assert_eq!(strict.assign(&[], &predictions), vec![Match::Background; 5]);
    }

    #[test]
    fn sampler_respects_the_positive_fraction_and_batch() {
        let mut matches = vec![Match::Background; 100];
        for m in matches.iter_mut().take(10) {
            *m = Match::Object(0);
        }
        matches[50] = Match::Ignored;
        let mut rng = SplitMix::new(3);
        let s = sample(&matches, 16, 0.25, &mut rng);
        assert_eq!((s.positive.len(), s.negative.len()), (4, 12));
        assert!(s.positive.iter().all(|&i| i < 10));
        assert!(
            s.negative
                .iter()
                .all(|&i| (10..100).contains(&i) && i != 50)
        );
        let mut unique = s.all();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 16);

        // Few positives: the rest of the batch is negatives.
        let s = sample(&matches, 64, 0.75, &mut rng);
        assert_eq!((s.positive.len(), s.negative.len()), (10, 54));
        // Seeded: the same seed gives the same batch.
        let a = sample(&matches, 16, 0.25, &mut SplitMix::new(9));
        let b = sample(&matches, 16, 0.25, &mut SplitMix::new(9));
        assert_eq!(a, b);
    }
}
