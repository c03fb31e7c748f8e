//! The acceptance check, through the command line: `ct-mask-net predict` with the two
//! oracle checkpoints (the authors' legacy `.pth` files) on the four oracle inputs, `s_logits`
//! and `--ranked-boxes` against the authors' outputs.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// Unpacks an oracle checkpoint once into the system temp folder.
fn unpacked(dir: &Path, name: &str) -> PathBuf {
    let out = std::env::temp_dir().join(format!("ct-mask-net-oracle-{name}.pth"));
    if std::fs::metadata(&out)
        .map(|m| m.len() > 100 << 20)
        .unwrap_or(false)
    {
        return out;
    }
    let compressed = std::fs::read(dir.join("checkpoints").join(format!("{name}.pth.gz"))).unwrap();
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut bytes)
        .unwrap();
    let partial = out.with_extension(format!("part{}", std::process::id()));
    std::fs::write(&partial, bytes).unwrap();
    std::fs::rename(&partial, &out).unwrap();
    out
}

#[test]
fn predict_matches_the_oracle_through_the_cli() {
    let Some(dir) = oracle_dir() else { return };
    let cls = unpacked(&dir, "classification_resnet50_seed0");
    let seg = unpacked(&dir, "segmentation_resnet50_seed0");
    let images: Vec<PathBuf> = INPUTS
        .iter()
        .map(|(_, f)| dir.join("inputs").join(f))
        .collect();

    let out = Command::new(env!("CARGO_BIN_EXE_ct-mask-net"))
        .arg("predict")
        .arg("--weights")
        .arg(&cls)
        .arg("--segmentation-weights")
        .arg(&seg)
        .arg("--ranked-boxes")
        .args(&images)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);

    let model = classification_model();
    for ((id, _), line) in INPUTS.iter().zip(&lines) {
        let c = dir.join("classification").join(id);
        let (_, expected) = npy_f32(&c.join("s_logits.npy"));
        let (_, oracle_rows) = npy_f32(&c.join("ranked_boxes.npy"));
        let f = |v: &serde_json::Value| v.as_f64().unwrap() as f32;
        let logits: Vec<f32> = line["s_logits"].as_array().unwrap().iter().map(f).collect();
        let rows: Vec<f32> = line["ranked_boxes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| r.as_array().unwrap().iter().map(f).collect::<Vec<_>>())
            .collect();

        let (aligned, swaps) = align_to_oracle(id, &rows, &oracle_rows);
        let rows_diff = max_abs_diff(&aligned, &oracle_rows);
        let aligned_logits =
            pollster::block_on(model.classify_ranked(&aligned, &device())).unwrap();
        let aligned_diff = max_abs_diff(&aligned_logits, &expected);
        println!(
            "{id}: CLI logits {logits:?} (|diff| {:.2e}); ranked rows within {rows_diff:.2e} \
             after {swaps} near-tie swap(s); logits with tied rows in the oracle's order {:.2e}",
            max_abs_diff(&logits, &expected),
            aligned_diff
        );
        assert!(rows_diff <= 1e-3, "{id}");
        assert!(aligned_diff <= 5e-3, "{id}");
        let argmax = |v: &[f32]| (0..3).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        assert_eq!(argmax(&logits), argmax(&expected), "{id}");
        let n_det = line["detections"].as_array().unwrap().len();
        assert_eq!(n_det, 100, "{id}: the segmentation model keeps its top 100");
    }
}
