//! Per-stage wall-clock timings.

use serde::{Deserialize, Serialize};
use web_time::Instant;

/// Milliseconds spent in each stage of one forward pass. Stages that did not run stay 0.
///
/// On asynchronous backends (WebGPU) device work is only awaited at read-backs, so time queued
/// in one stage may be attributed to the next one that reads back.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct StageTimings {
    /// Image decoding.
    pub decode_ms: f64,
    /// Normalise, resize, pad and upload.
    pub preprocess_ms: f64,
    /// ResNet body and FPN.
    pub backbone_fpn_ms: f64,
    /// RPN head and proposal selection.
    pub rpn_ms: f64,
    /// RoIAlign, box head and detection post-processing.
    pub roi_heads_ms: f64,
    /// Mask head and pasting.
    pub masks_ms: f64,
    /// Module S.
    pub classifier_ms: f64,
}

/// A running stopwatch.
pub(crate) struct Stopwatch(Instant);

impl Stopwatch {
    pub(crate) fn start() -> Self {
        Self(Instant::now())
    }

    /// Milliseconds since the last lap (or start), restarting the watch.
    pub(crate) fn lap(&mut self) -> f64 {
        let now = Instant::now();
        let ms = now.duration_since(self.0).as_secs_f64() * 1e3;
        self.0 = now;
        ms
    }
}

/// Waits for queued device work so the next lap measures the stage that queued it. Natively
/// only: the browser forbids blocking waits, and there stages are attributed to the next
/// read-back instead.
pub(crate) fn settle(device: &burn::prelude::Device) {
    #[cfg(not(target_arch = "wasm32"))]
    let _ = device.sync();
    #[cfg(target_arch = "wasm32")]
    let _ = device;
}
