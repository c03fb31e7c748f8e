//! PNG/JPEG decoding to 8-bit RGB, with size checks made on the header before any pixel buffer
//! is allocated.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

use super::ImagingError;

/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 16_384;
/// Largest accepted pixel count (`width * height`): 100 Mpixel.
pub const MAX_PIXELS: u64 = 100_000_000;
/// Smallest accepted width or height, in pixels.
pub const MIN_SIDE: u32 = 32;

/// Decodes a PNG or JPEG slice into 8-bit RGB, like `PIL.Image.open(..).convert('RGB')`; a
/// DICOM file (recognised by its "DICM" marker) becomes its lung-windowed slice
/// ([`super::read_dicom`], [`super::Window::LUNG`]).
///
/// The format is sniffed from the content (magic bytes), never from a file name.
///
/// * Grayscale is replicated to three identical channels.
/// * An alpha channel (gray+alpha, RGBA, palette with transparency) is dropped, not composited.
/// * Palette images are expanded to their RGB colours.
/// * An EXIF orientation (JPEG, PNG) is applied, as a viewer shows the image; Pillow's
///   `open` does not apply it, so for such files our pixels are the displayed ones.
/// * 16-bit samples become 8-bit as `round(v / 257)`, so the full 16-bit range maps onto
///   0..=255. **This deliberately differs from Pillow**, whose `convert('RGB')` of a 16-bit
///   grayscale image clips the raw value at 255 (almost every pixel turns white). All reference
///   inputs are 8-bit, where both agree.
/// * JPEG decoding uses the `image` crate's decoder; its IDCT and upsampling need not match
///   libjpeg (Pillow) bit for bit, so JPEG pixels may differ from Pillow's by a few levels.
///
/// # Errors
///
/// [`ImagingError::Empty`] for no bytes, [`ImagingError::UnsupportedFormat`] when the content is
/// not PNG or JPEG, [`ImagingError::TooLarge`] / [`ImagingError::TooSmall`] from the header
/// dimensions (checked before decoding), [`ImagingError::Corrupt`] for truncated or bad data.
///
/// # Shapes
///
/// The returned image has the file's `width x height`, row-major, 3 interleaved `u8` channels.
pub fn decode_slice(bytes: &[u8]) -> Result<RgbImage, ImagingError> {
    decode_slice_with(bytes, super::WindowChoice::Fixed(super::Window::LUNG))
}

/// As [`decode_slice`], with DICOM slices windowed as `window` says.
pub fn decode_slice_with(
    bytes: &[u8],
    window: super::WindowChoice,
) -> Result<RgbImage, ImagingError> {
    if bytes.is_empty() {
        return Err(ImagingError::Empty);
    }
    if super::is_dicom(bytes) {
        let slice = super::read_dicom(bytes)?;
        return Ok(slice.windowed(slice.window(window)));
    }
    let format = sniff(bytes)?;

    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| match (e, declared_png_size(bytes)) {
            // A 32-bit target (the page) can overflow the decoder's own size arithmetic
            // before our limits are applied: report the declared size.
            (ImageError::Limits(_), Some((width, height))) => {
                ImagingError::TooLarge { width, height }
            }
            (other, _) => corrupt(&other),
        })?;
    check_dimensions(width, height)?;

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::no_limits();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // Room for the largest accepted image at 16 bits x 4 channels, plus decoder scratch.
    limits.max_alloc = Some(MAX_PIXELS * 8 + (64 << 20));
    reader.limits(limits);
    let failed = |e: ImageError| match e {
        ImageError::Limits(_) => ImagingError::TooLarge { width, height },
        other => corrupt(&other),
    };
    let mut decoder = reader.into_decoder().map_err(failed)?;
    // Unreadable orientation metadata is ignored: the pixels are what counts.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(failed)?;
    if decoded.width() != width || decoded.height() != height {
        return Err(ImagingError::Corrupt(format!(
            "the header says {width}x{height} but {}x{} pixels were decoded",
            decoded.width(),
            decoded.height()
        )));
    }
    decoded.apply_orientation(orientation);
    Ok(to_rgb8(decoded))
}

/// Recognises PNG and JPEG by their magic bytes; names anything else it recognises.
fn sniff(bytes: &[u8]) -> Result<ImageFormat, ImagingError> {
    match image::guess_format(bytes) {
        Ok(ImageFormat::Png) => Ok(ImageFormat::Png),
        Ok(ImageFormat::Jpeg) => Ok(ImageFormat::Jpeg),
        Ok(other) => Err(ImagingError::UnsupportedFormat {
            detected: format!("the content looks like {}", format_name(other)),
        }),
        Err(_) => Err(ImagingError::UnsupportedFormat {
            detected: "the content is not a recognised image".to_owned(),
        }),
    }
}

