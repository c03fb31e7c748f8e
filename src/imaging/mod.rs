//! Decoding CT slices and the resizes that happen before the model's own transform.
//!
//! * [`decode_slice`] turns PNG or JPEG bytes into an 8-bit RGB image, as the authors' pipeline
//!   does with `PIL.Image.open(..).convert('RGB')`, and DICOM CT slices into the lung-windowed
//!   8-bit slice ([`read_dicom`], [`Window`]).
//! * [`pil_resize_bilinear`] is a bit-exact port of Pillow's `Image.resize(.., BILINEAR)`.
//! * [`classifier_resize`] is torchvision's `transforms.Resize(512)` on a PIL image, which the
//!   classification pipeline applies before the model transform.
//!
//! # Layout
//!
//! Every image here is an [`image::RgbImage`]: row-major, `height` rows of `width` pixels, three
//! interleaved `u8` channels (R, G, B) per pixel. Sizes are given as `width x height` (PIL order)
//! unless stated otherwise.

mod decode;
mod dicom;
mod dicom_guard;
mod overlay;
mod pil_resize;

pub use decode::{MAX_PIXELS, MAX_SIDE, MIN_SIDE, decode_slice, decode_slice_with};
pub(crate) use dicom::dicm_offset;
pub use dicom::{CtSlice, Window, WindowChoice, is_dicom, read_dicom};
pub use dicom_guard::check_lengths as check_dicom_lengths;
pub use overlay::{CONSOLIDATION_COLOUR, GGO_COLOUR, OverlayLayer, render_overlay};
pub use pil_resize::pil_resize_bilinear;

use image::RgbImage;
use thiserror::Error;

/// Longest side, in pixels, a slice is analysed at. CT slices are 512 to 1024 pixels; larger
/// images (photographs or screenshots of a viewer) are scaled down to this first, which bounds
/// the memory and time of the lesion masks, drawn at the slice's own size.
pub const MAX_ANALYSED_SIDE: u32 = 2048;

/// `image` scaled down (bilinear, aspect ratio kept) so that its longer side is at most
/// [`MAX_ANALYSED_SIDE`], with a note saying so; images within the limit come back unchanged
/// with no note. Lesion boxes and areas then refer to the scaled image.
pub fn fit_for_analysis(image: RgbImage) -> (RgbImage, Option<String>) {
    let (w, h) = image.dimensions();
    let longest = w.max(h);
    if longest <= MAX_ANALYSED_SIDE {
        return (image, None);
    }
    let scale = f64::from(MAX_ANALYSED_SIDE) / f64::from(longest);
    let (nw, nh) = (
        ((f64::from(w) * scale).round() as u32).max(1),
        ((f64::from(h) * scale).round() as u32).max(1),
    );
    let scaled = image::imageops::resize(&image, nw, nh, image::imageops::FilterType::Triangle);
    let note = format!(
        "The image is {w}x{h} pixels, larger than a CT slice; it was scaled down to {nw}x{nh} \
         before the analysis (lesion boxes and areas refer to that size)"
    );
    (scaled, Some(note))
}

/// The shorter side the classification pipeline resizes to (`transforms.Resize(512)`).
pub const CLASSIFIER_SHORT_SIDE: u32 = 512;

/// Why a slice could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImagingError {
    /// The input held no bytes at all.
    #[error("the image file is empty")]
    Empty,
    /// The bytes are not a PNG or JPEG image. `detected` names the format that was recognised
    /// instead (e.g. "GIF"), or says that the content was not recognised at all.
    #[error("unsupported image format: {detected}; only PNG, JPEG and DICOM slices are accepted")]
    UnsupportedFormat {
        /// What the content looked like, in plain words.
        detected: String,
    },
    /// The file claims to be PNG or JPEG but is truncated or otherwise damaged.
    #[error("the image data is corrupt or truncated: {0}")]
    Corrupt(String),
    /// The header announces an image too large to decode safely (see [`MAX_SIDE`] and
    /// [`MAX_PIXELS`]). Nothing was allocated for the pixels.
    #[error(
        "the image is too large ({width}x{height} pixels); the limit is {MAX_SIDE} pixels on a \
         side and {MAX_PIXELS} pixels in all"
    )]
    TooLarge {
        /// Width in pixels, from the file header.
        width: u32,
        /// Height in pixels, from the file header.
        height: u32,
    },
    /// A DICOM file that cannot be used; the message says why in plain words.
    #[error("{0}")]
    Dicom(String),
    /// The image is smaller than [`MIN_SIDE`] pixels on some side.
    #[error(
        "the image is too small ({width}x{height} pixels); each side needs at least {MIN_SIDE}"
    )]
    TooSmall {
        /// Width in pixels, from the file header.
        width: u32,
        /// Height in pixels, from the file header.
        height: u32,
    },
}

