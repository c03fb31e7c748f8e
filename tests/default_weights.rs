//! The shipped default weights: they load as both models and reproduce the figures of
//! `weights/metrics.json` (the model card's) on the public data. Without `../shared/data` the
//! figure check prints SKIPPED (a user's fresh clone); the loading check always runs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn weights() -> PathBuf {
    repo().join("weights/ct-mask-net-default.safetensors")
}

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ct-mask-net"))
        .args(args)
        .output()
        .expect("the CLI runs")
}

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("one JSON object")
}

fn close(a: &Value, b: &Value, what: &str) {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => assert!((x - y).abs() <= 5e-4, "{what}: {x} vs the card's {y}"),
        _ => assert_eq!(a, b, "{what}"),
    }
}

#[test]
fn the_default_weights_load_as_both_models_with_their_settings() {
    let bytes = std::fs::read(weights()).expect("weights/ct-mask-net-default.safetensors");
    let checkpoint = ct_mask_net::importer::read_checkpoint(&bytes).unwrap();
    let (classifier, segmenter) =
        ct_mask_net::model::split_combined(&checkpoint.weights).expect("both models");
    let detector =
        ct_mask_net::model::detector_config(&checkpoint.weights, &checkpoint.metadata).unwrap();
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("weights/metrics.json")).unwrap())
            .unwrap();
    assert_eq!(
        serde_json::to_value(&detector.rpn.anchor_sizes).unwrap(),
        card["anchor_sizes"]
    );
    assert_eq!(detector.backbone.depth as u64, card["resnet_depth"].as_u64().unwrap());
    assert!(bytes.len() <= 50_000_000, "{} bytes", bytes.len());
    // The page checks downloads against the recorded SHA-256: it must be this file's.
    ct_mask_net::engine::verify_default_weights(&bytes).expect("weights/ct-mask-net-default.sha256");
    let device = ct_mask_net::backend::cpu().device;
    ct_mask_net::analysis::Analyzer::new(
        &classifier,
        detector.clone(),
        Some((&segmenter, detector)),
        &device,
    )
    .unwrap();
}

fn link_all(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            let name = format!(
                "{}-{}",
                from.parent().unwrap().file_name().unwrap().to_string_lossy(),
                path.file_name().unwrap().to_string_lossy()
            );
            std::os::unix::fs::symlink(&path, to.join(name)).unwrap();
        }
    }
}

#[test]
fn the_default_weights_reproduce_the_model_card() {
    let data = repo().join("../shared/data");
    if !data.join("medseg_ggo_consolidation/test").is_dir() {
        println!("SKIPPED: ../shared/data is not here");
        return;
    }
    let card: Value =
        serde_json::from_str(&std::fs::read_to_string(repo().join("weights/metrics.json")).unwrap())
            .unwrap();
    let w = weights();
    let seg = json(&run(&[
        "evaluate-segmentation",
        "--json",
        "--weights",
        w.to_str().unwrap(),
        data.join("medseg_ggo_consolidation/test").to_str().unwrap(),
    ]));
    let expected = &card["segmentation"];
    for key in ["box_ap50", "box_ap", "mask_ap50", "mask_ap"] {
        close(&seg["mean"][key], &expected["mean"][key], key);
    }
    for c in 0..2 {
        for key in ["objects", "detections", "box_ap50", "mask_ap50"] {
            close(
                &seg["classes"][c][key],
                &expected["classes"][c][key],
                &format!("class {c} {key}"),
            );
        }
    }

    // The classifier on the validation set of scripts/train-default-weights.sh.
    let val = std::env::temp_dir().join(format!("ct-mask-net-default-val-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&val);
    link_all(&data.join("cncb_cp_sample/png"), &val.join("pneumonia"));
    link_all(
        &data.join("medseg_ggo_consolidation/test/images"),
        &val.join("covid"),
    );
    let cls = json(&run(&[
        "evaluate",
        "--json",
        "--weights",
        w.to_str().unwrap(),
        val.to_str().unwrap(),
    ]));
    let _ = std::fs::remove_dir_all(&val);
    let expected = &card["classifier_validation"];
    close(&cls["accuracy"], &expected["accuracy"], "accuracy");
    assert_eq!(cls["confusion"], expected["confusion"]);
}
