//! Reads the oracle checkpoints (`/work/shared/oracle/checkpoints/*.pth.gz`, legacy torch
//! format, the authors' exact layout) and checks them against the oracle's key lists.
//! Skipped, with a printed reason, when the oracle folder is absent.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ct_mask_net::importer::{
    Checkpoint, CheckpointFormat, DetectorSharing, detector_sharing, read_checkpoint,
};

fn oracle_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oracle")
}

/// One row of `keys_*.txt`: name, shape, dtype.
struct KeyRow {
    name: String,
    shape: Vec<usize>,
    dtype: String,
}

/// Parses `keys_*.txt`: tab-separated `name  [d0, d1, ...]  dtype  numel  modern-name`,
/// `#` comment lines.
fn read_keys(path: &Path) -> Vec<KeyRow> {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let shape = fields[1].trim_matches(|c| c == '[' || c == ']');
            let shape = shape
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.parse().unwrap())
                .collect();
            KeyRow {
                name: fields[0].to_owned(),
                shape,
                dtype: fields[2].to_owned(),
            }
        })
        .collect()
}

/// Gunzips and reads one checkpoint, printing how long the read took.
fn load(name: &str) -> Checkpoint {
    let path = oracle_dir()
        .join("checkpoints")
        .join(format!("{name}.pth.gz"));
    let compressed = std::fs::read(&path).unwrap();
    let mut bytes = Vec::with_capacity(140 << 20);
    flate2::read::GzDecoder::new(compressed.as_slice())
        .read_to_end(&mut bytes)
        .unwrap();

    let start = Instant::now();
    let checkpoint = read_checkpoint(&bytes).unwrap();
    println!(
        "read_checkpoint({name}.pth, {:.1} MB): {:.3} s",
        bytes.len() as f64 / 1e6,
        start.elapsed().as_secs_f64()
    );
    checkpoint
}

/// Checks keys, shapes, skipped entries, metadata and the bfloat16-precision property.
fn check_against_key_list(checkpoint: &Checkpoint, keys_file: &str) {
    let rows = read_keys(&oracle_dir().join(keys_file));
    assert_eq!(checkpoint.format, CheckpointFormat::TorchLegacy);

    let floats: Vec<(String, Vec<usize>)> = rows
        .iter()
        .filter(|row| row.dtype == "float32")
        .map(|row| (row.name.clone(), row.shape.clone()))
        .collect();
    checkpoint.weights.check_architecture(&floats).unwrap();

    let mut ints: Vec<String> = rows
        .iter()
        .filter(|row| row.dtype == "int64")
        .map(|row| row.name.clone())
        .collect();
    ints.sort();
    let mut skipped = checkpoint.skipped.clone();
    skipped.sort();
    assert_eq!(skipped, ints);
    assert!(
        ints.iter()
            .all(|name| name.ends_with("num_batches_tracked"))
    );

    for (name, tensor) in &checkpoint.weights.tensors {
        assert_eq!(
            tensor.data.len(),
            tensor.shape.iter().product::<usize>(),
            "{name}"
        );
        let bad = tensor
            .data
            .iter()
            .filter(|v| v.to_bits() & 0xffff != 0)
            .count();
        assert_eq!(bad, 0, "{name}: values with nonzero low 16 bits");
    }

    let metadata: BTreeMap<&str, &str> = checkpoint
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(metadata.get("epoch"), Some(&"0"));
    assert_eq!(metadata.get("lrate"), Some(&"1e-5"));
    assert_eq!(metadata.get("model_name"), Some(&"None"));
}

#[test]
fn oracle_checkpoints_load_and_share_their_detector() {
    if !oracle_dir().join("checkpoints").is_dir() {
        println!(
            "skipped: oracle checkpoints not found under {}",
            oracle_dir().display()
        );
        return;
    }
    let segmentation = load("segmentation_resnet50_seed0");
    check_against_key_list(&segmentation, "keys_segmentation.txt");
    let classification = load("classification_resnet50_seed0");
    check_against_key_list(&classification, "keys_classification.txt");

    let sharing = detector_sharing(&classification.weights, &segmentation.weights);
    assert_eq!(sharing, DetectorSharing::Identical);
}
