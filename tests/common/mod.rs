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

// S's ranked input: rows of near-tied scores (the oracle README lists gaps of one ulp) may
// legitimately come out in the other order, since their order depends on the last bits of the
// softmax, which no float32 re-implementation reproduces exactly.

/// Largest score gap treated as a tie: float32 noise reaches 2e-4 in the class logits (oracle
/// README §9), so up to ~5e-5 in the scores; the README allows order swaps below 1e-4.
const TIE_GAP: f32 = 1e-4;
/// Row tolerance for S's input.
const ROW_TOL: f32 = 1e-3;
/// End-to-end tolerance of S's logits.
const LOGIT_TOL: f32 = 5e-3;

pub fn row(v: &[f32], i: usize) -> &[f32] {
    &v[i * 5..i * 5 + 5]
}

/// Puts `ours` (S's `[N * 5]` input) into the oracle's row order, allowing only swaps of near-tied neighbours and a
/// differing last row at a near-tied cut. Panics on any other difference.
pub fn align_to_oracle(id: &str, ours: &[f32], oracle: &[f32]) -> (Vec<f32>, usize) {
    let n = oracle.len() / 5;
    let mut aligned = ours.to_vec();
    let mut swaps = 0;
    let mut i = 0;
    while i < n {
        if max_abs_diff(row(ours, i), row(oracle, i)) <= ROW_TOL {
            i += 1;
            continue;
        }
        let tie = |a: usize, b: usize| (oracle[a * 5] - oracle[b * 5]).abs() < TIE_GAP;
        if i + 1 < n
            && tie(i, i + 1)
            && max_abs_diff(row(ours, i), row(oracle, i + 1)) <= ROW_TOL
            && max_abs_diff(row(ours, i + 1), row(oracle, i)) <= ROW_TOL
        {
            aligned[i * 5..i * 5 + 5].copy_from_slice(row(ours, i + 1));
            aligned[(i + 1) * 5..(i + 1) * 5 + 5].copy_from_slice(row(ours, i));
            swaps += 1;
            i += 2;
            continue;
        }
        if i == n - 1 && (ours[i * 5] - oracle[i * 5]).abs() < TIE_GAP {
            aligned[i * 5..].copy_from_slice(row(oracle, i));
            i += 1;
            continue;
        }
        for k in i.saturating_sub(2)..(i + 4).min(n) {
            println!("  {k}: ours {:?} oracle {:?}", row(ours, k), row(oracle, k));
        }
        panic!(
            "{id}: ranked row {i} differs: ours {:?}, oracle {:?}",
            row(ours, i),
            row(oracle, i)
        );
    }
    (aligned, swaps)
}
