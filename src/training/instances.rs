//! Lesion instances from a label mask: each 8-connected region of one label is one instance,
//! the unit Mask R-CNN learns to detect.

use crate::box_ops::Box4;

/// A per-pixel label mask: 0 background, 1 ground-glass opacity, 2 consolidation.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMask {
    /// `[H, W]`.
    pub size: [usize; 2],
    /// `[H * W]` labels, row-major.
    pub labels: Vec<u8>,
}

impl LabelMask {
    /// Mirrors the mask left to right.
    pub fn flipped(&self) -> Self {
        let [h, w] = self.size;
        let mut labels = Vec::with_capacity(h * w);
        for row in self.labels.chunks_exact(w) {
            labels.extend(row.iter().rev());
        }
        Self {
            size: self.size,
            labels,
        }
    }
}

/// One connected lesion region.
#[derive(Debug, Clone, PartialEq)]
pub struct Instance {
    /// Class: 1 GGO, 2 consolidation.
    pub label: usize,
    /// Tight box `[x_min, y_min, x_max + 1, y_max + 1]` in mask pixels.
    pub bbox: Box4,
    /// `[H * W]` membership, 1.0 inside the region (the mask's own size).
    pub mask: Vec<f32>,
    /// Pixels in the region.
    pub pixels: usize,
}

/// The instances of every label in `1..=max_label`, regions of fewer than `min_pixels` pixels
/// dropped, in scan order (by label, then by first pixel).
pub fn instances(mask: &LabelMask, max_label: u8, min_pixels: usize) -> Vec<Instance> {
    let [h, w] = mask.size;
    let mut seen = vec![false; h * w];
    let mut found = Vec::new();
    let mut stack = Vec::new();
    for label in 1..=max_label {
        for start in 0..h * w {
            if seen[start] || mask.labels[start] != label {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let mut members = Vec::new();
            while let Some(p) = stack.pop() {
                members.push(p);
                let (y, x) = ((p / w) as isize, (p % w) as isize);
                for dy in -1..=1 {
                    for dx in -1..=1 {
                        let (ny, nx) = (y + dy, x + dx);
                        if ny < 0 || nx < 0 || ny >= h as isize || nx >= w as isize {
                            continue;
                        }
                        let q = ny as usize * w + nx as usize;
                        if !seen[q] && mask.labels[q] == label {
                            seen[q] = true;
                            stack.push(q);
                        }
                    }
                }
            }
            if members.len() < min_pixels {
                continue;
            }
            let mut bbox = [f32::MAX, f32::MAX, f32::MIN, f32::MIN];
            let mut region = vec![0.0f32; h * w];
            for &p in &members {
                let (y, x) = ((p / w) as f32, (p % w) as f32);
                bbox = [
                    bbox[0].min(x),
                    bbox[1].min(y),
                    bbox[2].max(x + 1.0),
                    bbox[3].max(y + 1.0),
                ];
                region[p] = 1.0;
            }
            found.push(Instance {
                label: label as usize,
                bbox,
                mask: region,
                pixels: members.len(),
            });
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> LabelMask {
        let labels: Vec<u8> = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| b - b'0'))
            .collect();
        LabelMask {
            size: [rows.len(), rows[0].len()],
            labels,
        }
    }

    #[test]
    fn splits_regions_by_label_and_connectivity() {
        let m = mask(&["11000", "01002", "00022", "10000"]);
        let found = instances(&m, 2, 1);
        // GGO: the diagonal-connected blob and the lone pixel; consolidation: one region.
        assert_eq!(found.len(), 3);
        assert_eq!((found[0].label, found[0].pixels), (1, 3));
        assert_eq!(found[0].bbox, [0.0, 0.0, 2.0, 2.0]);
        assert_eq!((found[1].label, found[1].pixels), (1, 1));
        assert_eq!(found[1].bbox, [0.0, 3.0, 1.0, 4.0]);
        assert_eq!((found[2].label, found[2].pixels), (2, 3));
        assert_eq!(found[2].bbox, [3.0, 1.0, 5.0, 3.0]);
        assert_eq!(found[2].mask[4 + 5], 1.0);
        assert_eq!(found[2].mask[0], 0.0);

        // Small regions dropped.
        assert_eq!(instances(&m, 2, 2).len(), 2);
    }

    #[test]
    fn flipping_mirrors_rows() {
        let m = mask(&["120", "003"]);
        assert_eq!(m.flipped(), mask(&["021", "300"]));
    }
}
