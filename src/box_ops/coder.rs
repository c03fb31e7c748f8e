//! Encoding of boxes relative to reference boxes (Faster R-CNN parameterisation).

use super::Box4;

/// Decodes regression deltas `(dx, dy, dw, dh)` against reference boxes.
#[derive(Debug, Clone, Copy)]
pub struct BoxCoder {
    /// `(wx, wy, ww, wh)`: the deltas are divided by these before use.
    pub weights: [f32; 4],
    /// Upper bound of `dw`, `dh` before `exp` (`ln(1000 / 16)`).
    pub clip: f32,
}

impl BoxCoder {
    /// A coder with the standard clip `ln(1000 / 16)`.
    pub fn new(weights: [f32; 4]) -> Self {
        Self {
            weights,
            clip: (1000.0f64 / 16.0).ln() as f32,
        }
    }

    /// Applies `deltas` to `reference`, in torchvision's float32 order of operations (widths
    /// without `+1`, centre at `x1 + 0.5 w`, half sizes added and subtracted at the end).
    pub fn decode(&self, deltas: &[f32; 4], reference: &Box4) -> Box4 {
        let [wx, wy, ww, wh] = self.weights;
        let width = reference[2] - reference[0];
        let height = reference[3] - reference[1];
        let ctr_x = reference[0] + 0.5 * width;
        let ctr_y = reference[1] + 0.5 * height;

        let dx = deltas[0] / wx;
        let dy = deltas[1] / wy;
        let dw = (deltas[2] / ww).min(self.clip);
        let dh = (deltas[3] / wh).min(self.clip);

        let pred_ctr_x = dx * width + ctr_x;
        let pred_ctr_y = dy * height + ctr_y;
        let half_w = 0.5 * (dw.exp() * width);
        let half_h = 0.5 * (dh.exp() * height);

        [
            pred_ctr_x - half_w,
            pred_ctr_y - half_h,
            pred_ctr_x + half_w,
            pred_ctr_y + half_h,
        ]
    }

    /// The deltas that [`Self::decode`] maps `reference` to `target` with (used in training).
    pub fn encode(&self, target: &Box4, reference: &Box4) -> [f32; 4] {
        let [wx, wy, ww, wh] = self.weights;
        let ref_w = reference[2] - reference[0];
        let ref_h = reference[3] - reference[1];
        let ref_x = reference[0] + 0.5 * ref_w;
        let ref_y = reference[1] + 0.5 * ref_h;
        let gt_w = target[2] - target[0];
        let gt_h = target[3] - target[1];
        let gt_x = target[0] + 0.5 * gt_w;
        let gt_y = target[1] + 0.5 * gt_h;
        [
            wx * (gt_x - ref_x) / ref_w,
            wy * (gt_y - ref_y) / ref_h,
            ww * (gt_w / ref_w).ln(),
            wh * (gt_h / ref_h).ln(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_deltas_return_the_reference() {
        let coder = BoxCoder::new([10.0, 10.0, 5.0, 5.0]);
        assert_eq!(
            coder.decode(&[0.0; 4], &[2.0, 4.0, 12.0, 8.0]),
            [2.0, 4.0, 12.0, 8.0]
        );
    }

    #[test]
    fn decode_by_hand() {
        let coder = BoxCoder::new([1.0; 4]);
        // width 10, height 4, centre (7, 6); dx = 0.1 -> centre x 8; dw = ln 2 -> width 20.
        let b = coder.decode(
            &[0.1, 0.0, std::f32::consts::LN_2, 0.0],
            &[2.0, 4.0, 12.0, 8.0],
        );
        let expected = [-2.0, 4.0, 18.0, 8.0];
        for (got, want) in b.iter().zip(expected) {
            assert!((got - want).abs() < 1e-5, "{b:?}");
        }
    }

    #[test]
    fn large_size_deltas_are_clipped() {
        let coder = BoxCoder::new([1.0; 4]);
        let b = coder.decode(&[0.0, 0.0, 100.0, 100.0], &[0.0, 0.0, 1.0, 1.0]);
        assert!((b[2] - b[0] - 1000.0 / 16.0).abs() < 1e-3, "{b:?}");
    }

    #[test]
    fn encode_inverts_decode() {
        let coder = BoxCoder::new([10.0, 10.0, 5.0, 5.0]);
        let reference = [3.0, 5.0, 40.0, 22.0];
        let target = [1.0, 7.5, 33.0, 30.0];
        let back = coder.decode(&coder.encode(&target, &reference), &reference);
        for (got, want) in back.iter().zip(target) {
            assert!((got - want).abs() < 1e-4, "{back:?}");
        }
    }
}
