//! `ct-mask-net`: COVID-CT-Mask-Net from the command line.
//!
//! - `predict`: class probabilities, lesions and overlays for CT slices (PNG/JPEG).
//! - `convert`: an authors' `.pth` checkpoint to the project's safetensors format.
//! - `bench`: per-stage timings of both models.

mod bench;
mod convert;
mod predict;
mod weights;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Classify slices and detect lesions; prints one JSON object per image (JSON Lines).
    Predict(predict::PredictArgs),
    /// Convert a checkpoint (.pth from the authors, or safetensors) to the project's format.
    Convert(convert::ConvertArgs),
    /// Time every stage of both models on one slice.
    Bench(bench::BenchArgs),
}

/// The compute device for `cpu` or `gpu`, with a plain message when the GPU is unavailable.
fn select_device(backend: &str) -> Result<burn::prelude::Device, String> {
    let device = match backend {
        "gpu" => pollster::block_on(ct_mask_net::backend::gpu()).map_err(|e| e.to_string())?,
        _ => ct_mask_net::backend::cpu(),
    };
    Ok(device.device)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Predict(args) => predict::run(args),
        Command::Convert(args) => convert::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
