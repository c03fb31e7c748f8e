//! Shared helpers of the parity tests: the oracle folder, `.npy` files and the two oracle
//! checkpoints loaded once per test binary.
#![allow(dead_code)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use burn::prelude::Device;
use ct_mask_net::config::{ClassificationConfig, SegmentationConfig};
use ct_mask_net::importer::{StateDict, read_checkpoint};
use ct_mask_net::model::{ClassificationModel, SegmentationModel};

/// The four oracle inputs: id and file name under `inputs/`.
pub const INPUTS: [(&str, &str); 4] = [
    ("synthetic_01", "synthetic_01.png"),
    ("synthetic_02", "synthetic_02.png"),
    ("real_01", "real_01__0_3131_0140.png"),
    ("real_02", "real_02__test_images_7.png"),
];

/// `../shared/oracle`, or `None` (with a printed reason) on a fresh clone without it.
pub fn oracle_dir() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle");
    if dir.join("README.md").exists() {
        Some(dir)
    } else {
        println!(
            "SKIPPED: {} is absent (a fresh clone has no oracle data)",
            dir.display()
        );
        None
    }
}

/// A float32 `.npy` file: shape and values.
pub fn npy_f32(path: &Path) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<f32>().unwrap())
}

/// An int64 `.npy` file.
pub fn npy_i64(path: &Path) -> (Vec<usize>, Vec<i64>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let npy = npyz::NpyFile::new(&bytes[..]).unwrap();
    let shape = npy.shape().iter().map(|&d| d as usize).collect();
    (shape, npy.into_vec::<i64>().unwrap())
}

/// Gunzips and imports one oracle checkpoint.
pub fn state_dict(name: &str) -> StateDict {
    let dir = oracle_dir().expect("oracle present");
    let compressed = std::fs::read(dir.join("checkpoints").join(format!("{name}.pth.gz"))).unwrap();
    let mut bytes = Vec::with_capacity(140 << 20);
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut bytes)
        .unwrap();
    read_checkpoint(&bytes).unwrap().weights
}

/// The CPU device the parity tests run on.
pub fn device() -> Device {
    Device::flex()
}

/// The oracle's segmentation model, loaded once.
pub fn segmentation_model() -> &'static SegmentationModel {
    static MODEL: OnceLock<SegmentationModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let weights = state_dict("segmentation_resnet50_seed0");
        SegmentationModel::load(&weights, SegmentationConfig::new(), &device()).unwrap()
    })
}

/// The oracle's classification model, loaded once.
pub fn classification_model() -> &'static ClassificationModel {
    static MODEL: OnceLock<ClassificationModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let weights = state_dict("classification_resnet50_seed0");
        ClassificationModel::load(&weights, ClassificationConfig::new(), &device()).unwrap()
    })
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "length mismatch");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Largest absolute value.
pub fn max_abs(a: &[f32]) -> f32 {
    a.iter().map(|v| v.abs()).fold(0.0, f32::max)
}
