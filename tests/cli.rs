//! The `ct-mask-net` command line on a fresh clone: small seeded models made by the project's
//! own code (ResNet-18 detector), the committed synthetic slice, and broken inputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use burn::prelude::Device;
use ct_mask_net::analysis::Analyzer;
use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::config::{ClassificationConfig, DetectorConfig};
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::importer::{StateDict, write_safetensors};
use ct_mask_net::model::{ClassificationModel, ModelKind, synthetic_weights};
use ct_mask_net::pipeline::classification_input;
use ct_mask_net::transform::TransformConfig;
use serde_json::Value;

#[path = "support/series.rs"]
mod series;

struct Fixture {
    dir: PathBuf,
    classifier: StateDict,
    segmenter: StateDict,
}

fn detector() -> DetectorConfig {
    DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18))
}

/// Temporary folder with the two seeded checkpoints, the fixture slice in several encodings and
/// broken files.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("ct-mask-net-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let device = Device::flex();
        let classifier =
            synthetic_weights(ModelKind::Classification, &detector(), 1, &device).unwrap();
        let segmenter =
            synthetic_weights(ModelKind::Segmentation, &detector(), 1, &device).unwrap();
        let meta = BTreeMap::new();
        std::fs::write(
            dir.join("cls.safetensors"),
            write_safetensors(&classifier, false, &meta).unwrap(),
        )
        .unwrap();
        std::fs::write(
            dir.join("seg.safetensors"),
            write_safetensors(&segmenter, false, &meta).unwrap(),
        )
        .unwrap();

        let png = std::fs::read(slice_path()).unwrap();
        std::fs::write(dir.join("slice.png"), &png).unwrap();
        let image = decode_slice(&png).unwrap();
        image::DynamicImage::ImageRgb8(image.clone())
            .resize_exact(512, 512, image::imageops::FilterType::Triangle)
            .to_luma16()
            .save(dir.join("slice_512_16bit.png"))
            .unwrap();
        image.save(dir.join("slice.jpg")).unwrap();
        std::fs::write(dir.join("truncated.png"), &png[..png.len() / 2]).unwrap();
        std::fs::write(dir.join("notes.png"), b"this is a text file").unwrap();
        std::fs::write(dir.join("empty.png"), b"").unwrap();
        image::RgbImage::new(600, 40)
            .save(dir.join("strip.png"))
            .unwrap();
        Fixture {
            dir,
            classifier,
            segmenter,
        }
    })
}

