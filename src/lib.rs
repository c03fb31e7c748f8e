//! COVID-CT-Mask-Net (Ter-Sarkisov, 2020, "COVID-CT-Mask-Net: Prediction of COVID-19 from CT
//! Scans Using Regional Features") in Burn.
//!
//! A Mask R-CNN with a ResNet-FPN backbone detects and segments ground-glass opacity and
//! consolidation in a chest CT slice; module S reads the 256 best-ranked box predictions and
//! classifies the slice as normal, common pneumonia or COVID-19. The crate builds natively (the
//! `ct-mask-net` command-line tool, tests) and for `wasm32-unknown-unknown` (the web page).
//!
//! The module tree follows the architecture: [`transform`] -> [`backbone`] -> [`fpn`] -> [`rpn`]
//! -> [`roi_heads`] -> [`mask_head`] / [`classifier`], with [`box_ops`] shared, [`importer`]
//! for checkpoints and [`imaging`] for decoding slices.

pub mod analysis;
#[cfg(target_arch = "wasm32")]
pub mod app;
pub mod backbone;
pub mod backend;
pub mod batch;
pub mod box_ops;
pub mod classifier;
pub mod config;
pub mod engine;
pub mod error;
pub mod evaluation;
pub mod finetune;
pub mod fpn;
pub mod imaging;
pub mod importer;
pub mod mask_head;
pub mod model;
pub mod nn;
pub mod pipeline;
mod readback;
pub mod roi_heads;
pub mod rpn;
pub mod study;
#[cfg(not(target_arch = "wasm32"))]
pub mod training;
pub mod transform;
pub mod weights;

pub use error::ModelError;
