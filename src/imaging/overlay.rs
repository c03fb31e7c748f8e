//! Drawing lesion masks and boxes over a slice.

use image::{Rgb, RgbImage};

/// Overlay colour of ground-glass opacity (amber).
pub const GGO_COLOUR: [u8; 3] = [255, 196, 0];
/// Overlay colour of consolidation (magenta).
pub const CONSOLIDATION_COLOUR: [u8; 3] = [230, 40, 140];

/// One class's contribution to an overlay.
#[derive(Debug, Clone)]
pub struct OverlayLayer<'a> {
    /// `[H * W]` row-major membership of each pixel.
    pub mask: &'a [bool],
    /// Boxes `[x1, y1, x2, y2]` in image pixels, drawn as outlines.
    pub boxes: &'a [[f32; 4]],
    /// Colour of the mask tint and the outlines.
    pub colour: [u8; 3],
}

fn blend(pixel: &mut Rgb<u8>, colour: [u8; 3], opacity: f32) {
    for (channel, &c) in pixel.0.iter_mut().zip(&colour) {
        *channel = (*channel as f32 * (1.0 - opacity) + c as f32 * opacity).round() as u8;
    }
}

fn outline(image: &mut RgbImage, b: &[f32; 4], colour: [u8; 3]) {
    let (w, h) = (image.width() as i64, image.height() as i64);
    if w == 0 || h == 0 {
        return;
    }
    let clamp_x = |v: f32| (v.round() as i64).clamp(0, w - 1) as u32;
    let clamp_y = |v: f32| (v.round() as i64).clamp(0, h - 1) as u32;
    let (x1, y1, x2, y2) = (clamp_x(b[0]), clamp_y(b[1]), clamp_x(b[2]), clamp_y(b[3]));
    for x in x1..=x2 {
        image.put_pixel(x, y1, Rgb(colour));
        image.put_pixel(x, y2, Rgb(colour));
    }
    for y in y1..=y2 {
        image.put_pixel(x1, y, Rgb(colour));
        image.put_pixel(x2, y, Rgb(colour));
    }
}

/// The slice with each layer's mask tinted at `opacity` (0 to 1) and its boxes outlined.
/// Masks whose length does not match the image are ignored.
pub fn render_overlay(slice: &RgbImage, layers: &[OverlayLayer], opacity: f32) -> RgbImage {
    let mut image = slice.clone();
    let opacity = opacity.clamp(0.0, 1.0);
    let width = image.width() as usize;
    for layer in layers {
        if layer.mask.len() != width * image.height() as usize {
            continue;
        }
        for (i, _) in layer.mask.iter().enumerate().filter(|(_, inside)| **inside) {
            let pixel = image.get_pixel_mut((i % width) as u32, (i / width) as u32);
            blend(pixel, layer.colour, opacity);
        }
    }
    for layer in layers {
        for b in layer.boxes {
            outline(&mut image, b, layer.colour);
        }
    }
    image
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tints_masked_pixels_and_outlines_boxes() {
        let slice = RgbImage::from_pixel(4, 4, Rgb([100, 100, 100]));
        let mut mask = vec![false; 16];
        mask[5] = true; // (1, 1)
        let layer = OverlayLayer {
            mask: &mask,
            boxes: &[[3.0, 3.0, 3.0, 3.0]],
            colour: [200, 0, 0],
        };
        let out = render_overlay(&slice, &[layer], 0.5);
        assert_eq!(out.get_pixel(1, 1).0, [150, 50, 50]);
        assert_eq!(out.get_pixel(0, 0).0, [100, 100, 100]);
        assert_eq!(out.get_pixel(3, 3).0, [200, 0, 0]);
    }
}
