//! The GPU path (wgpu) against the CPU path, on small inputs: RoIAlign through `grid_sample`,
//! proposal selection (top-k, select, asynchronous read-back) and a whole small model.
//!
//! Built only with `--features wgpu`; skipped with a printed reason when no adapter is
//! available. Natively a software Vulkan driver (Mesa lavapipe) is enough.
#![cfg(feature = "wgpu")]

use burn::prelude::*;
use ct_mask_net::backbone::BackboneConfig;
use ct_mask_net::config::{ClassificationConfig, DetectorConfig};
use ct_mask_net::model::{ClassificationModel, ModelInput, ModelKind, synthetic_weights};
use ct_mask_net::roi_heads::{RoiAlignMode, multiscale_roi_align};

fn gpu() -> Option<Device> {
    match pollster::block_on(ct_mask_net::backend::gpu()) {
        Ok(d) => Some(d.device),
        Err(e) => {
            println!("SKIPPED: {e}");
            None
        }
    }
}

fn read(t: Tensor<4>) -> Vec<f32> {
    pollster::block_on(t.into_data_async())
        .unwrap()
        .try_into_vec_as::<f32>()
        .unwrap()
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn roi_align_on_the_gpu_matches_the_cpu() {
    let Some(gpu) = gpu() else { return };
    let values: Vec<f32> = (0..2 * 16 * 20)
        .map(|i| ((i * 37 % 101) as f32) / 10.0)
        .collect();
    let boxes = [
        [0.0, 0.0, 30.0, 20.0],
        [10.5, 3.2, 70.0, 61.0],
        [60.0, 60.0, 60.0, 64.0],
        [5.0, 5.0, 300.0, 250.0],
    ];
    let pool = |device: &Device, mode| {
        let feature =
            Tensor::<4>::from_data(TensorData::new(values.clone(), [1, 2, 16, 20]), device);
        read(
            pollster::block_on(multiscale_roi_align(
                &[feature],
                &boxes,
                [64, 80],
                7,
                2,
                mode,
            ))
            .unwrap(),
        )
    };
    let cpu = pool(&Device::flex(), RoiAlignMode::Host);
    let on_gpu = pool(&gpu, RoiAlignMode::for_device(&gpu));
    let diff = max_abs_diff(&cpu, &on_gpu);
    println!("RoIAlign GPU vs CPU: {diff:.2e}");
    assert!(diff < 1e-4);
}

#[test]
fn a_small_model_gives_the_same_answer_on_gpu_and_cpu() {
    let Some(gpu) = gpu() else { return };
    let cpu = Device::flex();
    let detector = DetectorConfig::new()
        .with_backbone(BackboneConfig::new().with_depth(18).with_truncation(2));
    let weights = synthetic_weights(ModelKind::Classification, &detector, 5, &cpu).unwrap();
    let run = |device: &Device| {
        let config = ClassificationConfig::new().with_detector(detector.clone());
        let model = ClassificationModel::load(&weights, config, device).unwrap();
        let (h, w) = (64, 64);
        let data: Vec<f32> = (0..3 * h * w)
            .map(|i| ((i * 13 % 29) as f32 - 14.0) / 7.0)
            .collect();
        let input = ModelInput::new(data, [h, w], [h, w], [h, w], device);
        pollster::block_on(model.run(&input)).unwrap()
    };
    let a = run(&cpu);
    let b = run(&gpu);
    let diff = max_abs_diff(&a.prediction.s_logits, &b.prediction.s_logits);
    println!(
        "S logits CPU {:?} GPU {:?}",
        a.prediction.s_logits, b.prediction.s_logits
    );
    assert!(
        diff <= 1e-3
            * a.prediction
                .s_logits
                .iter()
                .fold(1.0f32, |m, v| m.max(v.abs()))
    );
    assert_eq!(a.prediction.predicted_class, b.prediction.predicted_class);
}
