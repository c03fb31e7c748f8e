//! The bad-input corpus: malformed or unsupported slices and checkpoints, each with the words
//! its error message must contain. `examples/make_bad_inputs.rs` writes it into
//! `tests/fixtures/bad-inputs/` (with `expected.tsv`); `tests/bad_inputs.rs` checks that the
//! committed files are exactly what this code makes and that the library, the CLI and the
//! engine give each its message; the browser test drops them into the page.

#![allow(dead_code)]

use std::io::Cursor;

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

/// What a corpus file is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    /// A CT slice (the page's file input, `predict`'s images).
    Slice,
    /// A weights file (the page's weights input, `predict --weights`).
    Weights,
}

/// One corpus file.
pub struct BadInput {
    /// File name (its extension is what a user might have called it, not what it is).
    pub name: &'static str,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Words its error message must contain (case-insensitive).
    pub expect: &'static str,
    /// What it is given to.
    pub used_as: Use,
}

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x * 7 + y * 3) % 256) as u8]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| image::Luma([((x + y) % 256) as u8]));
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), image::ImageFormat::Jpeg)
        .unwrap();
    out
}

/// A PNG whose IHDR declares `w x h` (CRC fixed up) over the pixels of a 64x64 one.
fn png_declaring(w: u32, h: u32) -> Vec<u8> {
    let mut bytes = png(64, 64);
    bytes[16..20].copy_from_slice(&w.to_be_bytes());
    bytes[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A JPEG whose frame header declares `w x h` over a 64x64 image's data.
fn jpeg_declaring(w: u16, h: u16) -> Vec<u8> {
    let mut bytes = jpeg(64, 64);
    let sof = (0..bytes.len() - 9)
        .find(|&i| bytes[i] == 0xFF && (bytes[i + 1] == 0xC0 || bytes[i + 1] == 0xC2))
        .expect("a frame header");
    bytes[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
    bytes[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
    bytes
}

/// Settings of a written DICOM file.
struct Dicom {
    syntax: &'static str,
    modality: &'static str,
    rows: u16,
    columns: u16,
    samples: u16,
    bits: u16,
    pixels: Option<Vec<u8>>,
}

impl Default for Dicom {
    fn default() -> Self {
        Dicom {
            syntax: "1.2.840.10008.1.2.1",
            modality: "CT",
            rows: 64,
            columns: 64,
            samples: 1,
            bits: 16,
            pixels: Some(vec![0; 64 * 64 * 2]),
        }
    }
}

fn dicom(d: Dicom) -> Vec<u8> {
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, value: PrimitiveValue| obj.put(DataElement::new(tag, vr, value));
    put(tags::SOP_CLASS_UID, VR::UI, "1.2.840.10008.5.1.4.1.1.2".into());
    put(tags::SOP_INSTANCE_UID, VR::UI, "1.2.826.0.1.3680043.2.1125.7".into());
    put(tags::MODALITY, VR::CS, d.modality.into());
    put(tags::ROWS, VR::US, PrimitiveValue::from(d.rows));
    put(tags::COLUMNS, VR::US, PrimitiveValue::from(d.columns));
    put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(d.samples));
    let photometric = if d.samples == 3 { "RGB" } else { "MONOCHROME2" };
    put(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric.into());
    put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(d.bits));
    put(tags::BITS_STORED, VR::US, PrimitiveValue::from(d.bits));
    put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(d.bits - 1));
    put(tags::PIXEL_REPRESENTATION, VR::US, PrimitiveValue::from(0u16));
    if let Some(pixels) = d.pixels {
        put(tags::PIXEL_DATA, VR::OB, PrimitiveValue::U8(pixels.into()));
    }
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(d.syntax))
        .unwrap();
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).unwrap();
    bytes
}

/// Where the value of Bits Stored (0028,0101) sits in a written DICOM file.
fn bits_stored_at(file: &[u8]) -> usize {
    (0..file.len() - 8)
        .find(|&i| file[i..i + 6] == [0x28, 0x00, 0x01, 0x01, b'U', b'S'])
        .expect("the Bits Stored element")
        + 8
}

