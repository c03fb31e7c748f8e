//! Pasting mask logits into the image, as torchvision's `paste_masks_in_image` does.

use crate::box_ops::Box4;

/// Bilinear resize of a row-major `[h_in, w_in]` map to `[h_out, w_out]`, half-pixel centres
/// (`align_corners=False`, scale `in / out`), sources below 0 clamped to 0.
fn resize_bilinear(src: &[f32], size_in: [usize; 2], size_out: [usize; 2]) -> Vec<f32> {
    let [h_in, w_in] = size_in;
    let [h_out, w_out] = size_out;
    let axis = |n_in: usize, n_out: usize| -> Vec<(usize, usize, f32)> {
        let scale = n_in as f32 / n_out as f32;
        (0..n_out)
            .map(|o| {
                let s = (scale * (o as f32 + 0.5) - 0.5).max(0.0);
                let lo = (s as usize).min(n_in - 1);
                let hi = if lo < n_in - 1 { lo + 1 } else { lo };
                (lo, hi, s - lo as f32)
            })
            .collect()
    };
    let ys = axis(h_in, h_out);
    let xs = axis(w_in, w_out);

    let mut out = Vec::with_capacity(h_out * w_out);
    for &(y0, y1, ly) in &ys {
        let hy = 1.0 - ly;
        for &(x0, x1, lx) in &xs {
            let hx = 1.0 - lx;
            let top = hx * src[y0 * w_in + x0] + lx * src[y0 * w_in + x1];
            let bottom = hx * src[y1 * w_in + x0] + lx * src[y1 * w_in + x1];
            out.push(hy * top + ly * bottom);
        }
    }
    out
}

/// Pastes one `[m, m]` mask (logits) for `b` (original-image pixels) into a zero image of
/// `image_size = [H, W]`.
///
/// Following torchvision: the mask is padded by one zero on each side, the box is widened by
/// `(m + 2) / m` around its centre and truncated to integers, the padded mask is resized to the
/// box's `(x2 - x1 + 1) x (y2 - y1 + 1)` pixels and copied in, clipped to the image.
pub fn paste_mask(mask: &[f32], m: usize, b: &Box4, image_size: [usize; 2]) -> Vec<f32> {
    let [im_h, im_w] = image_size;
    let padded_side = m + 2;
    let mut padded = vec![0.0f32; padded_side * padded_side];
    for y in 0..m {
        padded[(y + 1) * padded_side + 1..(y + 1) * padded_side + 1 + m]
            .copy_from_slice(&mask[y * m..(y + 1) * m]);
    }

    let scale = (padded_side as f64 / m as f64) as f32;
    let w_half = (b[2] - b[0]) * 0.5 * scale;
    let h_half = (b[3] - b[1]) * 0.5 * scale;
    let x_c = (b[2] + b[0]) * 0.5;
    let y_c = (b[3] + b[1]) * 0.5;
    let expanded = [x_c - w_half, y_c - h_half, x_c + w_half, y_c + h_half].map(|v| v as i64);

    let w = (expanded[2] - expanded[0] + 1).max(1);
    let h = (expanded[3] - expanded[1] + 1).max(1);
    let resized = resize_bilinear(
        &padded,
        [padded_side, padded_side],
        [h as usize, w as usize],
    );

    let mut image = vec![0.0f32; im_h * im_w];
    let x0 = expanded[0].max(0);
    let x1 = (expanded[2] + 1).min(im_w as i64);
    let y0 = expanded[1].max(0);
    let y1 = (expanded[3] + 1).min(im_h as i64);
    for y in y0..y1 {
        let src_row = (y - expanded[1]) as usize * w as usize;
        for x in x0..x1 {
            image[y as usize * im_w + x as usize] = resized[src_row + (x - expanded[0]) as usize];
        }
    }
    image
}

/// Pastes `masks` (`[D, m, m]` row-major) for `boxes` into `[D, H, W]` images.
pub fn paste_masks(
    masks: &[f32],
    m: usize,
    boxes: &[Box4],
    image_size: [usize; 2],
) -> Vec<Vec<f32>> {
    boxes
        .iter()
        .enumerate()
        .map(|(i, b)| paste_mask(&masks[i * m * m..(i + 1) * m * m], m, b, image_size))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_identity_and_constant() {
        let src: Vec<f32> = (0..9).map(|v| v as f32).collect();
        assert_eq!(resize_bilinear(&src, [3, 3], [3, 3]), src);
        let ones = vec![1.0; 4];
        assert!(
            resize_bilinear(&ones, [2, 2], [5, 7])
                .iter()
                .all(|&v| (v - 1.0).abs() < 1e-6)
        );
    }

    #[test]
    fn pasted_mask_covers_the_box() {
        let mask = vec![5.0f32; 28 * 28];
        let image = paste_mask(&mask, 28, &[10.0, 20.0, 40.0, 30.0], [64, 64]);
        // Inside the box the logit is positive, far outside it is zero.
        assert!(image[25 * 64 + 25] > 4.0);
        assert_eq!(image[5 * 64 + 5], 0.0);
        assert_eq!(image[25 * 64 + 50], 0.0);
    }
}
