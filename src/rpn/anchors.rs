//! Anchor generation.

use crate::box_ops::Box4;

/// Cell anchors centred on the origin, shifted over every feature-map location.
#[derive(Debug, Clone)]
pub struct AnchorGenerator {
    /// `[A]` anchors `[x1, y1, x2, y2]` around `(0, 0)`, index `ratio_idx * n_sizes + size_idx`.
    pub cell_anchors: Vec<Box4>,
}

impl AnchorGenerator {
    /// Builds the cell anchors in float32 as torchvision does, then rounds half to even
    /// (`torch.round`): `[-2, -0.5, 2, 0.5]` becomes `[-2, -0, 2, 0]`.
    pub fn new(sizes: &[f32], aspect_ratios: &[f32]) -> Self {
        let mut cell_anchors = Vec::with_capacity(sizes.len() * aspect_ratios.len());
        for &ratio in aspect_ratios {
            let h_ratio = ratio.sqrt();
            let w_ratio = 1.0 / h_ratio;
            for &size in sizes {
                let ws = w_ratio * size;
                let hs = h_ratio * size;
                let anchor = [-ws, -hs, ws, hs].map(|v| (v / 2.0).round_ties_even());
                cell_anchors.push(anchor);
            }
        }
        Self { cell_anchors }
    }

    /// Anchors per location.
    pub fn num_anchors(&self) -> usize {
        self.cell_anchors.len()
    }

    /// The anchor at flat index `index` of a level laid out `(y, x, a)` with `width` columns and
    /// the given stride in pixels `[stride_y, stride_x]`.
    pub fn anchor_at(&self, index: usize, width: usize, stride: [usize; 2]) -> Box4 {
        let a = index % self.num_anchors();
        let location = index / self.num_anchors();
        let shift_x = ((location % width) * stride[1]) as f32;
        let shift_y = ((location / width) * stride[0]) as f32;
        let c = self.cell_anchors[a];
        [
            c[0] + shift_x,
            c[1] + shift_y,
            c[2] + shift_x,
            c[3] + shift_y,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paper() -> AnchorGenerator {
        AnchorGenerator::new(
            &[2.0, 4.0, 8.0, 16.0, 32.0],
            &[0.1, 0.25, 0.5, 1.0, 1.5, 2.0],
        )
    }

    #[test]
    fn rounds_half_to_even() {
        let anchors = paper();
        assert_eq!(anchors.num_anchors(), 30);
        // Ratio 0.25, size 2: [-2, -0.5, 2, 0.5] -> [-2, 0, 2, 0].
        assert_eq!(anchors.cell_anchors[5], [-2.0, 0.0, 2.0, 0.0]);
        // Ratio 1, size 32.
        assert_eq!(anchors.cell_anchors[19], [-16.0, -16.0, 16.0, 16.0]);
        // Anchors 10, 15, 20 and 25 coincide.
        for a in [10, 15, 20, 25] {
            assert_eq!(
                anchors.cell_anchors[a],
                [-1.0, -1.0, 1.0, 1.0],
                "anchor {a}"
            );
        }
    }

    #[test]
    fn location_major_layout() {
        let anchors = paper();
        // Location (y = 1, x = 2) on a 5-wide map with stride 4, anchor 19.
        let index = (5 + 2) * 30 + 19;
        assert_eq!(
            anchors.anchor_at(index, 5, [4, 4]),
            [-8.0, -12.0, 24.0, 20.0]
        );
    }
}
