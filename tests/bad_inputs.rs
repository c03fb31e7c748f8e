//! The bad-input corpus (`tests/fixtures/bad-inputs/`, made by `examples/make_bad_inputs.rs`):
//! the committed files are what the generator makes; every file gets an error holding its
//! expected words from the decoder, `predict` (one error line each, the good slice after them
//! still analysed) and the engine (which keeps working); no panic anywhere.

#[path = "support/bad_inputs.rs"]
mod bad_inputs;

use std::path::PathBuf;
use std::process::Command;

use bad_inputs::{Use, corpus};
use ct_mask_net::engine::{Engine, Reply, Request};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bad-inputs")
}

fn good_slice() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slices/synthetic_slice.png")
}

fn contains(message: &str, words: &str) -> bool {
    message.to_lowercase().contains(&words.to_lowercase())
}

#[test]
fn the_committed_corpus_is_what_the_generator_makes() {
    let all = corpus();
    assert!(all.len() >= 30, "{} files", all.len());
    let tsv = std::fs::read_to_string(dir().join("expected.tsv"))
        .expect("tests/fixtures/bad-inputs/expected.tsv (cargo run --release --example make_bad_inputs)");
    assert_eq!(tsv.lines().count(), all.len() + 1);
    for input in &all {
        assert!(!input.expect.is_empty(), "{}: no expected words", input.name);
        let committed = std::fs::read(dir().join(input.name))
            .unwrap_or_else(|e| panic!("{}: {e}", input.name));
        assert!(
            committed == input.bytes,
            "{} differs from the generator's (run cargo run --release --example make_bad_inputs)",
            input.name
        );
    }
}

#[test]
fn every_bad_slice_gets_its_message_from_the_decoder() {
    for input in corpus().iter().filter(|i| i.used_as == Use::Slice) {
        match ct_mask_net::imaging::decode_slice(&input.bytes) {
            Ok(image) => panic!("{}: decoded to {}x{}", input.name, image.width(), image.height()),
            Err(e) => assert!(
                contains(&e.to_string(), input.expect),
                "{}: \"{e}\" lacks \"{}\"",
                input.name,
                input.expect
            ),
        }
    }
}

#[test]
fn every_bad_weights_file_gets_its_message_from_the_reader() {
    for input in corpus().iter().filter(|i| i.used_as == Use::Weights) {
        let message = match ct_mask_net::importer::read_checkpoint(&input.bytes) {
            Err(e) => e.to_string(),
            Ok(checkpoint) => match ct_mask_net::model::ModelKind::detect(&checkpoint.weights) {
                Err(e) => e.to_string(),
                Ok(kind) => panic!("{}: read as a {} model", input.name, kind.name()),
            },
        };
        assert!(
            contains(&message, input.expect),
            "{}: \"{message}\" lacks \"{}\"",
            input.name,
            input.expect
        );
    }
}

#[test]
fn predict_reports_each_bad_file_and_goes_on() {
    let all = corpus();
    let slices: Vec<_> = all.iter().filter(|i| i.used_as == Use::Slice).collect();
    // A seeded ResNet-18 classifier (any working model will do).
    let detector = ct_mask_net::config::DetectorConfig::new()
        .with_backbone(ct_mask_net::backbone::BackboneConfig::new().with_depth(18));
    let weights = ct_mask_net::model::synthetic_weights(
        ct_mask_net::model::ModelKind::Classification,
        &detector,
        1,
        &ct_mask_net::backend::cpu().device,
    )
    .unwrap();
    let cls = std::env::temp_dir().join(format!("bad-inputs-cls-{}.safetensors", std::process::id()));
    std::fs::write(
        &cls,
        ct_mask_net::importer::write_safetensors(&weights, true, &Default::default()).unwrap(),
    )
    .unwrap();
    let mut args: Vec<String> = vec!["predict".into(), "--weights".into(), cls.display().to_string()];
    args.extend(slices.iter().map(|i| dir().join(i.name).display().to_string()));
    args.push(good_slice().display().to_string());
    let out = Command::new(env!("CARGO_BIN_EXE_ct-mask-net"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), slices.len() + 1);
    for (input, line) in slices.iter().zip(&lines) {
        let error = line["error"].as_str().unwrap_or_else(|| panic!("{}: {line}", input.name));
        assert!(contains(error, input.expect), "{}: \"{error}\"", input.name);
    }
    assert!(lines.last().unwrap()["predicted_class"].is_string());
    let _ = std::fs::remove_file(&cls);

    for input in all.iter().filter(|i| i.used_as == Use::Weights) {
        let out = Command::new(env!("CARGO_BIN_EXE_ct-mask-net"))
            .args(["predict", "--weights"])
            .arg(dir().join(input.name))
            .arg(good_slice())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {stderr}", input.name);
        assert!(contains(&stderr, input.expect), "{}: \"{stderr}\"", input.name);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", input.name);
    }
}

#[test]
fn the_engine_refuses_each_bad_file_and_keeps_working() {
    let mut engine = Engine::new(ct_mask_net::backend::cpu(), "CPU (test)");
    assert!(matches!(
        pollster::block_on(engine.handle(Request::UsePlaceholder)),
        Reply::ModelReady(_)
    ));
    for input in corpus() {
        let reply = match input.used_as {
            Use::Slice => pollster::block_on(engine.handle(Request::Analyse {
                name: input.name.into(),
                bytes: input.bytes.clone(),
                window: "lung".into(),
            })),
            Use::Weights => pollster::block_on(
                engine.handle(Request::LoadWeights(vec![(input.name.into(), input.bytes.clone())])),
            ),
        };
        let message = match reply {
            Reply::AnalysisFailed(m) | Reply::WeightsRefused(m) => m,
            other => panic!("{}: {other:?}", input.name),
        };
        assert!(contains(&message, input.expect), "{}: \"{message}\"", input.name);
    }
    let good = std::fs::read(good_slice()).unwrap();
    assert!(matches!(
        pollster::block_on(engine.handle(Request::Analyse {
            name: "good.png".into(),
            bytes: good,
            window: "lung".into(),
        })),
        Reply::Analysed(_)
    ));
}
