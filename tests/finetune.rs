//! Fine-tuning module S in "heads" mode: on real labelled slices the training loss falls and
//! the kept model is no worse on validation than the start; the detector is untouched; the
//! saved, exported and re-imported model gives the logits the trainer computed.

use std::collections::BTreeMap;
use std::path::Path;

use burn::prelude::*;
use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::config::{ClassificationConfig, ClassifierConfig, DetectorConfig};
use ct_mask_net::finetune::{
    FinetuneConfig, HeadsTrainer, class_from_name, stratified_split, with_new_s,
};
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::importer::{StateDict, read_checkpoint, write_safetensors};
use ct_mask_net::model::{ClassificationModel, ModelKind, synthetic_weights};
use ct_mask_net::pipeline::classification_input;
use ct_mask_net::transform::TransformConfig;

fn detector() -> DetectorConfig {
    DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18))
}

fn base_weights(device: &Device) -> StateDict {
    synthetic_weights(ModelKind::Classification, &detector(), 11, device).unwrap()
}

/// Seeded random ranked-box inputs, `[256 * 5]` each, with class-dependent means.
fn synthetic_features(n: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
    let mut state = 7u32;
    let mut next = || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
    };
    let labels: Vec<usize> = (0..n).map(|i| i % 3).collect();
    let features = labels
        .iter()
        .map(|&c| {
            (0..1280)
                .map(|k| next() + if k % 5 == c { 0.5 } else { 0.0 })
                .collect()
        })
        .collect();
    (features, labels)
}

#[test]
fn heads_mode_changes_only_s_and_round_trips_through_files() {
    let device = Device::flex();
    let base = base_weights(&device);
    let (features, labels) = synthetic_features(24);
    let mut trainer = HeadsTrainer::new(
        &base,
        ClassifierConfig::new(),
        FinetuneConfig::new().with_learning_rate(1e-4),
        &device,
    )
    .unwrap();

    // Before training, the export is the checkpoint's S exactly.
    let s0 = pollster::block_on(trainer.s_weights()).unwrap();
    assert!(s0.tensors.keys().all(|k| k.starts_with("s2new.")));
    for (name, t) in &s0.tensors {
        assert_eq!(&base.tensors[name], t, "{name}");
    }

    let first = pollster::block_on(trainer.epoch(&features, &labels)).unwrap();
    let mut last = first;
    for _ in 0..5 {
        last = pollster::block_on(trainer.epoch(&features, &labels)).unwrap();
    }
    assert!(last < first, "training loss {first} -> {last}");
    let trained = pollster::block_on(trainer.evaluate(&features, &labels)).unwrap();

    // Only S changed; every detector tensor, batch-norm statistics included, is bit-identical.
    let s1 = pollster::block_on(trainer.s_weights()).unwrap();
    let merged = with_new_s(&base, &s1);
    let mut changed = 0;
    for (name, tensor) in &merged.tensors {
        if name.starts_with("s2new.") {
            changed += usize::from(tensor != &base.tensors[name]);
        } else {
            assert_eq!(tensor, &base.tensors[name], "{name} changed");
        }
    }
    assert_eq!(changed, s1.tensors.len());

    // Saved as f32, re-imported: the same logits; as f16: within half precision.
    let config = ClassificationConfig::new().with_detector(detector());
    for (half, tolerance) in [(false, 1e-5f32), (true, 5e-2)] {
        let bytes = write_safetensors(&merged, half, &BTreeMap::new()).unwrap();
        let reread = read_checkpoint(&bytes).unwrap().weights;
        let model = ClassificationModel::load(&reread, config.clone(), &device).unwrap();
        for (i, f) in features.iter().enumerate().take(6) {
            let logits = pollster::block_on(model.classify_ranked(f, &device)).unwrap();
            for c in 0..3 {
                let expected = trained.logits[i * 3 + c];
                let tol = tolerance * expected.abs().max(1.0);
                assert!(
                    (logits[c] - expected).abs() <= tol,
                    "half {half}: {logits:?} vs {expected}"
                );
            }
        }
    }
}

