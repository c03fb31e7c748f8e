//! Box operations on `[x1, y1, x2, y2]` boxes in pixels.
//!
//! These run on the host, on the few thousand candidate boxes that the device stages hand over
//! (one asynchronous read-back per stage). They follow torchvision's float32 arithmetic step by
//! step, because NMS and ranking decisions sit at float32 noise level (see
//! `../shared/oracle/README.md` §9).

mod coder;
mod nms;

pub use coder::BoxCoder;
pub use nms::{batched_nms, nms};

/// An axis-aligned box `[x1, y1, x2, y2]`.
pub type Box4 = [f32; 4];

/// Area `(x2 - x1) * (y2 - y1)`, without the legacy `+1`.
pub fn area(b: &Box4) -> f32 {
    (b[2] - b[0]) * (b[3] - b[1])
}

/// Clamps x to `[0, width]` and y to `[0, height]` (not `width - 1`).
pub fn clip(b: &Box4, height: f32, width: f32) -> Box4 {
    [
        b[0].clamp(0.0, width),
        b[1].clamp(0.0, height),
        b[2].clamp(0.0, width),
        b[3].clamp(0.0, height),
    ]
}

/// Intersection over union as torchvision's NMS computes it: two empty boxes give `NaN`, which
/// never exceeds a threshold.
pub fn iou(a: &Box4, b: &Box4) -> f32 {
    let w = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let h = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = w * h;
    inter / (area(a) + area(b) - inter)
}

/// Scales boxes from one image size to another, per axis (`[height, width]`), in float32 as
/// torchvision's `resize_boxes` does.
pub fn rescale(b: &Box4, from: [usize; 2], to: [usize; 2]) -> Box4 {
    let ratio_h = to[0] as f32 / from[0] as f32;
    let ratio_w = to[1] as f32 / from[1] as f32;
    [
        b[0] * ratio_w,
        b[1] * ratio_h,
        b[2] * ratio_w,
        b[3] * ratio_h,
    ]
}

/// Indices of `scores` sorted by descending score; equal scores keep their input order.
pub fn argsort_descending(scores: &[f32]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&i, &j| scores[j].total_cmp(&scores[i]));
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_overlapping_boxes() {
        // Intersection 1x1 = 1, union 4 + 4 - 1 = 7.
        assert_eq!(iou(&[0.0, 0.0, 2.0, 2.0], &[1.0, 1.0, 3.0, 3.0]), 1.0 / 7.0);
        assert_eq!(iou(&[0.0, 0.0, 1.0, 1.0], &[2.0, 2.0, 3.0, 3.0]), 0.0);
        assert!(iou(&[1.0, 1.0, 1.0, 3.0], &[1.0, 1.0, 1.0, 3.0]).is_nan());
    }

    #[test]
    fn clip_uses_inclusive_image_size() {
        assert_eq!(
            clip(&[-3.0, -1.0, 600.0, 40.0], 30.0, 512.0),
            [0.0, 0.0, 512.0, 30.0]
        );
    }

    #[test]
    fn rescale_per_axis() {
        let b = rescale(&[10.0, 20.0, 30.0, 40.0], [512, 561], [400, 439]);
        assert_eq!(
            b,
            [
                10.0 * (439.0 / 561.0),
                20.0 * 0.78125,
                30.0 * (439.0 / 561.0),
                40.0 * 0.78125
            ]
        );
    }

    #[test]
    fn argsort_is_stable_on_ties() {
        assert_eq!(argsort_descending(&[0.5, 0.9, 0.5, 1.0]), vec![3, 1, 0, 2]);
    }
}
