//! DICOM slices: the real files of `../shared/data` (JPEG Lossless and uncompressed) decode to
//! Hounsfield units and, lung-windowed, to the 8-bit slices made from them; files the project
//! writes itself check the rescale, MONOCHROME1 and the refusals.

use std::path::{Path, PathBuf};

use ct_mask_net::imaging::{ImagingError, Window, decode_slice, is_dicom, read_dicom};
use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

#[path = "support/series.rs"]
mod series;

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else {
        println!(
            "SKIPPED: {} is absent (a fresh clone has no data)",
            p.display()
        );
        None
    }
}

#[test]
fn real_jpeg_lossless_slices_match_the_lung_windowed_pngs() {
    let Some(dir) = shared("covid_ct_md_3class") else {
        return;
    };
    for k in ["074", "098"] {
        let bytes = std::fs::read(dir.join(format!("dicom/P001_{k}.dcm"))).unwrap();
        assert!(is_dicom(&bytes));
        let slice = read_dicom(&bytes).unwrap();
        assert_eq!((slice.width, slice.height, slice.frames), (512, 512, 1));
        assert_eq!(slice.modality.as_deref(), Some("CT"));
        let (lo, hi) = slice
            .hu
            .iter()
            .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
        // Air outside the body and bone inside it.
        assert!(
            (-1100.0..=-900.0).contains(&lo) && hi > 500.0,
            "HU {lo}..{hi}"
        );

        let ours = decode_slice(&bytes).unwrap();
        let png = image::open(dir.join(format!("png/COVID-19_P001_{k}.png")))
            .unwrap()
            .to_luma8();
        assert_eq!(ours.dimensions(), png.dimensions());
        let mut worst = 0i32;
        let mut off = 0usize;
        for (a, b) in ours.pixels().zip(png.pixels()) {
            let d = (a.0[0] as i32 - b.0[0] as i32).abs();
            worst = worst.max(d);
            off += usize::from(d > 0);
        }
        println!("P001_{k}: max difference {worst}, {off} pixels differ");
        // The PNGs' own rounding differs at a few exact half-levels.
        assert!(
            worst <= 1 && off < 512 * 512 / 100,
            "P001_{k}: {worst}, {off} pixels"
        );
    }
}

#[test]
fn the_uncompressed_pydicom_sample_decodes() {
    let Some(path) = shared("dicom_samples/CT_small.dcm") else {
        return;
    };
    let slice = read_dicom(&std::fs::read(path).unwrap()).unwrap();
    assert_eq!((slice.width, slice.height), (128, 128));
    let (lo, hi) = slice
        .hu
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    assert!(
        lo >= -1100.0 && hi <= 3100.0 && hi > lo + 500.0,
        "HU {lo}..{hi}"
    );
}

/// A 40x40 CT slice written by dicom-rs: signed 16-bit pixels `p` with slope 2 and intercept
/// -1000, so HU = 2p - 1000; pixel (x, y) holds `10 x + y`.
fn written_slice(photometric: &str, syntax: &str, pixel_data: bool) -> Vec<u8> {
    let (w, h) = (40u16, 40u16);
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, value: PrimitiveValue| obj.put(DataElement::new(tag, vr, value));
    put(
        tags::SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.2".into(),
    );
    put(
        tags::SOP_INSTANCE_UID,
        VR::UI,
        "1.2.826.0.1.3680043.2.1125.1".into(),
    );
    put(tags::MODALITY, VR::CS, "CT".into());
    put(tags::ROWS, VR::US, PrimitiveValue::from(h));
    put(tags::COLUMNS, VR::US, PrimitiveValue::from(w));
    put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
    put(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, photometric.into());
    put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
    put(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16));
    put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16));
    put(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(1u16),
    );
    put(tags::RESCALE_SLOPE, VR::DS, "2".into());
    put(tags::RESCALE_INTERCEPT, VR::DS, "-1000".into());
    put(tags::WINDOW_CENTER, VR::DS, "40\\-600".into());
    put(tags::WINDOW_WIDTH, VR::DS, "350\\1500".into());
    if pixel_data {
        let pixels: Vec<i16> = (0..h as i16)
            .flat_map(|y| (0..w as i16).map(move |x| 10 * x + y))
            .collect();
        put(tags::PIXEL_DATA, VR::OW, PrimitiveValue::I16(pixels.into()));
    }
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax(syntax))
        .unwrap();
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).unwrap();
    bytes
}

const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";

#[test]
fn written_files_check_rescale_inversion_and_refusals() {
    let bytes = written_slice("MONOCHROME2", EXPLICIT_LE, true);
    let slice = read_dicom(&bytes).unwrap();
    assert_eq!((slice.width, slice.height), (40, 40));
    // Pixel (x = 3, y = 5): p = 35, HU = -930.
    assert_eq!(slice.hu[5 * 40 + 3], 2.0 * 35.0 - 1000.0);
    assert_eq!(slice.hu[39 * 40 + 39], 2.0 * 429.0 - 1000.0);
    assert_eq!(
        slice.file_window,
        Some(Window {
            level: 40.0,
            width: 350.0
        })
    );
    let image = decode_slice(&bytes).unwrap();
    assert_eq!(image.get_pixel(3, 5).0[0], Window::LUNG.apply(-930.0));

    // MONOCHROME1: inverted after windowing.
    let inverted = decode_slice(&written_slice("MONOCHROME1", EXPLICIT_LE, true)).unwrap();
    assert_eq!(
        inverted.get_pixel(3, 5).0[0],
        255 - Window::LUNG.apply(-930.0)
    );

    // Implicit VR little endian and explicit big endian read the same values.
    for syntax in ["1.2.840.10008.1.2", "1.2.840.10008.1.2.2"] {
        let other = read_dicom(&written_slice("MONOCHROME2", syntax, true)).unwrap();
        assert_eq!(other.hu, slice.hu, "{syntax}");
    }

    // No pixel data, a truncated file, an unknown compression: errors in words.
    let no_pixels = read_dicom(&written_slice("MONOCHROME2", EXPLICIT_LE, false)).unwrap_err();
    assert!(
        matches!(&no_pixels, ImagingError::Dicom(m) if m.contains("no pixel data")),
        "{no_pixels}"
    );
    let truncated = &bytes[..bytes.len() / 2];
    assert!(matches!(
        decode_slice(truncated),
        Err(ImagingError::Dicom(_))
    ));
    let mut unknown = written_slice("MONOCHROME2", "1.2.840.10008.1.2.4.80", true);
    unknown.truncate(unknown.len() - 100);
    let err = decode_slice(&unknown).unwrap_err();
    assert!(matches!(&err, ImagingError::Dicom(_)), "{err}");
    println!("messages: {no_pixels} | {err}");
}