#[test]
fn heads_mode_on_real_slices_lowers_the_loss_and_keeps_validation_accuracy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/covid_ct_md_3class/png");
    if !dir.exists() {
        println!(
            "SKIPPED: {} is absent (a fresh clone has no data)",
            dir.display()
        );
        return;
    }
    let device = Device::flex();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    // Four slices per class, spread over each scan.
    let mut chosen = Vec::new();
    for class in 0..3 {
        let of_class: Vec<_> = files
            .iter()
            .filter(|p| class_from_name(&p.file_name().unwrap().to_string_lossy()) == Some(class))
            .collect();
        let step = (of_class.len() / 4).max(1);
        chosen.extend(
            of_class
                .iter()
                .step_by(step)
                .take(4)
                .map(|p| (p.to_path_buf(), class)),
        );
    }
    assert_eq!(chosen.len(), 12);

    let base = base_weights(&device);
    let config = ClassificationConfig::new().with_detector(detector());
    let model = ClassificationModel::load(&base, config, &device).unwrap();
    let transform = TransformConfig::default();
    let features: Vec<Vec<f32>> = chosen
        .iter()
        .map(|(path, _)| {
            let image = decode_slice(&std::fs::read(path).unwrap()).unwrap();
            let input = classification_input(&image, &transform, &device);
            pollster::block_on(model.run(&input)).unwrap().ranked_boxes
        })
        .collect();
    let labels: Vec<usize> = chosen.iter().map(|(_, c)| *c).collect();
    let (train, val) = stratified_split(&labels, None, 0.25, 0);
    let pick = |idx: &[usize]| -> (Vec<Vec<f32>>, Vec<usize>) {
        (
            idx.iter().map(|&i| features[i].clone()).collect(),
            idx.iter().map(|&i| labels[i]).collect(),
        )
    };
    let (train_x, train_y) = pick(&train);
    let (val_x, val_y) = pick(&val);
    assert_eq!(val_y.len(), 3);

    let mut trainer = HeadsTrainer::new(
        &base,
        ClassifierConfig::new(),
        FinetuneConfig::new().with_learning_rate(1e-4),
        &device,
    )
    .unwrap();
    let start = pollster::block_on(trainer.evaluate(&val_x, &val_y)).unwrap();
    let start_train = pollster::block_on(trainer.evaluate(&train_x, &train_y)).unwrap();
    for _ in 0..20 {
        pollster::block_on(trainer.epoch(&train_x, &train_y)).unwrap();
    }
    let end = pollster::block_on(trainer.evaluate(&val_x, &val_y)).unwrap();
    let end_train = pollster::block_on(trainer.evaluate(&train_x, &train_y)).unwrap();
    println!(
        "training loss {:.4} -> {:.4}; validation accuracy {:.3} -> {:.3}",
        start_train.loss,
        end_train.loss,
        start.confusion.accuracy().unwrap(),
        end.confusion.accuracy().unwrap()
    );
    assert!(end_train.loss < start_train.loss);
    assert!(end.confusion.accuracy().unwrap() >= start.confusion.accuracy().unwrap());
}

#[test]
fn heads_bn_mode_matches_inference_and_trains_only_bn_affine_and_s() {
    use ct_mask_net::finetune::HeadsBnTrainer;
    use ct_mask_net::weights::is_backbone_bn_affine;

    let device = Device::flex();
    let base = base_weights(&device);
    let config = ClassificationConfig::new().with_detector(detector());
    let model = ClassificationModel::load(&base, config.clone(), &device).unwrap();
    let mut image = image::RgbImage::from_pixel(96, 96, image::Rgb([30, 30, 30]));
    for y in 20..50 {
        for x in 30..70 {
            image.put_pixel(x, y, image::Rgb([200, 200, 200]));
        }
    }
    let input = classification_input(&image, &TransformConfig::default(), &device);
    let expected = pollster::block_on(model.run(&input))
        .unwrap()
        .prediction
        .s_logits;

    let mut trainer = HeadsBnTrainer::new(
        &base,
        config,
        FinetuneConfig::new().with_learning_rate(1e-3),
        &device,
    )
    .unwrap();
    // The differentiable path computes what inference computes.
    let eval = pollster::block_on(trainer.evaluate(1, &[2], |_| input.clone())).unwrap();
    for c in 0..3 {
        let tol = 1e-3 * expected[c].abs().max(1.0);
        assert!(
            (eval.logits[c] - expected[c]).abs() <= tol,
            "{:?} vs {expected:?}",
            eval.logits
        );
    }

    pollster::block_on(trainer.step(std::slice::from_ref(&input), &[2])).unwrap();
    let trained = pollster::block_on(trainer.state_dict()).unwrap();
    let (mut s_changed, mut bn_changed) = (0, 0);
    for (name, tensor) in &base.tensors {
        let changed = trained.tensors[name] != *tensor;
        if name.starts_with("s2new.") {
            s_changed += usize::from(changed);
        } else if is_backbone_bn_affine(name) {
            bn_changed += usize::from(changed);
        } else {
            assert!(!changed, "{name} changed");
        }
    }
    assert_eq!(s_changed, 6, "every S tensor trains");
    assert!(
        bn_changed > 10,
        "only {bn_changed} batch-norm tensors changed"
    );
}
