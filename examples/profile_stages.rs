//! Finer timings than `ct-mask-net bench`, for performance work: each sub-stage of the
//! classifier on one slice, on the CPU backend.
//!
//! `cargo run --release --example profile_stages -- CLASSIFIER.pth SLICE.png`

use burn::prelude::*;
use ct_mask_net::config::ClassificationConfig;
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::importer::read_checkpoint;
use ct_mask_net::model::{ClassificationModel, infer_detector_config};
use ct_mask_net::pipeline::classification_input;
use ct_mask_net::roi_heads::multiscale_roi_align;
use ct_mask_net::transform::TransformConfig;
use web_time::Instant;

fn timed<T>(label: &str, device: &Device, f: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = f();
    let _ = device.sync();
    println!(
        "{label:<28} {:>8.1} ms",
        start.elapsed().as_secs_f64() * 1e3
    );
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let device = Device::flex();
    let weights = read_checkpoint(&std::fs::read(&args[1]).unwrap())
        .unwrap()
        .weights;
    let config = ClassificationConfig::new().with_detector(infer_detector_config(&weights));
    let model = ClassificationModel::load(&weights, config, &device).unwrap();
    let image = decode_slice(&std::fs::read(&args[2]).unwrap()).unwrap();
    let input = classification_input(&image, &TransformConfig::default(), &device);
    let detector = &model.detector;

    for round in 0..2 {
        println!("-- round {round}");
        let stages = timed("backbone body", &device, || {
            detector.modules.body.forward(input.tensor.clone())
        });
        let features = timed("fpn", &device, || detector.modules.fpn.forward(stages));
        let levels = timed("rpn head (4 levels)", &device, || {
            features
                .iter()
                .map(|f| detector.modules.rpn_head.forward(f.clone()))
                .collect::<Vec<_>>()
        });
        timed("topk (4 levels)", &device, || {
            for level in &levels {
                let n = level.objectness.dims()[0];
                let (_, idx) = level.objectness.clone().topk_with_indices(1000.min(n), 0);
                let _ = level.deltas.clone().select(0, idx).into_data();
            }
        });
        let proposals = timed("proposals (all)", &device, || {
            pollster::block_on(detector.proposals(&features, input.padded, input.resized)).unwrap()
        });
        let pooled = timed("roi align 1000", &device, || {
            pollster::block_on(multiscale_roi_align(
                &features,
                &proposals.boxes,
                input.resized,
                7,
                2,
                detector.roi_align,
            ))
            .unwrap()
        });
        let head = timed("box head", &device, || {
            detector.modules.box_head.forward(pooled)
        });
        timed("box predictor + read", &device, || {
            let (a, b) = detector.modules.box_predictor.forward(head);
            (a.into_data(), b.into_data())
        });
        timed("full classifier run", &device, || {
            pollster::block_on(model.run(&input)).unwrap()
        });
    }
}