/// The page's window choice reaches the decoder: the same DICOM file analysed in the lung and
/// the mediastinal window gives different pixels; a bad window is a plain refusal.
#[test]
fn the_engine_analyses_dicom_in_the_window_asked_for() {
    use ct_mask_net::engine::{Engine, Reply, Request};
    let mut engine = Engine::new(ct_mask_net::backend::cpu(), "CPU (test)");
    assert!(matches!(
        pollster::block_on(engine.handle(Request::UsePlaceholder)),
        Reply::ModelReady(_)
    ));
    let bytes = written_slice("MONOCHROME2", EXPLICIT_LE, true);
    let mut analyse = |window: &str| {
        pollster::block_on(engine.handle(Request::Analyse {
            name: "slice.dcm".into(),
            bytes: bytes.clone(),
            window: window.into(),
        }))
    };
    let pixels = |reply: Reply| match reply {
        Reply::Analysed(slice) => slice.image.into_raw(),
        other => panic!("{other:?}"),
    };
    let lung = pixels(analyse("lung"));
    let mediastinum = pixels(analyse("mediastinum"));
    assert_ne!(lung, mediastinum);
    assert_eq!(pixels(analyse("-600,1500")), lung);
    match analyse("narrow") {
        Reply::AnalysisFailed(message) => assert!(message.contains("not a window"), "{message}"),
        other => panic!("{other:?}"),
    }
}

/// The real COVID-CT-MD files: three patients' scans, each slice placed by its header.
#[test]
fn real_series_group_per_patient_scan_head_first() {
    use ct_mask_net::study::{dicom_place, group};
    let Some(dir) = shared("covid_ct_md_3class/dicom") else {
        return;
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dcm"))
        .collect();
    // Shuffle the order the files arrive in: the headers, not the order, decide.
    names.sort_by_key(|n| std::cmp::Reverse(n.clone()));
    let places: Vec<_> = names
        .iter()
        .map(|n| dicom_place(&std::fs::read(dir.join(n)).unwrap()).expect(n))
        .collect();
    let p001 = &places[names.iter().position(|n| n == "P001_074.dcm").unwrap()];
    assert!(
        p001.label.contains("patient 98C14734-ASSH"),
        "{}",
        p001.label
    );
    assert!(p001.label.contains("2020-03-05"), "{}", p001.label);
    assert_eq!(p001.number, Some(75));
    assert!((p001.position_mm.unwrap() - -200.1).abs() < 1e-6);

    let studies = group(places.iter().enumerate());
    assert_eq!(studies.len(), 3);
    for study in &studies {
        let ordered: Vec<&str> = study.slices.iter().map(|&i| names[i].as_str()).collect();
        let mut by_name = ordered.clone();
        by_name.sort(); // the files are numbered from the apex
        assert_eq!(ordered, by_name, "{}", study.label);
        assert_eq!(ordered.len(), 3);
    }
}

/// Written series: slices arrive shuffled, two scans are mixed, one is scanned feet first
/// (normal along -z); each comes out head first.
#[test]
fn written_series_come_out_head_first_whatever_the_order() {
    use ct_mask_net::study::{dicom_place, group};
    use series::{AXIAL, Placed, slice_at};
    let feet_first = [1.0, 0.0, 0.0, 0.0, -1.0, 0.0];
    let at = |series: &'static str, z: f64, instance: i32, orientation| Placed {
        study: "1.2.3",
        series,
        patient: "P7",
        z,
        instance,
        orientation,
    };
    let files = [
        at("1.2.3.1", -20.0, 3, AXIAL),
        at("1.2.3.2", -20.0, 1, feet_first),
        at("1.2.3.1", 0.0, 1, AXIAL),
        at("1.2.3.2", 0.0, 3, feet_first),
        at("1.2.3.1", -10.0, 2, AXIAL),
        at("1.2.3.2", -10.0, 2, feet_first),
    ];
    let places: Vec<_> = files
        .iter()
        .map(|f| dicom_place(&slice_at(f)).unwrap())
        .collect();
    assert!(
        places[0]
            .label
            .starts_with("patient P7, 2020-03-05, series 2")
    );
    let studies = group(places.iter().enumerate());
    assert_eq!(studies.len(), 2, "two series of one study are two stacks");
    // Highest z (the head) first in both, whatever the instance numbers say.
    assert_eq!(studies[0].slices, vec![2, 4, 0]);
    assert_eq!(studies[1].slices, vec![3, 5, 1]);

    // The slices decode as CT slices too.
    let slice = read_dicom(&slice_at(&files[0])).unwrap();
    assert_eq!((slice.width, slice.height), (64, 64));
    assert_eq!(slice.hu[0], 200.0 + 20.0 - 1024.0);
}
