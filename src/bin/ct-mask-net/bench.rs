//! `ct-mask-net bench`: per-stage timings of both models on one slice.

use std::path::PathBuf;
use std::process::ExitCode;

use burn::prelude::Device;
use clap::Args;
use ct_mask_net::config::{ClassificationConfig, SegmentationConfig};
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::model::{
    ClassificationModel, ModelKind, SegmentationModel, StageTimings,
};
use ct_mask_net::pipeline::{classification_input, segmentation_input};
use ct_mask_net::transform::TransformConfig;
use web_time::Instant;

use crate::weights;

#[derive(Args)]
pub struct BenchArgs {
    /// Classifier weights.
    #[arg(long)]
    weights: PathBuf,
    /// Segmentation weights.
    #[arg(long)]
    segmentation_weights: PathBuf,
    /// The slice to time (512x512 for figures comparable with the paper's setting).
    #[arg(long)]
    image: PathBuf,
    /// Timed runs per model after one warm-up run; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

fn print_row(name: &str, runs: &[StageTimings], total: &[f64]) {
    let m = |f: fn(&StageTimings) -> f64| median(runs.iter().map(f).collect());
    println!(
        "{name:<15} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
        m(|t| t.decode_ms),
        m(|t| t.preprocess_ms),
        m(|t| t.backbone_fpn_ms),
        m(|t| t.rpn_ms),
        m(|t| t.roi_heads_ms),
        m(|t| t.masks_ms),
        m(|t| t.classifier_ms),
        median(total.to_vec()),
    );
}

pub fn run(args: BenchArgs) -> Result<ExitCode, String> {
    bench_on("cpu (flex)", &ct_mask_net::backend::cpu().device, &args)?;
    match pollster::block_on(ct_mask_net::backend::gpu()) {
        Ok(gpu) => bench_on("gpu (wgpu)", &gpu.device, &args)?,
        Err(e) => println!("\ngpu: not measured: {e}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn bench_on(backend: &str, device: &Device, args: &BenchArgs) -> Result<(), String> {
    let (cls, cls_detector) = weights::read_kind(&args.weights, ModelKind::Classification)?;
    let (seg, seg_detector) =
        weights::read_kind(&args.segmentation_weights, ModelKind::Segmentation)?;
    let classifier = ClassificationModel::load(
        &cls.weights,
        ClassificationConfig::new().with_detector(cls_detector),
        device,
    )
    .map_err(|e| e.to_string())?;
    let segmenter = SegmentationModel::load(
        &seg.weights,
        SegmentationConfig::new().with_detector(seg_detector),
        device,
    )
    .map_err(|e| e.to_string())?;
    drop((cls, seg));
    let bytes = std::fs::read(&args.image).map_err(|e| format!("{}: {e}", args.image.display()))?;
    let transform = TransformConfig::default();

    let mut rows: Vec<(&str, Vec<StageTimings>, Vec<f64>)> = vec![
        ("segmentation", vec![], vec![]),
        ("classification", vec![], vec![]),
    ];
    for run in 0..=args.runs {
        for (name, timings, totals) in rows.iter_mut() {
            let started = Instant::now();
            let image = decode_slice(&bytes).map_err(|e| e.to_string())?;
            let decode_ms = started.elapsed().as_secs_f64() * 1e3;
            let mut t = if *name == "segmentation" {
                let input = segmentation_input(&image, &transform, device);
                let prep = started.elapsed().as_secs_f64() * 1e3 - decode_ms;
                let mut r = pollster::block_on(segmenter.run(&input)).map_err(|e| e.to_string())?;
                // Pasting every detection's mask, as the authors' inference does.
                let paste = Instant::now();
                for i in 0..r.boxes.len() {
                    std::hint::black_box(r.pasted_mask(i));
                }
                r.timings.masks_ms += paste.elapsed().as_secs_f64() * 1e3;
                r.timings.preprocess_ms = prep;
                r.timings
            } else {
                let input = classification_input(&image, &transform, device);
                let prep = started.elapsed().as_secs_f64() * 1e3 - decode_ms;
                let mut r =
                    pollster::block_on(classifier.run(&input)).map_err(|e| e.to_string())?;
                r.timings.preprocess_ms = prep;
                r.timings
            };
            t.decode_ms = decode_ms;
            if run > 0 {
                timings.push(t);
                totals.push(started.elapsed().as_secs_f64() * 1e3);
            }
        }
    }

    println!(
        "\nbackend: {backend}; {} CPU thread(s); median of {} runs after 1 warm-up; ms",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        args.runs
    );
    println!(
        "{:<15} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "model", "decode", "preproc", "bb+fpn", "rpn", "roi", "masks", "S", "total"
    );
    for (name, timings, totals) in &rows {
        print_row(name, timings, totals);
    }
    Ok(())
}
