//! `ct-mask-net predict`: PNG, JPEG or DICOM slices in, one JSON line per slice out.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;
use ct_mask_net::analysis::{Analyzer, SliceAnalysis, SliceReport};
use ct_mask_net::imaging::{
    CONSOLIDATION_COLOUR, GGO_COLOUR, OverlayLayer, WindowChoice, decode_slice_with,
    fit_for_analysis, render_overlay,
};
use ct_mask_net::model::ModelKind;
use ct_mask_net::study::{self, StudySlice};
use serde_json::{Value, json};
use web_time::Instant;

use crate::{inputs, weights};

#[derive(Args)]
pub struct PredictArgs {
    /// COVID-CT-Mask-Net classifier weights (the authors' classification_model.pth, or a
    /// converted .safetensors file). Default: the project's demonstration weights,
    /// weights/ct-mask-net-default.safetensors, which hold both models.
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Lesion segmentation weights (the authors' segmentation_model.pth); without them no
    /// lesions are reported, unless the --weights file holds both models.
    #[arg(long)]
    segmentation_weights: Option<PathBuf>,
    /// Include the 256x5 input of module S (`ranked_boxes`) in the output.
    #[arg(long)]
    ranked_boxes: bool,
    /// Write `<image name>.overlay.png` with lesion masks and boxes into this folder.
    #[arg(long)]
    overlay: Option<PathBuf>,
    /// Lesions scoring below this are listed but not drawn or counted in the areas. Default:
    /// the segmentation file's own setting (the default weights have one), else 0.5.
    #[arg(long)]
    min_score: Option<f32>,
    /// Where the models run: `cpu`, or `gpu` (wgpu; needs a build with the `wgpu` feature).
    #[arg(long, default_value = "cpu", value_parser = ["cpu", "gpu"])]
    backend: String,
    /// Opacity of the mask tint in overlays (0 to 1).
    #[arg(long, default_value_t = 0.45)]
    opacity: f32,
    /// Window of DICOM slices: lung (level -600, width 1500; the paper's data), mediastinum
    /// (40, 350), file (the file's own window, else lung) or LEVEL,WIDTH in HU.
    #[arg(long, default_value = "lung", value_parser = WindowChoice::parse, allow_hyphen_values = true)]
    window: WindowChoice,
    /// After the slices, one JSON line per study (a DICOM series, or slices whose names
    /// identify one patient's scan): its slices head first and the roll-up of their answers.
    #[arg(long)]
    studies: bool,
    /// CT slices: PNG or JPEG (8- or 16-bit, grayscale or colour) or DICOM, any size, or
    /// folders of them (searched recursively; DICOM files may have no extension). Slices of one
    /// study are analysed head first.
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn run(args: PredictArgs) -> Result<ExitCode, String> {
    let device = crate::select_device(&args.backend)?;
    let weights_path = weights::or_default(args.weights.as_deref())?;
    let classifier = weights::read_kind(&weights_path, ModelKind::Classification)?;
    let segmentation_path = match &args.segmentation_weights {
        Some(p) => Some(p.clone()),
        None => weights::is_combined(&weights_path)?.then(|| weights_path.clone()),
    };
    if segmentation_path.is_none() && args.overlay.is_some() {
        return Err(
            "--overlay needs --segmentation-weights (the lesion model draws the masks)".into(),
        );
    }
    let segmenter = segmentation_path
        .as_deref()
        .map(|p| weights::read_kind(p, ModelKind::Segmentation))
        .transpose()?;
    let mut analyzer = Analyzer::new(
        &classifier.0.weights,
        classifier.1.clone(),
        segmenter.as_ref().map(|(c, d)| (&c.weights, d.clone())),
        &device,
    )
    .map_err(|e| e.to_string())?;
    analyzer.min_score = args
        .min_score
        .or_else(|| {
            segmenter
                .as_ref()
                .and_then(|(c, _)| ct_mask_net::analysis::lesion_min_score(&c.metadata))
        })
        .unwrap_or(0.5);
    drop((classifier, segmenter));
    if let Some(dir) = &args.overlay {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }

    let inputs = inputs::collect(&args.images)?;
    let studies = study::group(
        inputs
            .iter()
            .enumerate()
            .filter_map(|(i, input)| input.place.as_ref().map(|p| (i, p))),
    );
    let mut failures = 0;
    let mut answers: Vec<Option<StudySlice>> = vec![None; inputs.len()];
    for i in inputs::analysis_order(inputs.len(), &studies) {
        let path = &inputs[i].path;
        let (mut line, report) = match predict_one(&analyzer, path, &args) {
            Ok((value, report)) => (value, Some(report)),
            Err(message) => {
                failures += 1;
                eprintln!("error: {}: {message}", path.display());
                (
                    json!({ "file": path.display().to_string(), "error": message }),
                    None,
                )
            }
        };
        if let Some((study, index, count)) = study::locate(&studies, i) {
            line["study"] = json!(study.label);
            line["study_key"] = json!(study.key);
            line["slice"] = json!(index);
            line["slices"] = json!(count);
            answers[i] = report.map(|r| StudySlice::from_report(i, index, &r));
        }
        println!("{line}");
    }
    if args.studies {
        for study in &studies {
            let slices: Vec<StudySlice> = study.slices.iter().filter_map(|&i| answers[i]).collect();
            let files: Vec<String> = study
                .slices
                .iter()
                .map(|&i| inputs[i].path.display().to_string())
                .collect();
            println!(
                "{}",
                json!({
                    "study": study.label,
                    "study_key": study.key,
                    "files": files,
                    "summary": study::summarise(&slices),
                })
            );
        }
    }
    Ok(if failures == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// One slice's JSON line, and its report for the study roll-ups.
fn predict_one(
    analyzer: &Analyzer,
    path: &Path,
    args: &PredictArgs,
) -> Result<(Value, SliceReport), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read the file: {e}"))?;
    let started = Instant::now();
    let image = decode_slice_with(&bytes, args.window).map_err(|e| e.to_string())?;
    let (image, note) = fit_for_analysis(image);
    let decode_ms = started.elapsed().as_secs_f64() * 1e3;

    let mut analysis = pollster::block_on(analyzer.analyze(&image)).map_err(|e| e.to_string())?;
    analysis.report.timings_ms.decode_ms = decode_ms;
    analysis.report.notes.extend(note);

    if let Some(dir) = &args.overlay {
        write_overlay(&analysis, &image, dir, path, args, analyzer.min_score)?;
    }

    let mut value = serde_json::to_value(&analysis.report).map_err(|e| e.to_string())?;
    value["file"] = json!(path.display().to_string());
    if args.ranked_boxes {
        let rows: Vec<&[f32]> = analysis.ranked_boxes.chunks(5).collect();
        value["ranked_boxes"] = json!(rows);
    }
    Ok((value, analysis.report))
}

fn write_overlay(
    analysis: &SliceAnalysis,
    image: &image::RgbImage,
    dir: &Path,
    path: &Path,
    args: &PredictArgs,
    min_score: f32,
) -> Result<(), String> {
    let (Some(masks), Some(lesions)) = (&analysis.masks, &analysis.report.detections) else {
        return Ok(());
    };
    let shown = |label: &str| -> Vec<[f32; 4]> {
        lesions
            .iter()
            .filter(|l| l.label == label && l.score >= min_score)
            .map(|l| l.bbox)
            .collect()
    };
    let ggo_boxes = shown("ggo");
    let consolidation_boxes = shown("consolidation");
    let layers = [
        OverlayLayer {
            mask: &masks.ggo,
            boxes: &ggo_boxes,
            colour: GGO_COLOUR,
        },
        OverlayLayer {
            mask: &masks.consolidation,
            boxes: &consolidation_boxes,
            colour: CONSOLIDATION_COLOUR,
        },
    ];
    let overlay = render_overlay(image, &layers, args.opacity);
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let out = dir.join(format!("{stem}.overlay.png"));
    overlay
        .save(&out)
        .map_err(|e| format!("cannot write {}: {e}", out.display()))
}
