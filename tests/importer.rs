//! Importer tests on the small fixtures written by `scripts/make_test_checkpoints.py`.
//!
//! Expected values are recomputed here from the script's formula, so a reader that shuffles,
//! mis-strides or mis-converts any value fails.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ct_mask_net::importer::{
    CheckpointFormat, ImportError, RawTensor, StateDict, read_checkpoint, write_safetensors,
};

/// The script's value formula: element `j` of storage `k`.
fn value(k: usize, j: usize) -> f32 {
    (k + 1) as f32 * 0.5 + (j as f32 - 7.0) * 0.125
}

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/checkpoints")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn tensor(shape: &[usize], data: Vec<f32>) -> RawTensor {
    RawTensor {
        shape: shape.to_vec(),
        data,
    }
}

/// The weights both authors'-layout fixtures must yield, by canonical name.
fn expected_weights() -> BTreeMap<String, RawTensor> {
    let run = |k: usize, range: std::ops::Range<usize>| range.map(|j| value(k, j)).collect();
    let transposed = (0..3)
        .flat_map(|r| (0..5).map(move |c| value(4, 2 + r + 3 * c)))
        .collect();
    [
        (
            "backbone.body.conv1.weight",
            tensor(&[4, 3, 2, 2], run(0, 0..48)),
        ),
        ("backbone.body.bn1.weight", tensor(&[4], run(1, 0..4))),
        ("backbone.body.bn1.bias", tensor(&[4], run(1, 4..8))),
        (
            "backbone.fpn.inner_blocks.0.weight",
            tensor(&[2, 4, 1, 1], run(3, 0..8)),
        ),
        ("roi_heads.box_head.fc6.weight", tensor(&[3, 5], transposed)),
        ("s2new.temperature", tensor(&[], run(5, 0..1))),
        (
            "roi_heads.mask_head.mask_fcn1.bias",
            tensor(&[3], run(6, 0..3)),
        ),
        ("rpn.head.conv.bias", tensor(&[2], run(7, 0..2))),
        ("rpn.head.cls_logits.bias", tensor(&[3], run(8, 0..3))),
    ]
    .into_iter()
    .map(|(name, t)| (name.to_owned(), t))
    .collect()
}

#[test]
fn legacy_fixture_loads_with_exact_values() {
    let checkpoint = read_checkpoint(&fixture("legacy_authors_layout.pth")).unwrap();
    assert_eq!(checkpoint.format, CheckpointFormat::TorchLegacy);
    assert_eq!(checkpoint.weights.tensors, expected_weights());
    assert_eq!(
        checkpoint.skipped,
        vec!["backbone.body.bn1.num_batches_tracked".to_owned()]
    );
    let metadata: Vec<(&str, &str)> = checkpoint
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        metadata,
        vec![("epoch", "3"), ("lrate", "1e-5"), ("model_name", "None")]
    );
}

#[test]
fn zip_fixture_with_modern_names_loads_identically() {
    let zip = read_checkpoint(&fixture("zip_authors_layout.pth")).unwrap();
    let legacy = read_checkpoint(&fixture("legacy_authors_layout.pth")).unwrap();
    assert_eq!(zip.format, CheckpointFormat::TorchZip);
    assert_eq!(zip.weights, legacy.weights);
    assert_eq!(zip.skipped, legacy.skipped);
    assert_eq!(zip.metadata, legacy.metadata);
}

#[test]
fn state_dict_key_and_half_storage() {
    let checkpoint = read_checkpoint(&fixture("zip_state_dict_key.pth")).unwrap();
    let want: BTreeMap<String, RawTensor> = [(
        "fc.bias".to_owned(),
        tensor(&[3], (0..3).map(|j| value(0, j)).collect()),
    )]
    .into();
    assert_eq!(checkpoint.weights.tensors, want);
    assert_eq!(
        checkpoint.metadata.get("epoch").map(String::as_str),
        Some("5")
    );
}

#[test]
fn every_truncation_of_a_legacy_file_is_reported_as_truncated() {
    let bytes = fixture("legacy_authors_layout.pth");
    for cut in 2..bytes.len() {
        let result = read_checkpoint(&bytes[..cut]);
        assert!(
            matches!(result, Err(ImportError::Truncated)),
            "cut at {cut}"
        );
    }
}

#[test]
fn every_truncation_of_a_zip_file_is_reported_as_truncated() {
    let bytes = fixture("zip_authors_layout.pth");
    for cut in 4..bytes.len() {
        let result = read_checkpoint(&bytes[..cut]);
        assert!(
            matches!(result, Err(ImportError::Truncated)),
            "cut at {cut}"
        );
    }
}

