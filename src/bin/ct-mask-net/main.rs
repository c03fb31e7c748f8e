//! `ct-mask-net`: COVID-CT-Mask-Net from the command line.
//!
//! - `predict`: class probabilities, lesions and overlays for CT slices (PNG, JPEG, DICOM).
//! - `convert`: an authors' `.pth` checkpoint to the project's safetensors format.
//! - `combine`: both models in one file on their shared detector (the default weights).
//! - `bench`: per-stage timings of both models.
//! - `train-segmentation`: trains the lesion segmentation model.
//! - `evaluate-segmentation`: its box and mask AP on labelled slices.
//! - `finetune`, `evaluate`: module S on labelled slices, with the paper's metrics.

#![cfg_attr(target_arch = "wasm32", allow(unused))]

#[cfg(not(target_arch = "wasm32"))]
mod bench;
#[cfg(not(target_arch = "wasm32"))]
mod combine;
#[cfg(not(target_arch = "wasm32"))]
mod convert;
#[cfg(not(target_arch = "wasm32"))]
mod evaluate_segmentation;
#[cfg(not(target_arch = "wasm32"))]
mod finetune;
#[cfg(not(target_arch = "wasm32"))]
mod inputs;
#[cfg(not(target_arch = "wasm32"))]
mod predict;
#[cfg(not(target_arch = "wasm32"))]
mod train_segmentation;
#[cfg(not(target_arch = "wasm32"))]
mod weights;

#[cfg(not(target_arch = "wasm32"))]
use std::process::ExitCode;

#[cfg(not(target_arch = "wasm32"))]
use clap::{Parser, Subcommand};

#[cfg(not(target_arch = "wasm32"))]
#[derive(Parser)]
#[command(
    name = "ct-mask-net",
    version,
    about = "COVID-19 prediction and lesion segmentation for chest CT slices (COVID-CT-Mask-Net), on this machine only"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[cfg(not(target_arch = "wasm32"))]
#[derive(Subcommand)]
enum Command {
    /// Classify slices and detect lesions; prints one JSON object per image (JSON Lines).
    Predict(predict::PredictArgs),
    /// Convert a checkpoint (.pth from the authors, or safetensors) to the project's format.
    Convert(convert::ConvertArgs),
    /// Write a segmentation model and a classifier on the same detector as one file.
    Combine(combine::CombineArgs),
    /// Time every stage of both models on one slice.
    Bench(bench::BenchArgs),
    /// Train the lesion segmentation model on labelled slices (checkpoint after every epoch).
    TrainSegmentation(train_segmentation::TrainSegmentationArgs),
    /// Box and mask average precision of a segmentation model on labelled slices.
    EvaluateSegmentation(evaluate_segmentation::EvaluateSegmentationArgs),
    /// Fine-tune module S on labelled slices (writes the best epoch's classifier).
    Finetune(finetune::FinetuneArgs),
    /// Accuracy, per-class sensitivity and precision, and the confusion matrix of a classifier.
    Evaluate(finetune::EvaluateArgs),
}

#[cfg(not(target_arch = "wasm32"))]
/// The compute device for `cpu` or `gpu`, with a plain message when the GPU is unavailable.
fn select_device(backend: &str) -> Result<burn::prelude::Device, String> {
    let device = match backend {
        "gpu" => pollster::block_on(ct_mask_net::backend::gpu()).map_err(|e| e.to_string())?,
        _ => ct_mask_net::backend::cpu(),
    };
    Ok(device.device)
}

/// The command-line tool is native only.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Predict(args) => predict::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Combine(args) => combine::run(args),
        Command::Bench(args) => bench::run(args),
        Command::TrainSegmentation(args) => train_segmentation::run(args),
        Command::EvaluateSegmentation(args) => evaluate_segmentation::run(args),
        Command::Finetune(args) => finetune::finetune(args),
        Command::Evaluate(args) => finetune::evaluate(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
