//! Segmentation training: a short run on real slices lowers the loss with every term finite;
//! the trained weights come back under the checkpoint's names and layout, with batch-norm
//! statistics untouched, and load into the inference model.

use std::path::Path;

use burn::prelude::*;
use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::config::{DetectorConfig, SegmentationConfig};
use ct_mask_net::importer::StateDict;
use ct_mask_net::model::SegmentationModel;
use ct_mask_net::training::{
    LabelMask, LabelledSlice, SegmentationTrainer, SegmentationTrainingConfig, TrainingExample,
    initial_segmentation_weights, read_labelled_dir, training_example,
};
use ct_mask_net::transform::TransformConfig;

fn resnet18() -> DetectorConfig {
    DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18))
}

/// Transform at a quarter of the paper's pixels, to keep the test short.
fn small_transform(min_size: usize) -> TransformConfig {
    TransformConfig {
        min_size,
        ..TransformConfig::default()
    }
}

/// A 64x64 slice with one bright square lesion (consolidation) and a dimmer one (GGO).
fn synthetic_slice() -> LabelledSlice {
    let (h, w) = (64usize, 64usize);
    let mut image = image::RgbImage::new(w as u32, h as u32);
    let mut labels = vec![0u8; h * w];
    for y in 0..h {
        for x in 0..w {
            let (value, label) = if (10..30).contains(&y) && (12..34).contains(&x) {
                (230, 2)
            } else if (40..56).contains(&y) && (36..60).contains(&x) {
                (150, 1)
            } else {
                (40, 0)
            };
            image.put_pixel(x as u32, y as u32, image::Rgb([value; 3]));
            labels[y * w + x] = label;
        }
    }
    LabelledSlice {
        name: "synthetic.png".into(),
        image,
        mask: LabelMask {
            size: [h, w],
            labels,
        },
    }
}

fn example(slice: &LabelledSlice, min_size: usize, device: &Device) -> TrainingExample {
    training_example(slice, false, &small_transform(min_size), 16, device)
}

async fn mean_total(trainer: &mut SegmentationTrainer, examples: &[TrainingExample]) -> f32 {
    let mut sum = 0.0;
    for e in examples {
        let values = trainer.losses(e).await.unwrap().values().await.unwrap();
        assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
        sum += values.iter().sum::<f32>();
    }
    sum / examples.len() as f32
}

#[test]
fn short_training_on_two_real_slices_lowers_the_loss() {
    let dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/medseg_ggo_consolidation/train");
    if !dir.exists() {
        println!(
            "SKIPPED: {} is absent (a fresh clone has no data)",
            dir.display()
        );
        return;
    }
    let device = Device::flex();
    let slices = read_labelled_dir(&dir).unwrap();
    assert!(slices.len() >= 2);
    let examples: Vec<TrainingExample> = slices[..2]
        .iter()
        .map(|s| example(s, 256, &device))
        .collect();
    assert!(examples.iter().all(|e| !e.truth.boxes.is_empty()));

    let weights = initial_segmentation_weights(&resnet18(), 0, &device).unwrap();
    let model = SegmentationConfig::new().with_detector(resnet18());
    let mut trainer =
        SegmentationTrainer::new(&weights, model, SegmentationTrainingConfig::new(), &device)
            .unwrap();
    let before = pollster::block_on(mean_total(&mut trainer, &examples));
    for _ in 0..3 {
        for e in &examples {
            let values = pollster::block_on(trainer.step(e)).unwrap();
            assert!(values.iter().all(|v| v.is_finite()), "{values:?}");
        }
    }
    let after = pollster::block_on(mean_total(&mut trainer, &examples));
    println!("mean total loss before {before:.3}, after 6 steps {after:.3}");
    assert!(after < 0.8 * before, "before {before}, after {after}");
}

fn differs(a: &StateDict, b: &StateDict, name: &str) -> bool {
    a.tensors[name].data != b.tensors[name].data
}

#[test]
fn trained_weights_keep_names_layout_and_frozen_statistics() {
    let device = Device::flex();
    let weights = initial_segmentation_weights(&resnet18(), 1, &device).unwrap();
    let model = SegmentationConfig::new().with_detector(resnet18());
    let mut trainer = SegmentationTrainer::new(
        &weights,
        model.clone(),
        SegmentationTrainingConfig::new(),
        &device,
    )
    .unwrap();

    // Before any step the export is the input, bit for bit (names, shapes, transposes).
    let exported = pollster::block_on(trainer.state_dict()).unwrap();
    assert_eq!(exported, weights);

    let slice = synthetic_slice();
    let e = example(&slice, 64, &device);
    assert_eq!(e.truth.labels, vec![1, 2]);
    pollster::block_on(trainer.step(&e)).unwrap();
    let trained = pollster::block_on(trainer.state_dict()).unwrap();

    let mut statistics = 0;
    for name in weights.tensors.keys() {
        if name.ends_with("running_mean") || name.ends_with("running_var") {
            statistics += 1;
            assert!(!differs(&weights, &trained, name), "{name} changed");
        }
        assert_eq!(weights.tensors[name].shape, trained.tensors[name].shape);
    }
    assert!(statistics > 0);
    for name in [
        "backbone.body.conv1.weight",
        "backbone.body.layer1.0.bn1.weight",
        "backbone.fpn.layer_blocks.0.weight",
        "rpn.head.cls_logits.weight",
        "roi_heads.box_head.fc6.weight",
        "roi_heads.box_predictor.cls_score.weight",
        "roi_heads.mask_predictor.mask_fcn_logits.weight",
    ] {
        assert!(differs(&weights, &trained, name), "{name} did not train");
    }
    SegmentationModel::load(&trained, model, &device).unwrap();
}
