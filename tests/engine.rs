//! The web page's engine, natively: every request kind, bad input, and the wire form the
//! page and its worker exchange.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::backend;
use ct_mask_net::config::DetectorConfig;
use ct_mask_net::engine::{AnalysedSlice, Engine, Envelope, Reply, Request};
use ct_mask_net::importer::write_safetensors;
use ct_mask_net::model::{ModelKind, synthetic_weights};
use pollster::block_on;

fn fixture_slice() -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/slices/synthetic_slice.png");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn engine() -> Engine {
    Engine::new(backend::cpu(), "CPU (test)")
}

fn analyse(engine: &mut Engine, name: &str, bytes: Vec<u8>) -> Reply {
    block_on(engine.handle(Request::Analyse {
        name: name.into(),
        bytes,
        window: "lung".into(),
    }))
}

fn expect_slice(reply: Reply) -> AnalysedSlice {
    match reply {
        Reply::Analysed(slice) => *slice,
        other => panic!("expected a result, got {other:?}"),
    }
}

fn expect_failure(reply: Reply) -> String {
    match reply {
        Reply::AnalysisFailed(message) => message,
        other => panic!("expected a failure, got {other:?}"),
    }
}

/// Seeded ResNet-18 weights of one kind, as the project's safetensors file.
fn safetensors(kind: ModelKind, seed: u64) -> Vec<u8> {
    let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
    let weights = synthetic_weights(kind, &detector, seed, &backend::cpu().device).unwrap();
    write_safetensors(&weights, true, &BTreeMap::new()).unwrap()
}

/// Pixels, masks and S's input, for comparing two results exactly.
fn fingerprint(slice: &AnalysedSlice) -> (Vec<u8>, Vec<f32>, Option<Vec<bool>>, String) {
    let masks = slice.analysis.masks.as_ref().map(|m| {
        let mut all = m.ggo.clone();
        all.extend(&m.consolidation);
        all
    });
    let mut report = slice.analysis.report.clone();
    report.timings_ms = Default::default();
    (
        slice.image.as_raw().clone(),
        slice.analysis.ranked_boxes.clone(),
        masks,
        serde_json::to_string(&report).unwrap(),
    )
}

