//! Every backbone the configuration allows (ResNet-18/34/50, truncation 0/1/2) loads from
//! weights of its own shape, is recognised from its tensors, and runs end to end.

use burn::prelude::*;
use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::config::{ClassificationConfig, DetectorConfig, SegmentationConfig};
use ct_mask_net::model::{
    ClassificationModel, ModelInput, ModelKind, SegmentationModel, infer_detector_config,
    synthetic_weights,
};

fn input(device: &Device) -> ModelInput {
    // A 128x96 image (already "resized"), padded to 128x128, with a bright square.
    let (h, w) = (128, 128);
    let mut data = vec![-1.0f32; 3 * h * w];
    for c in 0..3 {
        for y in 40..70 {
            for x in 30..60 {
                data[c * h * w + y * w + x] = 2.0;
            }
        }
    }
    ModelInput::new(data, [h, w], [128, 96], [128, 96], device)
}

#[test]
fn every_backbone_variant_loads_and_runs() {
    let device = Device::flex();
    for (depth, truncation) in [(18, 0), (34, 1), (50, 2), (18, 2)] {
        let backbone = BackboneConfig::new()
            .with_depth(depth)
            .with_truncation(truncation);
        let detector = DetectorConfig::new().with_backbone(backbone);

        let weights = synthetic_weights(ModelKind::Classification, &detector, 3, &device).unwrap();
        let inferred = infer_detector_config(&weights);
        assert_eq!(inferred.backbone.depth, depth);
        assert_eq!(inferred.backbone.truncation, truncation);
        let config = ClassificationConfig::new().with_detector(inferred);
        let model = ClassificationModel::load(&weights, config, &device).unwrap();
        let result = pollster::block_on(model.run(&input(&device))).unwrap();
        assert!(
            result.prediction.s_logits.iter().all(|v| v.is_finite()),
            "{depth}/{truncation}"
        );
        assert_eq!(result.ranked_boxes.len(), 256 * 5);

        let weights = synthetic_weights(ModelKind::Segmentation, &detector, 3, &device).unwrap();
        let config = SegmentationConfig::new().with_detector(infer_detector_config(&weights));
        let model = SegmentationModel::load(&weights, config, &device).unwrap();
        let result = pollster::block_on(model.run(&input(&device))).unwrap();
        assert_eq!(result.mask_logits.len(), result.boxes.len() * 28 * 28);
        for b in &result.boxes {
            assert!(
                b[0] >= 0.0 && b[2] <= 96.0 && b[1] >= 0.0 && b[3] <= 128.0,
                "{b:?}"
            );
        }
        println!(
            "ResNet-{depth}, truncation {truncation}: {} proposals -> {} lesions",
            result.proposals.boxes.len(),
            result.boxes.len()
        );
    }
}

#[test]
fn a_checkpoint_of_another_architecture_is_refused_with_the_differences() {
    let device = Device::flex();
    let r18 = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
    let weights = synthetic_weights(ModelKind::Classification, &r18, 3, &device).unwrap();
    let r50 = ClassificationConfig::new();
    let err = ClassificationModel::load(&weights, r50, &device)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing") && err.contains("conv3"), "{err}");
    assert!(
        err.contains("layer1.0.conv1.weight"),
        "mis-shaped tensors are named: {err}"
    );
}