/// A plain name for a format, e.g. "a GIF image".
fn format_name(format: ImageFormat) -> String {
    let ext = format
        .extensions_str()
        .first()
        .copied()
        .unwrap_or("unknown");
    format!("a {} image", ext.to_ascii_uppercase())
}

/// The decoder's message on one line (some span several, which would also break CSV rows).
fn corrupt(e: &ImageError) -> ImagingError {
    ImagingError::Corrupt(
        e.to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    )
}

/// Width and height a PNG's IHDR chunk declares, read without decoding anything.
fn declared_png_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if bytes.get(12..16)? != b"IHDR" {
        return None;
    }
    let word = |at: usize| Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?));
    Some((word(16)?, word(20)?))
}

/// Applies [`MIN_SIDE`], [`MAX_SIDE`] and [`MAX_PIXELS`].
fn check_dimensions(width: u32, height: u32) -> Result<(), ImagingError> {
    let pixels = u64::from(width) * u64::from(height);
    if width > MAX_SIDE || height > MAX_SIDE || pixels > MAX_PIXELS {
        return Err(ImagingError::TooLarge { width, height });
    }
    if width < MIN_SIDE || height < MIN_SIDE {
        return Err(ImagingError::TooSmall { width, height });
    }
    Ok(())
}

/// `round(v / 257)` in integers: maps 0..=65535 onto 0..=255.
fn u16_to_u8(v: u16) -> u8 {
    // (v * 255 + 32767) / 65535 <= 255, so the cast is lossless.
    ((u32::from(v) * 255 + 32_767) / 65_535) as u8
}