#[test]
fn the_engine_answers_every_request_and_survives_bad_input() {
    let mut engine = engine();
    assert!(matches!(
        engine.hello(),
        Reply::Hello { backend, detail } if backend == "CPU (test)" && detail.is_empty()
    ));

    // Before any model: a plain refusal, no panic.
    let message = expect_failure(analyse(&mut engine, "early.png", fixture_slice()));
    assert!(message.contains("No model"), "{message}");
    let message = expect_failure(block_on(engine.handle(Request::WarmUp)));
    assert!(message.contains("No model"), "{message}");

    // The placeholder.
    match block_on(engine.handle(Request::UsePlaceholder)) {
        Reply::ModelReady(info) => {
            assert!(info.placeholder && info.lesions, "{info:?}");
            assert!(info.label.contains("placeholder"), "{info:?}");
        }
        other => panic!("placeholder: {other:?}"),
    }
    match block_on(engine.handle(Request::WarmUp)) {
        Reply::WarmedUp { ms } => assert!(ms > 0.0),
        other => panic!("warm-up: {other:?}"),
    }

    // Bad files, each with its own message.
    let png = fixture_slice();
    let cases: [(&str, Vec<u8>, &str); 3] = [
        ("empty.png", Vec::new(), "empty"),
        (
            "notes.png",
            b"my notes, not an image".to_vec(),
            "unsupported image format",
        ),
        (
            "truncated.png",
            png[..png.len() / 3].to_vec(),
            "corrupt or truncated",
        ),
    ];
    for (name, bytes, expected) in cases {
        let message = expect_failure(analyse(&mut engine, name, bytes));
        assert!(
            message.to_lowercase().contains(expected),
            "{name}: {message}"
        );
        assert!(message.starts_with(char::is_uppercase), "{name}: {message}");
    }

    // A good slice: a class, probabilities summing to one, masks of the slice's size.
    let first = expect_slice(analyse(&mut engine, "slice.png", png.clone()));
    let report = &first.analysis.report;
    let p = report.prediction.class_probabilities.as_array();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
    assert_eq!(first.analysis.ranked_boxes.len(), 256 * 5);
    let masks = first
        .analysis
        .masks
        .as_ref()
        .expect("the placeholder segments");
    let (w, h) = first.image.dimensions();
    assert_eq!(masks.ggo.len(), (w * h) as usize);
    assert_eq!(report.image_size, [w as usize, h as usize]);
    assert!(first.total_ms > 0.0 && report.timings_ms.backbone_fpn_ms > 0.0);

    // Not a checkpoint: refused, and the placeholder stays active and gives the same answer.
    match block_on(engine.handle(Request::LoadWeights(vec![(
        "notes.pth".into(),
        b"not a checkpoint".to_vec(),
    )]))) {
        Reply::WeightsRefused(message) => {
            assert!(message.starts_with("notes.pth: "), "{message}");
            assert!(message.contains("not a model checkpoint"), "{message}");
        }
        other => panic!("bad weights: {other:?}"),
    }
    let again = expect_slice(analyse(&mut engine, "slice.png", png.clone()));
    assert_eq!(
        fingerprint(&first),
        fingerprint(&again),
        "same image, same answer"
    );

    // An empty file says so.
    match block_on(engine.handle(Request::LoadWeights(vec![("empty.pth".into(), Vec::new())]))) {
        Reply::WeightsRefused(message) => assert!(message.contains("empty"), "{message}"),
        other => panic!("empty weights: {other:?}"),
    }

    // A segmentation checkpoint alone cannot classify.
    let segmentation = safetensors(ModelKind::Segmentation, 7);
    match block_on(engine.handle(Request::LoadWeights(vec![(
        "seg.safetensors".into(),
        segmentation.clone(),
    )]))) {
        Reply::WeightsRefused(message) => assert!(message.contains("alone"), "{message}"),
        other => panic!("segmentation alone: {other:?}"),
    }

    // A classifier alone works (no lesions); the segmentation file then completes the pair.
    let classifier = safetensors(ModelKind::Classification, 7);
    match block_on(engine.handle(Request::LoadWeights(vec![(
        "cls.safetensors".into(),
        classifier,
    )]))) {
        Reply::ModelReady(info) => {
            assert!(!info.placeholder && !info.lesions, "{info:?}");
            assert!(info.label.contains("cls.safetensors"), "{info:?}");
        }
        other => panic!("classifier: {other:?}"),
    }
    let no_lesions = expect_slice(analyse(&mut engine, "slice.png", png.clone()));
    assert!(no_lesions.analysis.masks.is_none());
    assert!(no_lesions.analysis.report.detections.is_none());

    match block_on(engine.handle(Request::LoadWeights(vec![(
        "seg.safetensors".into(),
        segmentation,
    )]))) {
        Reply::ModelReady(info) => {
            assert!(info.lesions, "{info:?}");
            assert!(
                info.label.contains("cls.safetensors + seg.safetensors"),
                "{info:?}"
            );
        }
        other => panic!("pair: {other:?}"),
    }
    let pair = expect_slice(analyse(&mut engine, "slice.png", png));
    assert!(pair.analysis.masks.is_some());
    assert!(pair.analysis.report.detections.is_some());
}

