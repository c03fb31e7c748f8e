//! DICOM CT slices: Part 10 files (with or without the 128-byte preamble) decoded by the
//! dicom-rs crates, pixel values turned into Hounsfield units with the file's rescale slope
//! and intercept, then windowed to the 8-bit slice the model reads (the paper's data are
//! 8-bit slices windowed the same way).
//!
//! Transfer syntaxes: what the pure-Rust decoders of `dicom-pixeldata`'s `native` feature
//! handle (uncompressed implicit and explicit little endian, explicit big endian, deflated,
//! JPEG baseline, extended and lossless, RLE lossless). Anything else (JPEG 2000, JPEG-LS,
//! ...) is refused with its name.

use std::io::Cursor;

use dicom_dictionary_std::tags;
use dicom_object::{DefaultDicomObject, OpenFileOptions};
use dicom_pixeldata::{ConvertOptions, ModalityLutOption, PixelDecoder, VoiLutOption};
use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
use image::RgbImage;

use super::ImagingError;
use super::decode::{MAX_PIXELS, MAX_SIDE, MIN_SIDE};

/// A CT window: the Hounsfield range `level +- width / 2` spread over 0..=255.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    /// Centre, HU.
    pub level: f32,
    /// Width, HU.
    pub width: f32,
}

impl Window {
    /// Lung window (level -600, width 1500): the default, as in the paper's data.
    pub const LUNG: Window = Window {
        level: -600.0,
        width: 1500.0,
    };
    /// Mediastinal window (level 40, width 350).
    pub const MEDIASTINUM: Window = Window {
        level: 40.0,
        width: 350.0,
    };

    /// The 8-bit value of `hu`: `(hu - (level - width / 2)) / width * 255`, clamped, rounded.
    pub fn apply(&self, hu: f32) -> u8 {
        let low = self.level - self.width / 2.0;
        let v = (hu - low) / self.width.max(1.0) * 255.0;
        v.clamp(0.0, 255.0).round() as u8
    }
}

/// Which window a DICOM slice is shown and analysed in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WindowChoice {
    /// A fixed window (presets: [`Window::LUNG`], [`Window::MEDIASTINUM`]).
    Fixed(Window),
    /// The file's own Window Center / Width, or the lung window when it has none.
    FromFile,
}

impl WindowChoice {
    /// Parses `lung`, `mediastinum`, `file` or `LEVEL,WIDTH` (HU).
    pub fn parse(text: &str) -> Result<Self, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "lung" => Ok(Self::Fixed(Window::LUNG)),
            "mediastinum" | "mediastinal" => Ok(Self::Fixed(Window::MEDIASTINUM)),
            "file" => Ok(Self::FromFile),
            other => {
                let parts: Vec<&str> = other.split(',').map(str::trim).collect();
                match parts.as_slice() {
                    [level, width] => match (level.parse::<f32>(), width.parse::<f32>()) {
                        (Ok(level), Ok(width)) if width >= 1.0 => {
                            Ok(Self::Fixed(Window { level, width }))
                        }
                        _ => Err(format!(
                            "'{text}': the level and width must be numbers, width at least 1"
                        )),
                    },
                    _ => Err(format!(
                        "'{text}' is not a window: use lung, mediastinum, file or LEVEL,WIDTH \
                         (e.g. -600,1500)"
                    )),
                }
            }
        }
    }
}

/// One decoded CT slice in Hounsfield units.
#[derive(Debug, Clone, PartialEq)]
pub struct CtSlice {
    /// Columns.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `[height * width]` HU, row-major (the first frame of a multi-frame file).
    pub hu: Vec<f32>,
    /// Frames in the file.
    pub frames: u32,
    /// The file's own window (Window Center / Width), if it has one.
    pub file_window: Option<Window>,
    /// Modality (`CT`, ...), if given.
    pub modality: Option<String>,
    /// MONOCHROME1: low values are displayed bright.
    pub inverted: bool,
}

impl CtSlice {
    /// The window `choice` picks for this slice.
    pub fn window(&self, choice: WindowChoice) -> Window {
        match choice {
            WindowChoice::Fixed(w) => w,
            WindowChoice::FromFile => self.file_window.unwrap_or(Window::LUNG),
        }
    }

    /// The slice windowed to 8-bit RGB (grey in three channels); MONOCHROME1 is inverted so
    /// that air is dark, as the model expects.
    pub fn windowed(&self, window: Window) -> RgbImage {
        let mut image = RgbImage::new(self.width, self.height);
        for (pixel, &hu) in image.pixels_mut().zip(&self.hu) {
            let mut v = window.apply(hu);
            if self.inverted {
                v = 255 - v;
            }
            *pixel = image::Rgb([v, v, v]);
        }
        image
    }
}