/// Output size `(width, height)` of torchvision's `transforms.Resize(short_side)` for an input of
/// `width x height`.
///
/// The shorter side becomes `short_side`; the longer becomes `int(short_side * long / short)`
/// (Python true division, then truncation). A square input becomes `short_side x short_side`.
/// A zero-sized input is returned unchanged.
pub fn classifier_output_size(width: u32, height: u32, short_side: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (width, height);
    }
    let (short, long) = if width <= height {
        (width, height)
    } else {
        (height, width)
    };
    // Both products are exact in f64 (< 2^53), and f64 division is correctly rounded, exactly
    // like Python's `int / int`.
    let new_long = (f64::from(short_side) * f64::from(long) / f64::from(short)).trunc();
    let new_long = if new_long >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        new_long as u32
    };
    if width <= height {
        (short_side, new_long)
    } else {
        (new_long, short_side)
    }
}

/// torchvision `transforms.Resize(512)` applied to a PIL RGB image: the classifier's resize.
///
/// The output size comes from [`classifier_output_size`] with [`CLASSIFIER_SHORT_SIDE`]; the
/// pixels from [`pil_resize_bilinear`] (Pillow's antialiased bilinear, uint8 output). When the
/// shorter side is already 512 the image is returned unchanged, as torchvision does.
///
/// # Shapes
///
/// `W x H` in, `W' x H'` out with `min(W', H') = 512`. For the 439x400 (W x H) test slice the
/// result is 561x512. Very elongated inputs give very long outputs (a 32x16384 slice becomes
/// 512x262144); [`decode_slice`] bounds the aspect ratio only through its side limits.
pub fn classifier_resize(img: &RgbImage) -> RgbImage {
    let (w, h) = img.dimensions();
    let (nw, nh) = classifier_output_size(w, h, CLASSIFIER_SHORT_SIDE);
    if (nw, nh) == (w, h) {
        return img.clone();
    }
    pil_resize_bilinear(img, nw, nh)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn very_large_images_are_scaled_down_with_a_note() {
        let (big, note) = fit_for_analysis(RgbImage::new(3000, 1000));
        assert_eq!(big.dimensions(), (2048, 683));
        let note = note.unwrap();
        assert!(
            note.contains("3000x1000") && note.contains("2048x683"),
            "{note}"
        );
        let (tall, _) = fit_for_analysis(RgbImage::new(100, 4096));
        assert_eq!(tall.dimensions(), (50, 2048));
        let (same, none) = fit_for_analysis(RgbImage::new(2048, 512));
        assert_eq!((same.dimensions(), none), ((2048, 512), None));
    }

    #[test]
    fn classifier_sizes() {
        assert_eq!(classifier_output_size(439, 400, 512), (561, 512));
        assert_eq!(classifier_output_size(400, 439, 512), (512, 561));
        assert_eq!(classifier_output_size(512, 512, 512), (512, 512));
        assert_eq!(classifier_output_size(256, 256, 512), (512, 512));
        // 512 * 1000 / 300 = 1706.67 -> 1706 (truncation, not rounding).
        assert_eq!(classifier_output_size(1000, 300, 512), (1706, 512));
        assert_eq!(classifier_output_size(0, 7, 512), (0, 7));
    }

    #[test]
    fn classifier_identity_when_short_side_is_512() {
        let img = RgbImage::from_fn(600, 512, |x, y| image::Rgb([x as u8, y as u8, 7]));
        assert_eq!(classifier_resize(&img), img);
    }
}