#[test]
fn requests_and_replies_survive_the_wire_form() {
    let requests = [
        Request::UsePlaceholder,
        Request::UseDefault(vec![9, 8, 7]),
        Request::WarmUp,
        Request::LoadWeights(vec![
            ("a.pth".into(), vec![1, 2, 3]),
            ("b.pth".into(), vec![]),
        ]),
        Request::Analyse {
            name: "x, \"quoted\".png".into(),
            bytes: vec![9; 17],
            window: "40,350".into(),
        },
    ];
    for request in requests {
        let back = Request::decode(request.clone().encode()).unwrap();
        assert_eq!(back, request);
    }

    let hello = Reply::Hello {
        backend: "WebGPU (test adapter)".into(),
        detail: "limits: max buffer 256 MiB".into(),
    };
    assert!(matches!(
        Reply::decode(hello.encode()).unwrap(),
        Reply::Hello { backend, detail }
            if backend == "WebGPU (test adapter)" && detail == "limits: max buffer 256 MiB"
    ));
    assert!(matches!(
        Reply::decode(Reply::WarmedUp { ms: 12.5 }.encode()).unwrap(),
        Reply::WarmedUp { ms } if ms == 12.5
    ));

    // A real result, with masks and S's input, comes back bit for bit.
    let mut engine = engine();
    block_on(engine.handle(Request::UsePlaceholder));
    let slice = expect_slice(analyse(&mut engine, "slice.png", fixture_slice()));
    let envelope = Reply::Analysed(Box::new(slice.clone())).encode();
    let back = expect_slice(Reply::decode(envelope.clone()).unwrap());
    assert_eq!(fingerprint(&back), fingerprint(&slice));
    assert_eq!(back.total_ms, slice.total_ms);

    // Malformed messages are errors, not panics.
    let mut short = envelope.clone();
    short.buffers.pop();
    assert!(Reply::decode(short).unwrap_err().contains("three buffers"));
    let mut wrong_pixels = envelope;
    wrong_pixels.buffers[0].pop();
    assert!(Reply::decode(wrong_pixels).unwrap_err().contains("pixel"));
    let garbage = Envelope {
        header: "{\"type\":\"launch_rockets\"}".into(),
        buffers: Vec::new(),
    };
    assert!(Request::decode(garbage.clone()).is_err());
    assert!(Reply::decode(garbage).is_err());
    let missing = Envelope {
        header: "{\"type\":\"analyse\",\"name\":\"a.png\"}".into(),
        buffers: Vec::new(),
    };
    assert!(Request::decode(missing).unwrap_err().contains("one buffer"));
}

