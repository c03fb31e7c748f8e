//! Timings of the mask branch (RoIAlign, head, read-back, pasting) on one slice, CPU backend.
//!
//! `cargo run --release --example profile_masks -- SEGMENTATION.pth SLICE.png`

use burn::prelude::*;
use ct_mask_net::config::SegmentationConfig;
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::importer::read_checkpoint;
use ct_mask_net::model::{SegmentationModel, infer_detector_config};
use ct_mask_net::pipeline::segmentation_input;
use ct_mask_net::transform::TransformConfig;
use web_time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let device = Device::flex();
    let weights = read_checkpoint(&std::fs::read(&args[1]).unwrap())
        .unwrap()
        .weights;
    let config = SegmentationConfig::new().with_detector(infer_detector_config(&weights));
    let model = SegmentationModel::load(&weights, config, &device).unwrap();
    let image = decode_slice(&std::fs::read(&args[2]).unwrap()).unwrap();
    let input = segmentation_input(&image, &TransformConfig::default(), &device);

    for _ in 0..2 {
        let result = pollster::block_on(model.run(&input)).unwrap();
        println!("{:?}", result.timings);
        let start = Instant::now();
        for i in 0..result.boxes.len() {
            std::hint::black_box(result.pasted_mask(i));
        }
        println!(
            "pasting {} masks: {:.1} ms",
            result.boxes.len(),
            start.elapsed().as_secs_f64() * 1e3
        );
        let features = model.detector.features(input.tensor.clone());
        let start = Instant::now();
        let logits =
            pollster::block_on(model.mask_logits(&features, &result.detections, input.resized))
                .unwrap();
        println!(
            "mask_logits: {:.1} ms ({} values)",
            start.elapsed().as_secs_f64() * 1e3,
            logits.len()
        );
    }
}