#[test]
fn non_checkpoints_are_recognised() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut random = vec![0u8; 4096];
    for byte in &mut random {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        *byte = (state >> 24) as u8;
    }
    let mut pickle_like = random.clone();
    pickle_like[..2].copy_from_slice(&[0x80, 0x02]);
    let plain_pickle = b"\x80\x02}q\x00X\x01\x00\x00\x00aq\x01K\x01s.".to_vec();
    let cases: [(&str, Vec<u8>); 5] = [
        ("empty", Vec::new()),
        ("text", b"patient notes: no checkpoint here\n".to_vec()),
        ("random", random),
        ("random after a pickle header", pickle_like),
        ("an ordinary pickle", plain_pickle),
    ];
    for (what, bytes) in cases {
        let result = read_checkpoint(&bytes);
        if bytes.is_empty() {
            assert!(matches!(result, Err(ImportError::Empty)), "{what}");
        } else {
            assert!(matches!(result, Err(ImportError::NotACheckpoint)), "{what}");
        }
    }
}

#[test]
fn a_complete_zip_with_a_damaged_pickle_is_corrupt_not_truncated() {
    // A stored (uncompressed) zip entry `a/data.pkl` holding 7 bytes that are no pickle.
    let name = b"a/data.pkl";
    let data = b"garbage";
    let crc = crc32(data);
    let mut zip = Vec::new();
    let local = |zip: &mut Vec<u8>| {
        zip.extend([0x50, 0x4b, 0x03, 0x04, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        zip.extend(crc.to_le_bytes());
        zip.extend((data.len() as u32).to_le_bytes());
        zip.extend((data.len() as u32).to_le_bytes());
        zip.extend((name.len() as u16).to_le_bytes());
        zip.extend([0, 0]);
        zip.extend(name);
    };
    local(&mut zip);
    zip.extend(data);
    let directory_start = zip.len() as u32;
    zip.extend([0x50, 0x4b, 0x01, 0x02, 20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    zip.extend(crc.to_le_bytes());
    zip.extend((data.len() as u32).to_le_bytes());
    zip.extend((data.len() as u32).to_le_bytes());
    zip.extend((name.len() as u16).to_le_bytes());
    zip.extend([0; 12]);
    zip.extend(0u32.to_le_bytes());
    zip.extend(name);
    let directory_len = zip.len() as u32 - directory_start;
    zip.extend([0x50, 0x4b, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0]);
    zip.extend(directory_len.to_le_bytes());
    zip.extend(directory_start.to_le_bytes());
    zip.extend([0, 0]);

    match read_checkpoint(&zip) {
        Err(ImportError::Corrupt(message)) => assert!(message.contains("data.pkl"), "{message}"),
        other => panic!("expected Corrupt, got {:?}", other.map(|c| c.format)),
    }
}

/// CRC-32 (IEEE), bit by bit.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= byte as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn missing_weights_and_unsupported_dtypes_are_named() {
    let result = read_checkpoint(&fixture("legacy_no_weights.pth"));
    assert!(matches!(result, Err(ImportError::NoWeights)));

    match read_checkpoint(&fixture("legacy_complex_weight.pth")) {
        Err(ImportError::UnsupportedDtype { tensor, dtype }) => {
            assert_eq!(
                (tensor.as_str(), dtype.as_str()),
                ("fc.rotation", "complex64")
            );
        }
        other => panic!(
            "expected UnsupportedDtype, got {:?}",
            other.map(|c| c.format)
        ),
    }
}

/// The three pickles that precede the object in a legacy file (magic, version, sys_info).
fn legacy_header() -> Vec<u8> {
    let mut bytes = vec![
        0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8,
    ];
    bytes.extend([
        0x50, 0x19, b'.', 0x80, 0x02, b'M', 0xe9, 0x03, b'.', 0x80, 0x02, b'}', b'.',
    ]);
    bytes
}

#[test]
fn hostile_lengths_and_deep_nesting_are_refused_without_crashing() {
    // A 4 GB string length in a 40-byte file.
    let mut huge = legacy_header();
    huge.extend([0x80, 0x02, b'X', 0xff, 0xff, 0xff, 0xff, b'a', b'.']);
    assert!(matches!(
        read_checkpoint(&huge),
        Err(ImportError::Truncated)
    ));

    // A million nested lists: dropping them recursively would overflow the stack.
    let depth = 1_000_000;
    let mut nested = legacy_header();
    nested.extend([0x80, 0x02]);
    nested.extend(std::iter::repeat_n(b']', depth));
    nested.extend(std::iter::repeat_n(b'a', depth - 1));
    nested.extend([b'.', 0x80, 0x02, b']', b'.']);
    assert!(matches!(
        read_checkpoint(&nested),
        Err(ImportError::NoWeights)
    ));
}

#[test]
fn architecture_check_lists_every_difference() {
    let weights = read_checkpoint(&fixture("legacy_authors_layout.pth"))
        .unwrap()
        .weights;
    let mut expected: Vec<(String, Vec<usize>)> = weights
        .tensors
        .iter()
        .map(|(name, t)| (name.clone(), t.shape.clone()))
        .collect();
    assert!(weights.check_architecture(&expected).is_ok());

    expected.retain(|(name, _)| name != "s2new.temperature");
    expected.push(("roi_heads.box_head.fc7.weight".into(), vec![5, 5]));
    for (name, shape) in &mut expected {
        if name == "backbone.body.bn1.bias" {
            *shape = vec![5];
        }
    }
    match weights.check_architecture(&expected) {
        Err(ImportError::WrongArchitecture {
            missing,
            unexpected,
            mismatched,
        }) => {
            assert_eq!(missing, vec!["roi_heads.box_head.fc7.weight".to_owned()]);
            assert_eq!(unexpected, vec!["s2new.temperature".to_owned()]);
            assert_eq!(
                mismatched,
                vec![("backbone.body.bn1.bias".to_owned(), vec![5], vec![4])]
            );
        }
        other => panic!("expected WrongArchitecture, got {other:?}"),
    }
}

/// A state dict with values that float16 cannot represent exactly.
fn awkward_state_dict() -> StateDict {
    let mut sd = StateDict::default();
    let values = vec![0.1, -1.0 / 3.0, 1000.7, 1e-8, 65504.0, -0.0, 3.0e-5, 7.25];
    sd.tensors
        .insert("a.weight".into(), tensor(&[2, 4], values));
    sd.tensors
        .insert("b.scalar".into(), tensor(&[], vec![std::f32::consts::PI]));
    sd.tensors
        .insert("c.empty".into(), tensor(&[0, 3], Vec::new()));
    sd
}

#[test]
fn safetensors_round_trip_f32_exact_and_f16_rounded() {
    let sd = awkward_state_dict();
    let metadata: BTreeMap<String, String> = [
        ("source".to_owned(), "unit test".to_owned()),
        ("epoch".to_owned(), "0".to_owned()),
    ]
    .into();

    let bytes = write_safetensors(&sd, false, &metadata).unwrap();
    let back = read_checkpoint(&bytes).unwrap();
    assert_eq!(back.format, CheckpointFormat::Safetensors);
    assert_eq!(back.weights, sd);
    assert_eq!(back.metadata, metadata);
    assert!(back.skipped.is_empty());

    let half = write_safetensors(&sd, true, &metadata).unwrap();
    assert!(half.len() < bytes.len());
    let back = read_checkpoint(&half).unwrap().weights;
    for (name, original) in &sd.tensors {
        let got = &back.tensors[name];
        assert_eq!(got.shape, original.shape);
        for (&g, &o) in got.data.iter().zip(&original.data) {
            assert_eq!(g, half::f16::from_f32(o).to_f32(), "{name}");
            // Round to nearest: within half a unit in the last place (10 mantissa bits).
            assert!(
                (g - o).abs() <= o.abs() * 2f32.powi(-11) + 2f32.powi(-25),
                "{name}: {o} -> {g}"
            );
        }
    }

    assert!(matches!(
        read_checkpoint(&bytes[..bytes.len() - 3]),
        Err(ImportError::Truncated)
    ));
}

#[test]
fn safetensors_with_unconvertible_dtype_is_refused() {
    let data = [0u8; 16];
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::C64, vec![2], &data).unwrap();
    let bytes = safetensors::tensor::serialize([("rotation", view)], None).unwrap();
    match read_checkpoint(&bytes) {
        Err(ImportError::UnsupportedDtype { tensor, .. }) => assert_eq!(tensor, "rotation"),
        other => panic!("expected UnsupportedDtype, got {other:?}"),
    }
}

#[test]
fn safetensors_header_length_that_looks_like_a_pickle_is_still_safetensors() {
    // A 640-byte header starts the file with 0x80 0x02, like a protocol-2 pickle.
    let mut header = r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#.to_owned();
    header.push_str(&" ".repeat(640 - header.len()));
    let mut bytes = 640u64.to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend(2.5f32.to_le_bytes());
    assert_eq!(&bytes[..2], &[0x80, 0x02]);
    let checkpoint = read_checkpoint(&bytes).unwrap();
    assert_eq!(checkpoint.format, CheckpointFormat::Safetensors);
    assert_eq!(checkpoint.weights.tensors["w"], tensor(&[1], vec![2.5]));
}
