//! Average precision as COCO computes it: detections of all images ranked by score, precision
//! made monotone (the running maximum from the right), then averaged over 101 recall points
//! `0, 0.01, ..., 1` (a recall point beyond the highest recall reached counts as precision 0).

/// AP of `ranked` detections, each `(score, true positive)`, against `truth_count` objects.
/// `None` when there is no object of the class (AP undefined; left out of means).
pub fn average_precision(ranked: &[(f32, bool)], truth_count: usize) -> Option<f64> {
    if truth_count == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..ranked.len()).collect();
    // Stable: equal scores keep their input order.
    order.sort_by(|&a, &b| ranked[b].0.total_cmp(&ranked[a].0));

    let mut precision = Vec::with_capacity(order.len());
    let mut recall = Vec::with_capacity(order.len());
    let (mut tp, mut fp) = (0usize, 0usize);
    for &i in &order {
        if ranked[i].1 {
            tp += 1;
        } else {
            fp += 1;
        }
        precision.push(tp as f64 / (tp + fp) as f64);
        recall.push(tp as f64 / truth_count as f64);
    }
    for i in (1..precision.len()).rev() {
        if precision[i] > precision[i - 1] {
            precision[i - 1] = precision[i];
        }
    }
    let mut sum = 0.0;
    for k in 0..=100 {
        let r = k as f64 / 100.0;
        // First rank whose recall reaches r.
        let at = recall.partition_point(|&v| v < r - 1e-12);
        if at < precision.len() {
            sum += precision[at];
        }
    }
    Some(sum / 101.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_empty_rankings() {
        assert_eq!(average_precision(&[(0.9, true), (0.8, true)], 2), Some(1.0));
        assert_eq!(average_precision(&[], 3), Some(0.0));
        assert_eq!(average_precision(&[(0.9, true)], 0), None);
    }

    #[test]
    fn hand_computed_ranking() {
        // Ranked: TP, FP, TP against 4 objects. Precision 1, 1/2, 2/3 -> monotone 1, 2/3, 2/3.
        // Recall 0.25, 0.25, 0.5. Points r <= 0.25 (26 of them) get 1; 0.26..0.5 (25) get 2/3;
        // the rest 0.
        let ranked = [(0.9, true), (0.8, false), (0.7, true)];
        let expected = (26.0 + 25.0 * 2.0 / 3.0) / 101.0;
        let ap = average_precision(&ranked, 4).unwrap();
        assert!((ap - expected).abs() < 1e-12, "{ap} vs {expected}");
        // The input order does not matter, only the scores.
        let shuffled = [(0.7, true), (0.9, true), (0.8, false)];
        assert_eq!(average_precision(&shuffled, 4).unwrap(), ap);
    }
}
