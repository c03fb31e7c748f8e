//! Non-maximum suppression, exactly as torchvision's CPU kernel decides it.

use super::{Box4, argsort_descending, iou};

/// Greedy NMS: visits boxes by descending score and suppresses every later box whose IoU with a
/// kept box is strictly greater than `threshold`. Returns kept indices, best first.
pub fn nms(boxes: &[Box4], scores: &[f32], threshold: f32) -> Vec<usize> {
    let order = argsort_descending(scores);
    let mut suppressed = vec![false; boxes.len()];
    let mut keep = Vec::new();

    for (rank, &i) in order.iter().enumerate() {
        if suppressed[i] {
            continue;
        }
        keep.push(i);
        for &j in &order[rank + 1..] {
            if !suppressed[j] && iou(&boxes[i], &boxes[j]) > threshold {
                suppressed[j] = true;
            }
        }
    }
    keep
}

/// NMS applied independently within each group (class or pyramid level). Returns the kept
/// indices of all groups merged by descending score, like torchvision's `batched_nms`.
pub fn batched_nms(boxes: &[Box4], scores: &[f32], groups: &[usize], threshold: f32) -> Vec<usize> {
    let mut group_ids: Vec<usize> = groups.to_vec();
    group_ids.sort_unstable();
    group_ids.dedup();

    let mut keep = Vec::new();
    for group in group_ids {
        let members: Vec<usize> = (0..boxes.len()).filter(|&i| groups[i] == group).collect();
        let member_boxes: Vec<Box4> = members.iter().map(|&i| boxes[i]).collect();
        let member_scores: Vec<f32> = members.iter().map(|&i| scores[i]).collect();
        keep.extend(
            nms(&member_boxes, &member_scores, threshold)
                .into_iter()
                .map(|k| members[k]),
        );
    }

    keep.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]).then(i.cmp(&j)));
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suppresses_strictly_above_threshold() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 10.0, 5.0],
            [20.0, 20.0, 30.0, 30.0],
        ];
        // IoU(0, 1) = 50 / 100 = 0.5 exactly.
        assert_eq!(nms(&boxes, &[0.9, 0.8, 0.7], 0.5), vec![0, 1, 2]);
        assert_eq!(nms(&boxes, &[0.9, 0.8, 0.7], 0.49), vec![0, 2]);
        assert_eq!(nms(&boxes, &[0.1, 0.8, 0.7], 0.49), vec![1, 2]);
    }

    #[test]
    fn empty_boxes_never_suppress() {
        let boxes = [[5.0, 5.0, 5.0, 9.0], [5.0, 5.0, 5.0, 9.0]];
        assert_eq!(nms(&boxes, &[0.9, 0.8], 0.1), vec![0, 1]);
    }

    #[test]
    fn groups_are_independent_and_merged_by_score() {
        let boxes = [
            [0.0, 0.0, 10.0, 10.0],
            [0.0, 0.0, 10.0, 10.0],
            [1.0, 1.0, 10.0, 10.0],
        ];
        let scores = [0.5, 0.9, 0.7];
        assert_eq!(batched_nms(&boxes, &scores, &[0, 1, 0], 0.5), vec![1, 2]);
        assert_eq!(batched_nms(&boxes, &scores, &[0, 1, 2], 0.5), vec![1, 2, 0]);
    }
}