/// Fine-tuning through the engine: start, epochs, apply; the returned file re-imports to the
/// same classifier (paired again with the placeholder's lesions), and bad requests fail with
/// a message.
#[test]
fn the_engine_fine_tunes_s_and_hands_back_a_file_that_reloads() {
    use ct_mask_net::engine::{FINE_TUNED_FILE, FineTuneSettings, FineTuneSetup};

    let mut e = engine();
    assert!(matches!(
        block_on(e.handle(Request::FineTuneEpoch)),
        Reply::FineTuneFailed(_)
    ));
    assert!(matches!(
        block_on(e.handle(Request::UsePlaceholder)),
        Reply::ModelReady(_)
    ));

    // S inputs of two real analyses, labelled, plus perturbed copies.
    let slice = expect_slice(analyse(&mut e, "a.png", fixture_slice()));
    let base = slice.analysis.ranked_boxes.clone();
    assert_eq!(base.len(), 1280);
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for i in 0..9u8 {
        features.extend(
            base.iter()
                .enumerate()
                .map(|(k, v)| v + if k % 5 == (i % 3) as usize { 0.3 } else { 0.0 }),
        );
        labels.push(i % 3);
    }
    let validation: Vec<bool> = (0..9).map(|i| i >= 6).collect();
    let settings = FineTuneSettings {
        learning_rate: 1e-4,
        ..FineTuneSettings::default()
    };
    let setup = FineTuneSetup {
        features: features.clone(),
        labels: labels.clone(),
        validation: validation.clone(),
        settings: settings.clone(),
    };

    // Inconsistent sets are refused.
    for bad in [
        FineTuneSetup {
            labels: vec![],
            features: vec![],
            validation: vec![],
            ..setup.clone()
        },
        FineTuneSetup {
            validation: vec![true; 9],
            ..setup.clone()
        },
        FineTuneSetup {
            labels: vec![3; 9],
            ..setup.clone()
        },
        FineTuneSetup {
            features: features[..100].to_vec(),
            ..setup.clone()
        },
    ] {
        match block_on(e.handle(Request::FineTuneStart(bad))) {
            Reply::FineTuneFailed(message) => assert!(!message.is_empty()),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    let report = match block_on(e.handle(Request::FineTuneStart(setup))) {
        Reply::FineTuneProgress(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!((report.epoch, report.train_loss), (0, None));
    assert_eq!(report.confusion.as_ref().unwrap().total(), 3);
    let mut losses = Vec::new();
    for epoch in 1..=4 {
        match block_on(e.handle(Request::FineTuneEpoch)) {
            Reply::FineTuneProgress(r) => {
                assert_eq!(r.epoch, epoch);
                assert!(r.best_epoch <= epoch);
                losses.push(r.train_loss.unwrap());
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(losses[3] < losses[0], "{losses:?}");

    let (info, file, bytes) = match block_on(e.handle(Request::FineTuneApply)) {
        Reply::FineTuned { info, file, bytes } => (info, file, bytes),
        other => panic!("{other:?}"),
    };
    assert_eq!(file, FINE_TUNED_FILE);
    assert!(info.label.contains(FINE_TUNED_FILE) && info.lesions && !info.placeholder);
    let tuned = expect_slice(analyse(&mut e, "a.png", fixture_slice()));

    // A fresh engine given the file gives the same answer, lesions included.
    let mut fresh = engine();
    match block_on(fresh.handle(Request::LoadWeights(vec![(file, bytes)]))) {
        Reply::ModelReady(reloaded) => assert_eq!(reloaded, info),
        other => panic!("{other:?}"),
    }
    let again = expect_slice(analyse(&mut fresh, "a.png", fixture_slice()));
    assert_eq!(fingerprint(&again), fingerprint(&tuned));
    assert_ne!(
        tuned.analysis.report.prediction.s_logits,
        slice.analysis.report.prediction.s_logits
    );

    // The speed benchmark runs beside the user's session.
    match block_on(e.handle(Request::FineTuneBenchmark { slices: 20 })) {
        Reply::FineTuneTimed {
            slices,
            ms_per_epoch,
        } => assert!(slices == 20 && ms_per_epoch > 0.0),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        block_on(e.handle(Request::FineTuneEpoch)),
        Reply::FineTuneProgress(r) if r.epoch == 5
    ));

    // The messages survive the wire form.
    let request = Request::FineTuneStart(FineTuneSetup {
        features: features[..1280].to_vec(),
        labels: vec![2],
        validation: vec![false],
        settings,
    });
    assert_eq!(Request::decode(request.clone().encode()).unwrap(), request);
    for r in [
        Request::FineTuneEpoch,
        Request::FineTuneApply,
        Request::FineTuneBenchmark { slices: 300 },
    ] {
        assert_eq!(Request::decode(r.clone().encode()).unwrap(), r);
    }
    match Reply::decode(Reply::FineTuneProgress(report.clone()).encode()).unwrap() {
        Reply::FineTuneProgress(back) => assert_eq!(back, report),
        other => panic!("{other:?}"),
    }
}

/// A checkpoint whose saved settings use other anchors than the paper's is built with them;
/// one whose settings contradict its tensors is refused with the reason, and the active model
/// stays.
#[test]
fn saved_anchors_are_used_and_contradicting_settings_refused() {
    let mut e = engine();
    assert!(matches!(
        block_on(e.handle(Request::UsePlaceholder)),
        Reply::ModelReady(_)
    ));
    let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
    let weights = synthetic_weights(
        ModelKind::Classification,
        &detector,
        3,
        &backend::cpu().device,
    )
    .unwrap();
    let mut meta = BTreeMap::new();
    meta.insert(
        "config".to_string(),
        serde_json::to_string(
            &ct_mask_net::config::ClassificationConfig::new().with_detector(
                detector.clone().with_rpn(
                    ct_mask_net::rpn::RpnConfig::new()
                        .with_anchor_sizes(vec![16.0, 32.0, 64.0, 128.0, 256.0]),
                ),
            ),
        )
        .unwrap(),
    );
    let bytes = write_safetensors(&weights, true, &meta).unwrap();
    match block_on(e.handle(Request::LoadWeights(vec![(
        "mine.safetensors".into(),
        bytes,
    )]))) {
        Reply::ModelReady(info) => assert!(info.label.contains("mine.safetensors"), "{info:?}"),
        other => panic!("{other:?}"),
    }
    expect_slice(analyse(&mut e, "a.png", fixture_slice()));

    let mut wrong = detector.clone();
    wrong.backbone.depth = 34;
    meta.insert(
        "config".to_string(),
        serde_json::to_string(
            &ct_mask_net::config::ClassificationConfig::new().with_detector(wrong),
        )
        .unwrap(),
    );
    let bytes = write_safetensors(&weights, true, &meta).unwrap();
    match block_on(e.handle(Request::LoadWeights(vec![(
        "mine.safetensors".into(),
        bytes,
    )]))) {
        Reply::WeightsRefused(message) => {
            assert!(
                message.contains("mine.safetensors") && message.contains("ResNet-34"),
                "{message}"
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(!expect_failure(analyse(&mut e, "empty.png", Vec::new())).is_empty());
    expect_slice(analyse(&mut e, "a.png", fixture_slice()));
}

/// The default weights (both models in one file) become the active model, with lesions and
/// the file's own description; a file without both models is refused and the model stays.
#[test]
fn the_default_weights_hold_both_models() {
    let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
    let device = backend::cpu().device;
    let mut both = synthetic_weights(ModelKind::Segmentation, &detector, 5, &device).unwrap();
    let cls = synthetic_weights(ModelKind::Classification, &detector, 5, &device).unwrap();
    both.tensors.extend(
        cls.tensors
            .into_iter()
            .filter(|(k, _)| k.starts_with("s2new.")),
    );
    let mut meta = BTreeMap::new();
    meta.insert("description".to_string(), "Demo weights".to_string());
    meta.insert("lesion_min_score".to_string(), "0.2".to_string());
    let bytes = write_safetensors(&both, true, &meta).unwrap();

    let mut e = engine();
    match block_on(e.handle(Request::UseDefault(safetensors(
        ModelKind::Classification,
        1,
    )))) {
        Reply::WeightsRefused(message) => assert!(message.contains("both models"), "{message}"),
        other => panic!("{other:?}"),
    }
    match block_on(e.handle(Request::UseDefault(bytes))) {
        Reply::ModelReady(info) => {
            assert!(
                info.default && !info.placeholder && info.lesions,
                "{info:?}"
            );
            assert!(info.label.starts_with("Demo weights"), "{info:?}");
            assert_eq!(info.min_score, 0.2);
        }
        other => panic!("{other:?}"),
    }
    let slice = expect_slice(analyse(&mut e, "a.png", fixture_slice()));
    assert!(slice.analysis.masks.is_some());
    match block_on(e.handle(Request::UseDefault(b"not weights".to_vec()))) {
        Reply::WeightsRefused(_) => {}
        other => panic!("{other:?}"),
    }
    expect_slice(analyse(&mut e, "a.png", fixture_slice()));
}

/// A photograph-sized image is analysed scaled down, and the answer says so (and crosses the
/// worker boundary with the note).
#[test]
fn very_large_images_are_analysed_scaled_down_with_a_note() {
    let mut e = engine();
    assert!(matches!(
        block_on(e.handle(Request::UsePlaceholder)),
        Reply::ModelReady(_)
    ));
    let slice = image::load_from_memory(&fixture_slice()).unwrap().to_rgb8();
    let big = image::imageops::resize(&slice, 2600, 650, image::imageops::FilterType::Triangle);
    let mut png = Vec::new();
    big.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let reply = analyse(&mut e, "photo.png", png);
    let Reply::Analysed(slice) = Reply::decode(reply.encode()).unwrap() else {
        panic!("expected a result");
    };
    assert_eq!(slice.image.dimensions(), (2048, 512));
    assert_eq!(slice.analysis.report.image_size, [2048, 512]);
    let notes = &slice.analysis.report.notes;
    assert!(
        notes.len() == 1 && notes[0].contains("2600x650"),
        "{notes:?}"
    );
    // Slices within the limit carry no note.
    let normal = expect_slice(analyse(&mut e, "a.png", fixture_slice()));
    assert!(normal.analysis.report.notes.is_empty());
}