fn slice_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slices/synthetic_slice.png")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ct-mask-net"))
        .args(args)
        .current_dir(&fixture().dir)
        .output()
        .unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn predict_reports_every_image_and_survives_bad_files() {
    let overlays = fixture().dir.join("overlays");
    let out = run(&[
        "predict",
        "--weights",
        "cls.safetensors",
        "--segmentation-weights",
        "seg.safetensors",
        "--ranked-boxes",
        "--overlay",
        overlays.to_str().unwrap(),
        "slice.png",
        "truncated.png",
        "slice.jpg",
        "notes.png",
        "empty.png",
        "missing.png",
        "slice_512_16bit.png",
        "strip.png",
    ]);
    let lines = json_lines(&out);
    assert_eq!(out.status.code(), Some(1), "bad files make the exit code 1");
    assert_eq!(lines.len(), 8, "one line per image");

    for (i, good) in [
        (0, "slice.png"),
        (2, "slice.jpg"),
        (6, "slice_512_16bit.png"),
    ] {
        let v = &lines[i];
        assert!(v["file"].as_str().unwrap().ends_with(good));
        let class = v["predicted_class"].as_str().unwrap();
        assert!(["normal", "pneumonia", "covid"].contains(&class));
        let p = &v["class_probabilities"];
        let sum: f64 = ["normal", "pneumonia", "covid"]
            .iter()
            .map(|k| p[k].as_f64().unwrap())
            .sum();
        assert!(
            (sum - 1.0).abs() < 1e-4,
            "{good}: probabilities sum to {sum}"
        );
        assert_eq!(v["s_logits"].as_array().unwrap().len(), 3);
        let rows = v["ranked_boxes"].as_array().unwrap();
        assert_eq!(rows.len(), 256);
        assert!(rows.iter().all(|r| r.as_array().unwrap().len() == 5));
        let [w, h] = [
            v["image_size"][0].as_f64().unwrap(),
            v["image_size"][1].as_f64().unwrap(),
        ];
        for d in v["detections"].as_array().unwrap() {
            assert!(["ggo", "consolidation"].contains(&d["label"].as_str().unwrap()));
            let b: Vec<f64> = d["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect();
            assert!(
                b[0] >= 0.0
                    && b[1] >= 0.0
                    && b[2] <= w
                    && b[3] <= h
                    && b[0] <= b[2]
                    && b[1] <= b[3]
            );
        }
        let stem = good.trim_end_matches(".png").trim_end_matches(".jpg");
        let overlay = image::open(overlays.join(format!("{stem}.overlay.png"))).unwrap();
        assert_eq!([overlay.width() as f64, overlay.height() as f64], [w, h]);
    }
    assert_eq!(
        lines[6]["shared_detector_pass"],
        Value::Bool(true),
        "512x512 shares one pass"
    );
    assert_eq!(lines[0]["shared_detector_pass"], Value::Bool(false));

    for (i, expected) in [
        (1, "corrupt or truncated"),
        (3, "unsupported image format"),
        (4, "empty"),
        (5, "cannot read"),
    ] {
        let message = lines[i]["error"]
            .as_str()
            .unwrap_or_else(|| panic!("line {i}: {}", lines[i]));
        assert!(message.contains(expected), "line {i}: {message}");
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("truncated.png"), "{stderr}");
}

#[test]
fn cli_and_library_agree_and_the_shared_pass_changes_nothing() {
    let f = fixture();
    let device = Device::flex();
    let image = decode_slice(&std::fs::read(f.dir.join("slice_512_16bit.png")).unwrap()).unwrap();

    let config = ClassificationConfig::new().with_detector(detector());
    let model = ClassificationModel::load(&f.classifier, config, &device).unwrap();
    let input = classification_input(&image, &TransformConfig::default(), &device);
    let direct = pollster::block_on(model.run(&input)).unwrap();

    let analyzer = Analyzer::with_paper_settings(&f.classifier, Some(&f.segmenter), &device).unwrap();
    let shared = pollster::block_on(analyzer.analyze(&image)).unwrap();
    assert!(shared.report.shared_detector_pass);
    assert_eq!(
        shared.report.prediction.s_logits,
        direct.prediction.s_logits
    );
    assert_eq!(shared.ranked_boxes, direct.ranked_boxes);

    let out = run(&[
        "predict",
        "--weights",
        "cls.safetensors",
        "slice_512_16bit.png",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = &json_lines(&out)[0];
    let logits: Vec<f32> = line["s_logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(logits, direct.prediction.s_logits.to_vec());
    assert!(
        line["detections"].is_null(),
        "no lesions without segmentation weights"
    );
}

#[test]
fn convert_round_trips_and_f16_stays_close() {
    for (name, half) in [("cls32.safetensors", false), ("cls16.safetensors", true)] {
        let mut args = vec!["convert", "cls.safetensors", name];
        if half {
            args.push("--f16");
        }
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let size = |n: &str| std::fs::metadata(fixture().dir.join(n)).unwrap().len() as f64;
    assert!(size("cls16.safetensors") < 0.55 * size("cls32.safetensors"));

    let logits = |weights: &str| -> Vec<f64> {
        let out = run(&["predict", "--weights", weights, "slice.png"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(&out)[0]["s_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let original = logits("cls.safetensors");
    assert_eq!(
        logits("cls32.safetensors"),
        original,
        "f32 conversion is lossless"
    );
    let half = logits("cls16.safetensors");
    let scale = original.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    for (a, b) in half.iter().zip(&original) {
        assert!(
            (a - b).abs() <= 0.05 * scale,
            "f16 logits {half:?} vs {original:?}"
        );
    }
}

#[test]
fn wrong_or_broken_checkpoints_are_refused_with_a_reason() {
    let out = run(&["predict", "--weights", "seg.safetensors", "slice.png"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("holds a segmentation model"), "{stderr}");

    let out = run(&["predict", "--weights", "slice.png", "slice.png"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("slice.png"));

    let out = run(&["convert", "truncated.png", "x.safetensors"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        !fixture().dir.join("x.safetensors").exists(),
        "nothing written on failure"
    );
}

#[test]
fn predict_reads_dicom_in_the_window_asked_for() {
    let dicom = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/covid_ct_md_3class/dicom/P001_074.dcm");
    if !dicom.exists() {
        println!(
            "SKIPPED: {} is absent (a fresh clone has no data)",
            dicom.display()
        );
        return;
    }
    let f = fixture();
    let cls = f.dir.join("cls.safetensors");
    let (cls, dicom) = (cls.to_str().unwrap(), dicom.to_str().unwrap());
    let logits = |window: &str| -> Vec<f64> {
        let out = run(&["predict", "--weights", cls, "--window", window, dicom]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let lines = json_lines(&out);
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["image_size"], serde_json::json!([512, 512]));
        lines[0]["s_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let lung = logits("lung");
    assert_eq!(logits("-600,1500"), lung);
    logits("file");
    // The window changes the slice the model reads.
    let bytes = std::fs::read(dicom).unwrap();
    let mediastinum = ct_mask_net::imaging::WindowChoice::parse("mediastinum").unwrap();
    assert_ne!(
        ct_mask_net::imaging::decode_slice_with(&bytes, mediastinum).unwrap(),
        decode_slice(&bytes).unwrap()
    );

    let out = run(&["predict", "--weights", cls, "--window", "narrow", dicom]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a window"));
}

/// `train-segmentation` from scratch for one step on a written slice, with data-sized anchors
/// that travel in the checkpoint's settings; `evaluate-segmentation` reads them back.
#[test]
fn train_and_evaluate_segmentation_from_the_command_line() {
    let dir = fixture().dir.join("seg-data");
    std::fs::create_dir_all(dir.join("images")).unwrap();
    std::fs::create_dir_all(dir.join("masks")).unwrap();
    let image = image::GrayImage::from_fn(64, 64, |x, y| {
        image::Luma([if (20..40).contains(&x) && (16..36).contains(&y) {
            220
        } else {
            40
        }])
    });
    let mask = image::GrayImage::from_fn(64, 64, |x, y| {
        image::Luma([u8::from((20..40).contains(&x) && (16..36).contains(&y)) * 2])
    });
    image.save(dir.join("images/1.png")).unwrap();
    mask.save(dir.join("masks/1.png")).unwrap();
    let out = fixture().dir.join("seg-run");
    let (data, out_dir) = (dir.to_str().unwrap(), out.to_str().unwrap());

    let trained = run(&[
        "train-segmentation",
        "--data",
        data,
        "--out",
        out_dir,
        "--epochs",
        "1",
        "--anchor-sizes",
        "16,32,64,128,256",
    ]);
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let last = out.join("last.safetensors");
    let checkpoint =
        ct_mask_net::importer::read_checkpoint(&std::fs::read(&last).unwrap()).unwrap();
    assert_eq!(checkpoint.metadata["epoch"], "1");
    assert!(checkpoint.metadata["config"].contains("[16.0,32.0,64.0,128.0,256.0]"));

    let evaluated = run(&[
        "evaluate-segmentation",
        "--json",
        "--weights",
        last.to_str().unwrap(),
        data,
    ]);
    assert!(
        evaluated.status.success(),
        "{}",
        String::from_utf8_lossy(&evaluated.stderr)
    );
    let report = &json_lines(&evaluated)[0];
    assert_eq!(report["slices"], 1);
    assert_eq!(report["classes"][1]["objects"], 1);

    // predict builds the segmentation model with the file's anchors: the lesion found is the
    // same as evaluate-segmentation's best detection.
    let cls = fixture().dir.join("cls.safetensors");
    let predicted = run(&[
        "predict",
        "--weights",
        cls.to_str().unwrap(),
        "--segmentation-weights",
        last.to_str().unwrap(),
        fixture()
            .dir
            .join("seg-data/images/1.png")
            .to_str()
            .unwrap(),
    ]);
    assert!(
        predicted.status.success(),
        "{}",
        String::from_utf8_lossy(&predicted.stderr)
    );
    let line = &json_lines(&predicted)[0];
    assert!(!line["detections"].is_null(), "{line}");

    // finetune starts from the segmentation model: its detector, a new S, its anchors kept.
    let tuned = fixture().dir.join("from-seg.safetensors");
    let labelled = fixture().dir.join("from-seg-data");
    for class in ["covid", "normal"] {
        std::fs::create_dir_all(labelled.join(class)).unwrap();
        for k in 0..2 {
            image.save(labelled.join(class).join(format!("{k}.png"))).unwrap();
        }
    }
    let finetuned = run(&[
        "finetune",
        "--weights",
        last.to_str().unwrap(),
        "--train",
        labelled.to_str().unwrap(),
        "--epochs",
        "1",
        "--out",
        tuned.to_str().unwrap(),
    ]);
    assert!(
        finetuned.status.success(),
        "{}",
        String::from_utf8_lossy(&finetuned.stderr)
    );
    let stderr = String::from_utf8_lossy(&finetuned.stderr);
    assert!(stderr.contains("new module S"), "{stderr}");
    let back = ct_mask_net::importer::read_checkpoint(&std::fs::read(&tuned).unwrap()).unwrap();
    assert!(back.metadata["config"].contains("[16.0,32.0,64.0,128.0,256.0]"));
    let seg = ct_mask_net::importer::read_checkpoint(&std::fs::read(&last).unwrap()).unwrap();
    assert_eq!(
        ct_mask_net::importer::detector_sharing(&back.weights, &seg.weights),
        ct_mask_net::importer::DetectorSharing::Identical
    );

    // Both in one file: predict alone finds the lesions, evaluate-segmentation reads it.
    let combined = fixture().dir.join("combined.safetensors");
    let made = run(&[
        "combine",
        "--segmentation",
        last.to_str().unwrap(),
        "--classifier",
        tuned.to_str().unwrap(),
        "--description",
        "test weights",
        "--out",
        combined.to_str().unwrap(),
    ]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let alone = run(&[
        "predict",
        "--weights",
        combined.to_str().unwrap(),
        fixture().dir.join("seg-data/images/1.png").to_str().unwrap(),
    ]);
    assert!(alone.status.success(), "{}", String::from_utf8_lossy(&alone.stderr));
    let with_both = run(&[
        "predict",
        "--weights",
        tuned.to_str().unwrap(),
        "--segmentation-weights",
        last.to_str().unwrap(),
        fixture().dir.join("seg-data/images/1.png").to_str().unwrap(),
    ]);
    let (a, b) = (&json_lines(&alone)[0], &json_lines(&with_both)[0]);
    assert_eq!(a["s_logits"], b["s_logits"]);
    assert_eq!(a["detections"], b["detections"]);
    let evaluated = run(&["evaluate-segmentation", "--json", "--weights", combined.to_str().unwrap(), data]);
    assert!(evaluated.status.success(), "{}", String::from_utf8_lossy(&evaluated.stderr));
    let again = &json_lines(&evaluated)[0];
    assert_eq!(again["classes"], report["classes"]);
    assert_eq!(again["input_scale"], report["input_scale"]);
    // A classifier on another detector cannot be combined with it.
    let other = run(&[
        "combine",
        "--segmentation",
        last.to_str().unwrap(),
        "--classifier",
        cls.to_str().unwrap(),
        "--out",
        fixture().dir.join("bad-combined.safetensors").to_str().unwrap(),
    ]);
    assert!(!other.status.success());
    assert!(String::from_utf8_lossy(&other.stderr).contains("do not share one detector"));

    let bad = run(&[
        "train-segmentation",
        "--data",
        data,
        "--out",
        out_dir,
        "--anchor-sizes",
        "16,-1",
    ]);
    assert!(!bad.status.success());
}

/// A folder holding one patient's DICOM series (files named out of order, no extensions), a
/// text file and a COVIDx-CT-named PNG: `predict` finds the slices, analyses the series head
/// first, numbers its slices, and `--studies` rolls each study up.
#[test]
fn predict_walks_folders_and_rolls_up_studies() {
    use series::{AXIAL, Placed, slice_at};
    let f = fixture();
    let folder = f.dir.join("patient-folder");
    let _ = std::fs::remove_dir_all(&folder);
    std::fs::create_dir_all(folder.join("series")).unwrap();
    for (name, z, instance) in [("IM0003", -20.0, 3), ("IM0001", 0.0, 1), ("IM0002", -10.0, 2)] {
        let at = Placed {
            study: "1.2.3",
            series: "1.2.3.4",
            patient: "P9",
            z,
            instance,
            orientation: AXIAL,
        };
        std::fs::write(folder.join("series").join(name), slice_at(&at)).unwrap();
    }
    std::fs::write(folder.join("README.txt"), "not a slice").unwrap();
    std::fs::write(folder.join(".hidden.png"), "not a slice either").unwrap();
    std::fs::copy(slice_path(), folder.join("NCP_5_77_0012.png")).unwrap();

    let out = run(&[
        "predict",
        "--weights",
        "cls.safetensors",
        "--segmentation-weights",
        "seg.safetensors",
        "--studies",
        folder.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 4 + 2, "4 slices, then 2 studies: {lines:?}");

    // Path order puts the PNG first; the series follows head first.
    assert!(lines[0]["file"].as_str().unwrap().ends_with("NCP_5_77_0012.png"));
    assert_eq!(lines[0]["study"], "NCP patient 5, scan 77");
    let series: Vec<(String, u64)> = lines[1..4]
        .iter()
        .map(|l| {
            let file = l["file"].as_str().unwrap();
            (file.rsplit('/').next().unwrap().to_string(), l["slice"].as_u64().unwrap())
        })
        .collect();
    assert_eq!(
        series,
        [("IM0001".to_string(), 1), ("IM0002".to_string(), 2), ("IM0003".to_string(), 3)]
    );
    assert!(lines[1]["study"].as_str().unwrap().starts_with("patient P9"));
    assert!(lines[1..4].iter().all(|l| l["slices"] == 3 && l["predicted_class"].is_string()));

    let study = &lines[5];
    assert_eq!(study["study"], lines[1]["study"]);
    let files: Vec<&str> = study["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert_eq!(files, ["IM0001", "IM0002", "IM0003"]);
    let summary = &study["summary"];
    assert_eq!(summary["slices"], 3);
    let mean: f64 = (1..4)
        .map(|i| lines[i]["class_probabilities"]["covid"].as_f64().unwrap())
        .sum::<f64>()
        / 3.0;
    let rolled = summary["mean_probabilities"]["covid"].as_f64().unwrap();
    assert!((rolled - mean).abs() < 1e-5, "{rolled} vs {mean}");
    assert_eq!(summary["lesion_burden"].as_array().unwrap().len(), 3);
    assert_eq!(lines[4]["summary"]["slices"], 1);

    // An empty folder is an error in words.
    let empty = f.dir.join("empty-folder");
    std::fs::create_dir_all(&empty).unwrap();
    let out = run(&["predict", "--weights", "cls.safetensors", empty.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("holds no CT slice"));
}