/// Converts any decoded layout to RGB8: gray replicated, alpha dropped, 16-bit rounded.
fn to_rgb8(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    match img {
        DynamicImage::ImageRgb8(rgb) => rgb,
        DynamicImage::ImageLuma8(g) => RgbImage::from_fn(w, h, |x, y| {
            let v = g.get_pixel(x, y).0[0];
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageLumaA8(g) => RgbImage::from_fn(w, h, |x, y| {
            let v = g.get_pixel(x, y).0[0];
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageRgba8(c) => RgbImage::from_fn(w, h, |x, y| {
            let [r, g, b, _] = c.get_pixel(x, y).0;
            image::Rgb([r, g, b])
        }),
        DynamicImage::ImageLuma16(g) => RgbImage::from_fn(w, h, |x, y| {
            let v = u16_to_u8(g.get_pixel(x, y).0[0]);
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageLumaA16(g) => RgbImage::from_fn(w, h, |x, y| {
            let v = u16_to_u8(g.get_pixel(x, y).0[0]);
            image::Rgb([v, v, v])
        }),
        DynamicImage::ImageRgb16(c) => RgbImage::from_fn(w, h, |x, y| {
            let [r, g, b] = c.get_pixel(x, y).0;
            image::Rgb([u16_to_u8(r), u16_to_u8(g), u16_to_u8(b)])
        }),
        DynamicImage::ImageRgba16(c) => RgbImage::from_fn(w, h, |x, y| {
            let [r, g, b, _] = c.get_pixel(x, y).0;
            image::Rgb([u16_to_u8(r), u16_to_u8(g), u16_to_u8(b)])
        }),
        // Float layouts are never produced by the PNG/JPEG decoders; convert generically.
        other => other.to_rgb8(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ExtendedColorType, ImageEncoder, codecs::png::PngEncoder};

    fn encode_png(data: &[u8], w: u32, h: u32, color: ExtendedColorType) -> Vec<u8> {
        let mut out = Vec::new();
        PngEncoder::new(&mut out)
            .write_image(data, w, h, color)
            .expect("encode test PNG");
        out
    }

    fn gray_ramp(w: u32, h: u32) -> Vec<u8> {
        (0..w * h).map(|i| (i * 7 % 256) as u8).collect()
    }

    #[test]
    fn rounding_16_to_8() {
        assert_eq!(u16_to_u8(0), 0);
        assert_eq!(u16_to_u8(128), 0);
        assert_eq!(u16_to_u8(129), 1);
        assert_eq!(u16_to_u8(257), 1);
        assert_eq!(u16_to_u8(257 * 200 + 128), 200);
        assert_eq!(u16_to_u8(257 * 200 + 129), 201);
        assert_eq!(u16_to_u8(65535), 255);
        for v in 0..=u16::MAX {
            assert_eq!(u16_to_u8(v), (f64::from(v) / 257.0).round() as u8, "v={v}");
        }
    }

    #[test]
    fn empty_and_unsupported() {
        assert_eq!(decode_slice(&[]), Err(ImagingError::Empty));
        let text = b"this is a text file renamed to slice.png\n";
        let e = decode_slice(text).unwrap_err();
        assert!(matches!(e, ImagingError::UnsupportedFormat { .. }), "{e}");
        let gif = b"GIF89a\x20\x00\x20\x00\x00\x00\x00";
        let e = decode_slice(gif).unwrap_err();
        assert!(e.to_string().contains("GIF"), "{e}");
    }

    #[test]
    fn gray8_replicated() {
        let data = gray_ramp(40, 33);
        let img = decode_slice(&encode_png(&data, 40, 33, ExtendedColorType::L8)).unwrap();
        assert_eq!(img.dimensions(), (40, 33));
        for (i, p) in img.pixels().enumerate() {
            assert_eq!(p.0, [data[i]; 3]);
        }
    }

    #[test]
    fn truncated_png_is_corrupt() {
        let png = encode_png(&gray_ramp(64, 64), 64, 64, ExtendedColorType::L8);
        for cut in [10, 30, png.len() / 2, png.len() - 13] {
            let e = decode_slice(&png[..cut]).unwrap_err();
            assert!(matches!(e, ImagingError::Corrupt(_)), "cut {cut}: {e}");
        }
    }

    #[test]
    fn sixteen_bit_gray_and_rgb() {
        // The encoder takes native-endian 16-bit samples.
        let vals: Vec<u16> = (0..48 * 40)
            .map(|i| (i as u32 * 37 % 65536) as u16)
            .collect();
        let bytes: Vec<u8> = vals.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let img = decode_slice(&encode_png(&bytes, 48, 40, ExtendedColorType::L16)).unwrap();
        for (p, v) in img.pixels().zip(&vals) {
            assert_eq!(p.0, [u16_to_u8(*v); 3]);
        }
        let rgb: Vec<u16> = (0..48 * 40 * 3)
            .map(|i| (i as u32 * 101 % 65536) as u16)
            .collect();
        let bytes: Vec<u8> = rgb.iter().flat_map(|v| v.to_ne_bytes()).collect();
        let img = decode_slice(&encode_png(&bytes, 48, 40, ExtendedColorType::Rgb16)).unwrap();
        for (p, v) in img.pixels().zip(rgb.chunks(3)) {
            assert_eq!(p.0, [u16_to_u8(v[0]), u16_to_u8(v[1]), u16_to_u8(v[2])]);
        }
    }

    #[test]
    fn alpha_dropped() {
        let la: Vec<u8> = (0..32 * 32).flat_map(|i| [(i % 251) as u8, 17]).collect();
        let img = decode_slice(&encode_png(&la, 32, 32, ExtendedColorType::La8)).unwrap();
        for (p, v) in img.pixels().zip(la.chunks(2)) {
            assert_eq!(p.0, [v[0]; 3]);
        }
        let rgba: Vec<u8> = (0..32 * 32 * 4).map(|i| (i % 253) as u8).collect();
        let img = decode_slice(&encode_png(&rgba, 32, 32, ExtendedColorType::Rgba8)).unwrap();
        for (p, v) in img.pixels().zip(rgba.chunks(4)) {
            assert_eq!(p.0, [v[0], v[1], v[2]]);
        }
    }

    #[test]
    fn size_limits() {
        let small = encode_png(&gray_ramp(31, 40), 31, 40, ExtendedColorType::L8);
        assert_eq!(
            decode_slice(&small),
            Err(ImagingError::TooSmall {
                width: 31,
                height: 40
            })
        );
        assert!(check_dimensions(MAX_SIDE + 1, 32).is_err());
        assert!(check_dimensions(16_000, 16_000).is_err()); // 256 Mpixel
        assert!(check_dimensions(10_000, 10_000).is_ok());
        // A valid header announcing 20000x20000 must be refused before any pixel allocation.
        let png = raw_png(20_000, 20_000, 0, None, None, &[0, 0]);
        assert_eq!(
            decode_slice(&png),
            Err(ImagingError::TooLarge {
                width: 20_000,
                height: 20_000
            })
        );
    }

    /// Hand-built PNG (8-bit, one IDAT) so that palette and odd headers can be tested.
    fn raw_png(
        w: u32,
        h: u32,
        color_type: u8,
        plte: Option<&[u8]>,
        trns: Option<&[u8]>,
        raw_rows: &[u8],
    ) -> Vec<u8> {
        use std::io::Write;
        fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
            out.extend_from_slice(&(data.len() as u32).to_be_bytes());
            out.extend_from_slice(kind);
            out.extend_from_slice(data);
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            out.extend_from_slice(&crc.sum().to_be_bytes());
        }
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, color_type, 0, 0, 0]);
        chunk(&mut out, b"IHDR", &ihdr);
        if let Some(p) = plte {
            chunk(&mut out, b"PLTE", p);
        }
        if let Some(t) = trns {
            chunk(&mut out, b"tRNS", t);
        }
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(raw_rows).unwrap();
        chunk(&mut out, b"IDAT", &z.finish().unwrap());
        chunk(&mut out, b"IEND", &[]);
        out
    }

    #[test]
    fn palette_expanded_alpha_dropped() {
        let palette: Vec<u8> = (0..4u8)
            .flat_map(|i| [i * 60, 255 - i * 50, i * 3 + 1])
            .collect();
        let (w, h) = (33u32, 32u32);
        let index = |x: u32, y: u32| ((x + 2 * y) % 4) as u8;
        let mut rows = Vec::new();
        for y in 0..h {
            rows.push(0); // filter type None
            rows.extend((0..w).map(|x| index(x, y)));
        }
        for trns in [None, Some(&[0u8, 128][..])] {
            let img = decode_slice(&raw_png(w, h, 3, Some(&palette), trns, &rows)).unwrap();
            for (x, y, p) in img.enumerate_pixels() {
                let i = usize::from(index(x, y)) * 3;
                assert_eq!(p.0[..], palette[i..i + 3]);
            }
        }
    }

    #[test]
    fn jpeg_decodes() {
        let data = gray_ramp(48, 40);
        let mut jpg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 95)
            .write_image(&data, 48, 40, ExtendedColorType::L8)
            .unwrap();
        let img = decode_slice(&jpg).unwrap();
        assert_eq!(img.dimensions(), (48, 40));
        assert!(img.pixels().all(|p| p.0[0] == p.0[1] && p.0[1] == p.0[2]));
    }

    /// A JPEG with an EXIF APP1 segment saying `orientation` (TIFF tag 0x0112).
    fn jpeg_with_orientation(data: &[u8], w: u32, h: u32, orientation: u16) -> Vec<u8> {
        let mut jpg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpg, 100)
            .write_image(data, w, h, ExtendedColorType::L8)
            .unwrap();
        // Little-endian TIFF: header, one IFD with one SHORT entry, no next IFD.
        let mut tiff = b"II*\0".to_vec();
        tiff.extend(8u32.to_le_bytes());
        tiff.extend(1u16.to_le_bytes());
        tiff.extend(0x0112u16.to_le_bytes());
        tiff.extend(3u16.to_le_bytes());
        tiff.extend(1u32.to_le_bytes());
        tiff.extend(orientation.to_le_bytes());
        tiff.extend([0, 0]);
        tiff.extend(0u32.to_le_bytes());
        let mut app1 = b"Exif\0\0".to_vec();
        app1.extend(tiff);
        let mut out = jpg[..2].to_vec(); // SOI
        out.extend([0xFF, 0xE1]);
        out.extend(((app1.len() + 2) as u16).to_be_bytes());
        out.extend(app1);
        out.extend(&jpg[2..]);
        out
    }

    #[test]
    fn messages_are_one_line_and_png_sizes_are_read_from_the_header() {
        // The JPEG decoder's message for a cut-off stream spans two lines.
        let cut: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10];
        let err = decode_slice(cut)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("corrupt"), "{err:?}");
        assert!(!err.contains('\n') && !err.contains('\r'), "{err:?}");
        let png = encode_png(&gray_ramp(40, 33), 40, 33, ExtendedColorType::L8);
        assert_eq!(declared_png_size(&png), Some((40, 33)));
        assert_eq!(declared_png_size(b"\x89PNG"), None);
    }

    #[test]
    fn exif_orientation_is_applied() {
        // Left half dark, right half bright, 64 wide and 32 high.
        let (w, h) = (64u32, 32u32);
        let data: Vec<u8> = (0..w * h)
            .map(|i| if i % w < w / 2 { 20 } else { 230 })
            .collect();
        let upright = decode_slice(&jpeg_with_orientation(&data, w, h, 1)).unwrap();
        assert_eq!(upright.dimensions(), (64, 32));
        // 6: the stored image must be turned 90 degrees clockwise to be shown upright, so its
        // left half ends up on top.
        let turned = decode_slice(&jpeg_with_orientation(&data, w, h, 6)).unwrap();
        assert_eq!(turned.dimensions(), (32, 64));
        assert!(
            turned.get_pixel(16, 8).0[0] < 60,
            "{:?}",
            turned.get_pixel(16, 8)
        );
        assert!(
            turned.get_pixel(16, 56).0[0] > 190,
            "{:?}",
            turned.get_pixel(16, 56)
        );
        // 2: mirrored left-right.
        let mirrored = decode_slice(&jpeg_with_orientation(&data, w, h, 2)).unwrap();
        assert!(mirrored.get_pixel(8, 16).0[0] > 190 && mirrored.get_pixel(56, 16).0[0] < 60);
    }
}
