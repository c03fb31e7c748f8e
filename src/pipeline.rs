//! From a decoded slice to model inputs: the two pre-processing paths of the paper.
//!
//! - Segmentation: the model transform alone (normalise, resize the short side to 512 with
//!   modern torch bilinear semantics, pad to a multiple of 32).
//! - Classification: first Pillow's bilinear `Resize(512)` to 8-bit (as the authors' evaluation
//!   script does), then the same model transform, whose resize is then an identity.
//!
//! The app, the CLI and every evaluation use these two functions, so a slice always gets the
//! same pre-processing whatever path it takes.

use burn::prelude::*;
use image::RgbImage;

use crate::error::ModelError;
use crate::imaging::classifier_resize;
use crate::model::ModelInput;
use crate::transform::{Preprocessed, TransformConfig, preprocess};

fn to_input(p: Preprocessed, original: [usize; 2], device: &Device) -> ModelInput {
    ModelInput::new(p.data, p.padded, p.resized, original, device)
}

/// Longest side over shortest side accepted for a slice. CT slices are close to square; the
/// classifier's first resize (shorter side to 512) would turn a much longer image into a huge one.
pub const MAX_ASPECT_RATIO: u32 = 4;

/// Refuses images whose shape cannot be a CT slice (see [`MAX_ASPECT_RATIO`]).
pub fn check_slice_shape(image: &RgbImage) -> Result<(), ModelError> {
    let (w, h) = (image.width(), image.height());
    let (long, short) = (w.max(h), w.min(h).max(1));
    if long > MAX_ASPECT_RATIO * short {
        return Err(ModelError::UnsupportedImage(format!(
            "the image is {w}x{h} pixels; a CT slice is close to square (at most \
             {MAX_ASPECT_RATIO}:1)"
        )));
    }
    Ok(())
}

/// The segmentation model's input for `image`.
pub fn segmentation_input(
    image: &RgbImage,
    config: &TransformConfig,
    device: &Device,
) -> ModelInput {
    let original = [image.height() as usize, image.width() as usize];
    to_input(preprocess(image, config), original, device)
}

/// The classifier's input for `image` (Pillow resize first, then the model transform).
pub fn classification_input(
    image: &RgbImage,
    config: &TransformConfig,
    device: &Device,
) -> ModelInput {
    let resized = classifier_resize(image);
    let original = [resized.height() as usize, resized.width() as usize];
    to_input(preprocess(&resized, config), original, device)
}
