//! Turning a kept result into the overlay image, and the image into canvas pixels or a PNG.

use image::{ExtendedColorType, ImageEncoder, RgbImage};
use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use super::state::SliceResult;
use crate::imaging::{CONSOLIDATION_COLOUR, GGO_COLOUR, OverlayLayer, render_overlay};

/// Drawing choices, read from the page's controls.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    /// Mask tint opacity, 0 to 1.
    pub opacity: f32,
    /// Draw ground-glass opacity.
    pub ggo: bool,
    /// Draw consolidation.
    pub consolidation: bool,
    /// Hide boxes scoring below this.
    pub min_score: f32,
}

/// The slice with the chosen lesion classes tinted and their boxes outlined.
///
/// Masks are the analyzer's per-class unions of the lesions scoring at least its `min_score`
/// (0.5); the `min_score` here filters the boxes only, because per-lesion masks are not kept.
pub fn overlay_image(result: &SliceResult, look: Look) -> RgbImage {
    let analysis = &result.analysis;
    let (Some(masks), Some(lesions)) = (&analysis.masks, &analysis.report.detections) else {
        return result.image.clone();
    };
    let boxes = |label: &str| -> Vec<[f32; 4]> {
        lesions
            .iter()
            .filter(|l| l.label == label && l.score >= look.min_score)
            .map(|l| l.bbox)
            .collect()
    };
    let ggo_boxes = boxes("ggo");
    let consolidation_boxes = boxes("consolidation");
    let mut layers = Vec::new();
    if look.ggo {
        layers.push(OverlayLayer {
            mask: &masks.ggo,
            boxes: &ggo_boxes,
            colour: GGO_COLOUR,
        });
    }
    if look.consolidation {
        layers.push(OverlayLayer {
            mask: &masks.consolidation,
            boxes: &consolidation_boxes,
            colour: CONSOLIDATION_COLOUR,
        });
    }
    render_overlay(&result.image, &layers, look.opacity)
}

/// Puts `image` on `canvas`, resizing the canvas to the image.
pub fn paint(canvas: &HtmlCanvasElement, image: &RgbImage) -> Result<(), JsValue> {
    let (width, height) = image.dimensions();
    canvas.set_width(width);
    canvas.set_height(height);
    let context: CanvasRenderingContext2d = canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d canvas context"))?
        .dyn_into()?;
    let rgba: Vec<u8> = image
        .pixels()
        .flat_map(|p| [p.0[0], p.0[1], p.0[2], 255])
        .collect();
    let data = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&rgba), width, height)?;
    context.put_image_data(&data, 0.0, 0.0)
}

/// PNG bytes of `image`.
pub fn encode_png(image: &RgbImage) -> Result<Vec<u8>, String> {
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(
            image.as_raw(),
            image.width(),
            image.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| format!("could not encode the PNG: {e}"))?;
    Ok(png)
}

/// `#rrggbb` of a colour, for the legend.
pub fn css_colour(colour: [u8; 3]) -> String {
    format!("#{:02x}{:02x}{:02x}", colour[0], colour[1], colour[2])
}