/// Whether `bytes` look like a DICOM Part 10 file ("DICM" after the preamble, or at the start).
pub fn is_dicom(bytes: &[u8]) -> bool {
    dicm_offset(bytes).is_some()
}

/// Where the "DICM" marker starts: after the 128-byte preamble, or at the start.
pub(crate) fn dicm_offset(bytes: &[u8]) -> Option<usize> {
    if bytes.get(128..132) == Some(b"DICM") {
        Some(128)
    } else if bytes.get(..4) == Some(b"DICM") {
        Some(0)
    } else {
        None
    }
}

fn text(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<String> {
    obj.element(tag)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn number(obj: &DefaultDicomObject, tag: dicom_object::Tag) -> Option<f32> {
    // Window values may be multi-valued ("-600\40"): the first counts.
    text(obj, tag)?.split('\\').next()?.trim().parse().ok()
}

/// What a DICOM modality code other than CT stands for, in plain words; `None` for CT and for
/// codes that may hold CT pixels (`OT` other, `SC` secondary capture) or are unknown.
fn not_ct(code: &str) -> Option<&'static str> {
    Some(match code.trim().to_ascii_uppercase().as_str() {
        "MR" => "a magnetic resonance image",
        "CR" | "DX" | "DR" | "RG" => "an X-ray radiograph",
        "US" => "an ultrasound image",
        "MG" => "a mammogram",
        "NM" => "a nuclear medicine image",
        "PT" => "a PET image",
        "XA" | "RF" => "an X-ray angiography or fluoroscopy image",
        "ES" | "XC" | "GM" | "SM" => "a photograph or microscopy image",
        "OP" | "OPT" => "an ophthalmic image",
        "SR" | "PR" | "KO" | "DOC" => "a report or presentation object, not an image",
        "ECG" | "EEG" | "HD" => "a waveform, not an image",
        _ => return None,
    })
}

/// Refuses bit depths a CT slice never has before the pixel decoder sees them: 8 or 16 bits
/// allocated per value, 1 to that many stored (the decoder's lookup tables assume as much and
/// stop the program otherwise; fuzzing found it). Absent values are left to the decoder.
fn check_bit_depth(obj: &DefaultDicomObject) -> Result<(), ImagingError> {
    let int = |tag| {
        obj.element(tag)
            .ok()
            .map(|e| e.to_int::<i64>().unwrap_or(-1))
    };
    let (allocated, stored) = (int(tags::BITS_ALLOCATED), int(tags::BITS_STORED));
    let allocated_ok = allocated.is_none_or(|a| a == 8 || a == 16);
    let stored_ok = stored.is_none_or(|s| (1..=allocated.unwrap_or(16)).contains(&s));
    if allocated_ok && stored_ok {
        return Ok(());
    }
    let say = |v: Option<i64>| v.map_or("an unreadable number of".to_string(), |v| v.to_string());
    Err(ImagingError::Dicom(format!(
        "the DICOM file declares {} bits stored in {} bits allocated per pixel value; CT slices \
         have 8 or 16 bits allocated and at most as many stored (the file may be damaged)",
        say(stored),
        say(allocated)
    )))
}

/// Reads a DICOM slice into Hounsfield units.
///
/// # Errors
/// [`ImagingError::Dicom`] in plain words: not readable, no pixel data, an unsupported
/// transfer syntax (named), or a size outside the accepted range.
pub fn read_dicom(bytes: &[u8]) -> Result<CtSlice, ImagingError> {
    let dicom = |m: String| ImagingError::Dicom(m);
    let offset = dicm_offset(bytes)
        .ok_or_else(|| dicom("the file has no DICOM header (no \"DICM\" marker)".into()))?;
    // Damaged lengths are refused before the parser reserves what they declare.
    super::dicom_guard::check_lengths(&bytes[offset..]).map_err(|e| {
        dicom(format!(
            "the DICOM file could not be read; it may be truncated or damaged ({e})"
        ))
    })?;
    let obj = OpenFileOptions::new()
        .from_reader(Cursor::new(&bytes[offset..]))
        .map_err(|e| {
            dicom(format!(
                "the DICOM file could not be read; it may be truncated or damaged ({e})"
            ))
        })?;
    if obj.element(tags::PIXEL_DATA).is_err() {
        return Err(dicom(
            "the DICOM file holds no image (no pixel data)".into(),
        ));
    }
    if let Some(code) = text(&obj, tags::MODALITY) {
        if let Some(what) = not_ct(&code) {
            return Err(dicom(format!(
                "this DICOM file is {what} (modality {code}), not a CT slice"
            )));
        }
    }
    let width = u32::from(
        obj.element(tags::COLUMNS)
            .ok()
            .and_then(|e| e.to_int::<u16>().ok())
            .unwrap_or(0),
    );
    let height = u32::from(
        obj.element(tags::ROWS)
            .ok()
            .and_then(|e| e.to_int::<u16>().ok())
            .unwrap_or(0),
    );
    if width < MIN_SIDE
        || height < MIN_SIDE
        || width > MAX_SIDE
        || height > MAX_SIDE
        || u64::from(width) * u64::from(height) > MAX_PIXELS
    {
        return Err(dicom(format!(
            "the DICOM image is {width}x{height} pixels; each side must be {MIN_SIDE} to \
             {MAX_SIDE}"
        )));
    }
    check_bit_depth(&obj)?;
    let syntax = obj
        .meta()
        .transfer_syntax()
        .trim_end_matches('\0')
        .to_string();
    let decoded = obj.decode_pixel_data().map_err(|e| {
        let name = TransferSyntaxRegistry
            .get(&syntax)
            .map(|ts| ts.name().to_string())
            .unwrap_or_else(|| syntax.clone());
        dicom(format!(
            "the DICOM pixel data could not be decoded (transfer syntax {name}, {syntax}): {e}"
        ))
    })?;
    let bits = obj
        .element(tags::BITS_ALLOCATED)
        .ok()
        .and_then(|e| e.to_int::<u16>().ok())
        .unwrap_or(16);
    let needed = width as usize * height as usize * usize::from(bits).div_ceil(8);
    if decoded.data().len() < needed {
        return Err(dicom(format!(
            "the DICOM pixel data is shorter than a {width}x{height} image needs ({} of {needed} \
             bytes; the file may be truncated)",
            decoded.data().len()
        )));
    }
    let options = ConvertOptions::new()
        .with_modality_lut(ModalityLutOption::Default)
        .with_voi_lut(VoiLutOption::Identity);
    let frame = decoded
        .to_vec_frame_with_options::<f32>(0, &options)
        .map_err(|e| {
            dicom(format!(
                "the DICOM pixel values could not be converted: {e}"
            ))
        })?;
    let expected = width as usize * height as usize;
    if frame.len() != expected {
        return Err(dicom(format!(
            "the DICOM pixel data holds {} values for a {width}x{height} image (colour images \
             are not CT slices)",
            frame.len()
        )));
    }
    let file_window = match (
        number(&obj, tags::WINDOW_CENTER),
        number(&obj, tags::WINDOW_WIDTH),
    ) {
        (Some(level), Some(width)) if width > 0.0 => Some(Window { level, width }),
        _ => None,
    };
    Ok(CtSlice {
        width,
        height,
        hu: frame,
        frames: decoded.number_of_frames(),
        file_window,
        modality: text(&obj, tags::MODALITY),
        inverted: text(&obj, tags::PHOTOMETRIC_INTERPRETATION).as_deref() == Some("MONOCHROME1"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_map_hounsfield_units_to_bytes() {
        let lung = Window::LUNG;
        assert_eq!(lung.apply(-1350.0), 0);
        assert_eq!(lung.apply(150.0), 255);
        assert_eq!(lung.apply(-600.0), 128); // 127.5 rounds up
        assert_eq!(lung.apply(-2000.0), 0);
        assert_eq!(Window::MEDIASTINUM.apply(40.0 + 175.0), 255);
    }

    #[test]
    fn window_choices_parse() {
        assert_eq!(
            WindowChoice::parse("lung"),
            Ok(WindowChoice::Fixed(Window::LUNG))
        );
        assert_eq!(WindowChoice::parse("File"), Ok(WindowChoice::FromFile));
        assert_eq!(
            WindowChoice::parse("40, 400"),
            Ok(WindowChoice::Fixed(Window {
                level: 40.0,
                width: 400.0
            }))
        );
        assert!(WindowChoice::parse("40").is_err());
        assert!(WindowChoice::parse("a,b").is_err());
        assert!(WindowChoice::parse("0,0").is_err());
    }

    #[test]
    fn sniffs_the_marker_and_refuses_what_is_not_dicom() {
        let mut bytes = vec![0u8; 132];
        assert!(!is_dicom(&bytes));
        bytes[128..132].copy_from_slice(b"DICM");
        assert!(is_dicom(&bytes));
        assert!(is_dicom(b"DICM\x02\x00"));
        // A preamble and marker with nothing after: an error in words, no panic.
        let err = read_dicom(&bytes).unwrap_err();
        assert!(matches!(err, ImagingError::Dicom(_)), "{err}");
    }
}
