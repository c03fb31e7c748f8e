//! Checks decoding, the PIL resize and the input transform against the reference oracle in
//! `../shared/oracle`. Each test is skipped, with a printed reason, when the oracle is absent.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ct_mask_net::imaging::{classifier_resize, decode_slice};
use ct_mask_net::transform::{TransformConfig, preprocess, preprocess_legacy_resize};
use image::RgbImage;

const IDS: [(&str, &str); 4] = [
    ("synthetic_01", "synthetic_01.png"),
    ("synthetic_02", "synthetic_02.png"),
    ("real_01", "real_01__0_3131_0140.png"),
    ("real_02", "real_02__test_images_7.png"),
];

/// The ids whose oracle ships the input tensors (the others only have model outputs).
const TENSOR_IDS: [&str; 2] = ["synthetic_01", "real_02"];

fn oracle() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: oracle directory {} not found", dir.display());
        None
    }
}

fn load_npy(path: &Path) -> (Vec<u64>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).expect("npy header");
    let shape = npy.shape().to_vec();
    (shape, npy.into_vec::<f32>().expect("f32 data"))
}

fn input(dir: &Path, id: &str) -> RgbImage {
    let file = IDS
        .iter()
        .find(|(i, _)| *i == id)
        .map(|(_, f)| *f)
        .expect("known id");
    let bytes = std::fs::read(dir.join("inputs").join(file)).expect("read input");
    decode_slice(&bytes).expect("decode input")
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn decoded_sizes() {
    let Some(dir) = oracle() else { return };
    for (id, _) in IDS {
        let img = input(&dir, id);
        let expect = if id == "real_02" {
            (439, 400)
        } else {
            (512, 512)
        };
        assert_eq!(img.dimensions(), expect, "{id}");
    }
}

#[test]
fn classifier_resize_is_bit_exact() {
    let Some(dir) = oracle() else { return };
    for id in TENSOR_IDS {
        let img = classifier_resize(&input(&dir, id));
        let (shape, want) = load_npy(&dir.join("classification").join(id).join("input_tensor.npy"));
        let (w, h) = img.dimensions();
        assert_eq!(shape, [3, u64::from(h), u64::from(w)], "{id}");
        let plane = (w * h) as usize;
        let mut mismatches = 0;
        for (i, p) in img.pixels().enumerate() {
            for c in 0..3 {
                if f32::from(p.0[c]) / 255.0 != want[c * plane + i] {
                    mismatches += 1;
                }
            }
        }
        println!("{id}: classifier_resize {w}x{h}, {mismatches} mismatching samples");
        assert_eq!(mismatches, 0, "{id}");
    }
}

#[test]
fn segmentation_transform_matches() {
    let Some(dir) = oracle() else { return };
    let cfg = TransformConfig::default();
    for id in TENSOR_IDS {
        let p = preprocess(&input(&dir, id), &cfg);
        let (shape, want) = load_npy(
            &dir.join("segmentation")
                .join(id)
                .join("transformed_input.npy"),
        );
        assert_eq!(
            shape,
            [1, 3, p.padded[0] as u64, p.padded[1] as u64],
            "{id}"
        );
        let d = max_abs_diff(&p.data, &want);
        let tol = if id == "real_02" { 1e-4 } else { 1e-5 };
        println!("{id}: segmentation transformed_input max |diff| = {d:e} (tol {tol:e})");
        assert!(d <= tol, "{id}: {d}");
        if id == "real_02" {
            assert_eq!(
                (p.resized, p.padded, p.original),
                ([512, 561], [512, 576], [400, 439])
            );
            let legacy = preprocess_legacy_resize(&input(&dir, id), &cfg);
            let dl = max_abs_diff(&legacy.data, &want);
            println!("{id}: legacy (torch 1.1) resize vs modern oracle max |diff| = {dl}");
            assert!(dl > 0.5, "the two resize semantics should differ visibly");
        }
    }
}

#[test]
fn classification_transform_matches() {
    let Some(dir) = oracle() else { return };
    let cfg = TransformConfig::default();
    for id in TENSOR_IDS {
        let p = preprocess(&classifier_resize(&input(&dir, id)), &cfg);
        assert_eq!(p.scale, 1.0, "{id}");
        let (shape, want) = load_npy(
            &dir.join("classification")
                .join(id)
                .join("transformed_input.npy"),
        );
        assert_eq!(
            shape,
            [1, 3, p.padded[0] as u64, p.padded[1] as u64],
            "{id}"
        );
        let d = max_abs_diff(&p.data, &want);
        println!("{id}: classification transformed_input max |diff| = {d:e}");
        assert!(d <= 1e-6, "{id}: {d}");
    }
}

#[test]
fn preprocess_timing() {
    let cfg = TransformConfig::default();
    for (w, h) in [(512u32, 512u32), (439, 400)] {
        let img = RgbImage::from_fn(w, h, |x, y| image::Rgb([(x ^ y) as u8; 3]));
        let _ = preprocess(&img, &cfg);
        let runs = 20;
        let t = Instant::now();
        for _ in 0..runs {
            std::hint::black_box(preprocess(std::hint::black_box(&img), &cfg));
        }
        let ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(runs);
        println!("preprocess {w}x{h}: {ms:.2} ms per image (mean of {runs})");
    }
}