/// A safetensors file: `header` JSON, then `data`.
fn safetensors(header: &str, data: &[u8]) -> Vec<u8> {
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    out
}

/// A zip archive with one stored file.
fn zip_with(name: &str, content: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut out = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(Cursor::new(&mut out));
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file(name, options).unwrap();
        zip.write_all(content).unwrap();
        zip.finish().unwrap();
    }
    out
}

/// A good 64x64 grayscale PNG (a fuzzing seed).
pub fn good_png() -> Vec<u8> {
    png(64, 64)
}

/// A good 64x64 grayscale JPEG (a fuzzing seed).
pub fn good_jpeg() -> Vec<u8> {
    jpeg(64, 64)
}

/// A good 64x64 uncompressed CT DICOM file (a fuzzing seed).
pub fn good_dicom() -> Vec<u8> {
    dicom(Dicom::default())
}

/// The whole corpus, in a fixed order.
pub fn corpus() -> Vec<BadInput> {
    use Use::{Slice, Weights};
    let good_png = png(64, 64);
    let good_jpeg = jpeg(64, 64);
    let good_dicom = dicom(Dicom::default());
    let mut bad_crc = good_png.clone();
    bad_crc[30] ^= 0xFF;
    let mut idat_garbage = good_png.clone();
    let n = idat_garbage.len();
    for b in &mut idat_garbage[60..n - 20] {
        *b = 0x5A;
    }
    let dicm_only = {
        let mut v = vec![0u8; 128];
        v.extend_from_slice(b"DICM");
        v
    };
    let dicm_garbage = {
        let mut v = dicm_only.clone();
        v.extend((0..400u32).map(|i| (i * 37 % 251) as u8));
        v
    };
    // Damaged element headers that once made the DICOM parser reserve gigabytes (found by
    // examples/fuzz_inputs.rs): pixel data declaring 2 GB, and a value representation that
    // does not exist.
    let pixel_tag = (0..good_dicom.len() - 8)
        .find(|&i| good_dicom[i..i + 6] == [0xE0, 0x7F, 0x10, 0x00, b'O', b'B'])
        .expect("the pixel data element");
    let mut huge_length = good_dicom.clone();
    huge_length[pixel_tag + 8..pixel_tag + 12].copy_from_slice(&0x7FFF_FFFFu32.to_le_bytes());
    let modality_tag = (0..good_dicom.len() - 8)
        .find(|&i| good_dicom[i..i + 6] == [0x08, 0x00, 0x60, 0x00, b'C', b'S'])
        .expect("the modality element");
    let mut unknown_vr = good_dicom.clone();
    unknown_vr[modality_tag + 4..modality_tag + 6].copy_from_slice(b"UA");
    let item = |name, bytes, expect, used_as| BadInput {
        name,
        bytes,
        expect,
        used_as,
    };
    vec![
        item("empty.png", Vec::new(), "empty", Slice),
        item("notes.png", b"These are my notes, not an image.\n".to_vec(), "unsupported image format", Slice),
        item("page.html.png", b"<!doctype html><html><body>hello</body></html>".to_vec(), "unsupported image format", Slice),
        item("truncated.png", good_png[..good_png.len() / 3].to_vec(), "corrupt or truncated", Slice),
        item("header-only.png", good_png[..33].to_vec(), "corrupt or truncated", Slice),
        item("bad-crc.png", bad_crc, "corrupt or truncated", Slice),
        item("garbage-pixels.png", idat_garbage, "corrupt or truncated", Slice),
        item("huge.png", png_declaring(100_000, 100_000), "too large", Slice),
        item("wide.png", png_declaring(20_000, 64), "too large", Slice),
        item("zero-width.png", png_declaring(0, 64), "corrupt or truncated", Slice),
        item("tiny.png", png(8, 8), "too small", Slice),
        item("thin.png", png(512, 4), "too small", Slice),
        item("truncated.jpg", good_jpeg[..good_jpeg.len() / 2].to_vec(), "corrupt or truncated", Slice),
        item("soi-only.jpg", vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10], "corrupt or truncated", Slice),
        item("huge.jpg", jpeg_declaring(60_000, 60_000), "too large", Slice),
        item("animation.gif", b"GIF89a\x40\x00\x40\x00\x00\x00\x00;".to_vec(), "unsupported image format", Slice),
        item("scan.bmp", b"BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00".to_vec(), "unsupported image format", Slice),
        item("scan.tiff", b"II*\x00\x08\x00\x00\x00\x00\x00".to_vec(), "unsupported image format", Slice),
        item("photo.webp", b"RIFF\x1a\x00\x00\x00WEBPVP8 ".to_vec(), "unsupported image format", Slice),
        item("archive.png", zip_with("slice.png", &good_png), "unsupported image format", Slice),
        item("dicm-only.dcm", dicm_only, "could not be read", Slice),
        item("dicm-garbage.dcm", dicm_garbage, "could not be read", Slice),
        item("truncated.dcm", good_dicom[..good_dicom.len() - 3000].to_vec(), "truncated or damaged", Slice),
        item("no-pixels.dcm", dicom(Dicom { pixels: None, ..Dicom::default() }), "no pixel data", Slice),
        item("jpeg2000.dcm", dicom(Dicom { syntax: "1.2.840.10008.1.2.4.90", pixels: Some(vec![0xFF, 0x4F, 0xFF, 0x51, 0, 0]), ..Dicom::default() }), "JPEG 2000", Slice),
        item("jpeg-ls.dcm", dicom(Dicom { syntax: "1.2.840.10008.1.2.4.80", pixels: Some(vec![0xFF, 0xD8, 0xFF, 0xF7, 0, 0]), ..Dicom::default() }), "JPEG-LS", Slice),
        item("mr.dcm", dicom(Dicom { modality: "MR", ..Dicom::default() }), "magnetic resonance", Slice),
        item("xray.dcm", dicom(Dicom { modality: "CR", ..Dicom::default() }), "radiograph", Slice),
        item("zero-rows.dcm", dicom(Dicom { rows: 0, pixels: Some(Vec::new()), ..Dicom::default() }), "each side must be", Slice),
        item("huge.dcm", dicom(Dicom { rows: 60_000, columns: 60_000, ..Dicom::default() }), "each side must be", Slice),
        item("short-pixels.dcm", dicom(Dicom { pixels: Some(vec![0; 100]), ..Dicom::default() }), "shorter than", Slice),
        item("huge-length.dcm", huge_length, "declares 2147483647 bytes", Slice),
        item("unknown-vr.dcm", unknown_vr, "no valid value representation", Slice),
        item("zero-bits.dcm", { let mut v = good_dicom.clone(); let at = bits_stored_at(&v); v[at..at + 2].copy_from_slice(&0u16.to_le_bytes()); v }, "0 bits stored", Slice),
        item("colour.dcm", dicom(Dicom { samples: 3, bits: 8, pixels: Some(vec![0; 64 * 64 * 3]), ..Dicom::default() }), "colour", Slice),
        item("empty.pth", Vec::new(), "empty (0 bytes)", Weights),
        item("notes.pth", b"These are my notes.\n".to_vec(), "not a model checkpoint", Weights),
        item("slice.safetensors", good_png.clone(), "not a model checkpoint", Weights),
        item("no-pickle.pth", zip_with("archive/version", b"3\n"), "not a model checkpoint", Weights),
        item("cut.safetensors", safetensors(r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, &[0; 8]), "incomplete", Weights),
        item("bad-json.safetensors", safetensors("{not json", &[]), "damaged or malformed", Weights),
        item("one-tensor.safetensors", safetensors(r#"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, &[0; 16]), "not a COVID-CT-Mask-Net", Weights),
    ]
}
