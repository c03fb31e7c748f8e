//! `ct-mask-net evaluate-segmentation`: box and mask AP of a segmentation model on labelled
//! slices (definition: the library's `evaluation` module).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ct_mask_net::evaluation::{
    ClassAp, PredictedObject, SegmentationEval, TruthObject, match_slice,
};
use ct_mask_net::model::{ModelKind, SegmentationModel};
use ct_mask_net::pipeline::segmentation_input;
use ct_mask_net::training::{instances, read_labelled_dir};
use ct_mask_net::transform::TransformConfig;
use web_time::Instant;

use crate::train_segmentation::InputScale;
use crate::weights;

#[derive(Args)]
pub struct EvaluateSegmentationArgs {
    /// Segmentation weights (ours or the authors' segmentation_model.pth).
    #[arg(long)]
    weights: PathBuf,
    /// Folder of labelled slices: images/<name>.png and masks/<name>.png, e.g.
    /// ../shared/data/medseg_ggo_consolidation/test.
    data: PathBuf,
    /// Lesion regions smaller than this many pixels are not objects (as in training).
    #[arg(long, default_value_t = 16)]
    min_pixels: usize,
    /// Input size: `paper` (shorter side 512) or `native` (each slice's own pixel size).
    /// Default: the scale the checkpoint was trained at (its `input_scale` setting).
    #[arg(long, value_enum)]
    scale: Option<InputScale>,
    /// Print the figures as one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

const CLASS_NAMES: [&str; 3] = ["background", "GGO", "consolidation"];

fn cell(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{:.3}", v))
}

fn mean(rows: &[ClassAp], f: fn(&ClassAp) -> Option<f64>) -> Option<f64> {
    let values: Vec<f64> = rows.iter().filter_map(f).collect();
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

pub fn run(args: EvaluateSegmentationArgs) -> Result<ExitCode, String> {
    let checkpoint = weights::read_kind_with_settings(&args.weights, ModelKind::Segmentation)?;
    let device = ct_mask_net::backend::cpu().device;
    let config = weights::segmentation_config(&checkpoint)?;
    let threshold = config.mask_logit_threshold();
    let model = SegmentationModel::load(&checkpoint.weights, config, &device)
        .map_err(|e| format!("{}: {e}", args.weights.display()))?;
    let slices = read_labelled_dir(&args.data).map_err(|e| e.to_string())?;
    let scale = args
        .scale
        .unwrap_or_else(|| InputScale::of_checkpoint(&checkpoint.metadata));
    let base = TransformConfig::default();

    let started = Instant::now();
    let mut eval = SegmentationEval::default();
    let mut scores: Vec<f32> = Vec::new();
    let mut objects = 0usize;
    for (k, slice) in slices.iter().enumerate() {
        let [h, w] = slice.mask.size;
        let transform = match scale {
            InputScale::Paper => base.clone(),
            InputScale::Native => base.scaled_by(h, w, 1.0),
        };
        let input = segmentation_input(&slice.image, &transform, &device);
        let result =
            pollster::block_on(model.run(&input)).map_err(|e| format!("{}: {e}", slice.name))?;
        let predictions: Vec<PredictedObject> = (0..result.boxes.len())
            .map(|i| PredictedObject {
                label: result.detections.labels[i],
                score: result.detections.scores[i],
                bbox: result.boxes[i],
                mask: result
                    .pasted_mask(i)
                    .iter()
                    .map(|&v| v > threshold)
                    .collect(),
            })
            .collect();
        let truth: Vec<TruthObject> = instances(&slice.mask, 2, args.min_pixels)
            .into_iter()
            .map(|o| TruthObject {
                label: o.label,
                bbox: o.bbox,
                pixels: o
                    .mask
                    .iter()
                    .enumerate()
                    .filter(|(_, v)| **v > 0.0)
                    .map(|(i, _)| i as u32)
                    .collect(),
            })
            .collect();
        scores.extend(predictions.iter().map(|p| p.score));
        objects += truth.len();
        eval.add(match_slice(&truth, &predictions, 2));
        eprint!("\revaluated {}/{} slices", k + 1, slices.len());
    }
    eprintln!(" in {:.0} s", started.elapsed().as_secs_f64());

    let rows: Vec<ClassAp> = (1..=2).map(|label| eval.class(label)).collect();
    // The score from which there are as many lesions as true objects (a threshold for showing
    // lesions that is calibrated on counts, not on any one slice).
    scores.sort_by(|a, b| b.total_cmp(a));
    let count_matched = scores
        .get(objects.saturating_sub(1).min(scores.len().saturating_sub(1)))
        .copied();
    if args.json {
        let value = serde_json::json!({
            "weights": args.weights.display().to_string(),
            "data": args.data.display().to_string(),
            "slices": eval.len(),
            "min_pixels": args.min_pixels,
            "input_scale": scale.name(),
            "count_matched_score": count_matched,
            "classes": rows,
            "mean": {
                "box_ap50": mean(&rows, |r| r.box_ap50),
                "box_ap": mean(&rows, |r| r.box_ap),
                "mask_ap50": mean(&rows, |r| r.mask_ap50),
                "mask_ap": mean(&rows, |r| r.mask_ap),
            },
        });
        println!("{value}");
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} slices of {} at {} scale, objects = regions of at least {} pixels",
        eval.len(),
        args.data.display(),
        scale.name(),
        args.min_pixels
    );
    println!(
        "{:<14} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "class", "objects", "detections", "box AP50", "box AP", "mask AP50", "mask AP"
    );
    for r in &rows {
        println!(
            "{:<14} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
            CLASS_NAMES[r.label],
            r.objects,
            r.detections,
            cell(r.box_ap50),
            cell(r.box_ap),
            cell(r.mask_ap50),
            cell(r.mask_ap)
        );
    }
    println!(
        "{:<14} {:>8} {:>10} {:>9} {:>9} {:>9} {:>9}",
        "mean",
        "",
        "",
        cell(mean(&rows, |r| r.box_ap50)),
        cell(mean(&rows, |r| r.box_ap)),
        cell(mean(&rows, |r| r.mask_ap50)),
        cell(mean(&rows, |r| r.mask_ap))
    );
    println!("AP: COCO 101-point interpolation; AP50 at IoU 0.5, AP the mean over IoU 0.50:0.95.");
    if let Some(score) = count_matched {
        println!("as many lesions as objects from score {score:.3} up");
    }
    Ok(ExitCode::SUCCESS)
}
