//! The engine behind the web page: holds the active models and answers [`Request`]s one at a
//! time. The page runs it in a Web Worker (so the page stays responsive while a slice is
//! analysed) or, where no worker can start, in the page itself; both go through the same
//! [`Engine::handle`]. It is plain Rust with no browser dependency, so it is tested natively.

mod models;
pub mod protocol;

use image::RgbImage;
use web_time::Instant;

pub use models::{PLACEHOLDER_NOTE, PLACEHOLDER_SEED};
pub use protocol::{Envelope, ModelInfo, Reply, Request};

use crate::analysis::{Analyzer, SliceAnalysis};
use crate::backend::ComputeDevice;
use crate::imaging::decode_slice;
use models::UserWeights;

/// One analysed slice: the decoded pixels, the model's answer, and the time it took.
#[derive(Debug, Clone)]
pub struct AnalysedSlice {
    /// The decoded slice.
    pub image: RgbImage,
    /// The model's answer.
    pub analysis: SliceAnalysis,
    /// Milliseconds from the file's bytes to the answer (decoding included).
    pub total_ms: f64,
}

/// The active models and the user's checkpoints behind them.
pub struct Engine {
    compute: ComputeDevice,
    backend: String,
    detail: String,
    analyzer: Option<Analyzer>,
    user: UserWeights,
}

impl Engine {
    /// An engine with no model yet, computing on `compute`; `backend` names it for the page.
    pub fn new(compute: ComputeDevice, backend: impl Into<String>) -> Self {
        Self {
            compute,
            backend: backend.into(),
            detail: String::new(),
            analyzer: None,
            user: UserWeights::default(),
        }
    }

    /// Adds what the diagnostics say about the backend (adapter, limits, fallback reason).
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// The [`Reply::Hello`] announcing this engine.
    pub fn hello(&self) -> Reply {
        Reply::Hello {
            backend: self.backend.clone(),
            detail: self.detail.clone(),
        }
    }

    /// Handles one request; never panics on bad input (every failure is a reply).
    pub async fn handle(&mut self, request: Request) -> Reply {
        match request {
            Request::UsePlaceholder => match models::placeholder(&self.compute.device) {
                Ok(analyzer) => {
                    self.analyzer = Some(analyzer);
                    self.user = UserWeights::default();
                    Reply::ModelReady(models::placeholder_info())
                }
                Err(message) => Reply::ModelFailed(message),
            },
            Request::LoadWeights(files) => {
                match models::user_model(&self.user, files, &self.compute.device) {
                    Ok((analyzer, user)) => {
                        let info = user.info();
                        self.analyzer = Some(analyzer);
                        self.user = user;
                        Reply::ModelReady(info)
                    }
                    Err(message) => Reply::WeightsRefused(message),
                }
            }
            Request::WarmUp => match self.warm_up().await {
                Ok(ms) => Reply::WarmedUp { ms },
                Err(message) => Reply::AnalysisFailed(message),
            },
            Request::Analyse { name, bytes } => match self.analyse(&bytes).await {
                Ok(slice) => Reply::Analysed(Box::new(slice)),
                Err(message) => {
                    log::warn!("{name}: {message}");
                    Reply::AnalysisFailed(message)
                }
            },
        }
    }

    /// Runs the active model on a synthetic 512x512 slice and discards the answer.
    async fn warm_up(&self) -> Result<f64, String> {
        let Some(analyzer) = &self.analyzer else {
            return Err("No model is loaded yet".into());
        };
        let started = Instant::now();
        analyzer
            .analyze(&warm_up_slice())
            .await
            .map_err(|e| capitalise(&e.to_string()))?;
        Ok(started.elapsed().as_secs_f64() * 1e3)
    }

    /// Decodes and analyses one file. Errors are plain-words messages.
    async fn analyse(&self, bytes: &[u8]) -> Result<AnalysedSlice, String> {
        let Some(analyzer) = &self.analyzer else {
            return Err("No model is loaded yet".into());
        };
        let started = Instant::now();
        let image = decode_slice(bytes).map_err(|e| capitalise(&e.to_string()))?;
        let decode_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut analysis = analyzer
            .analyze(&image)
            .await
            .map_err(|e| capitalise(&e.to_string()))?;
        analysis.report.timings_ms.decode_ms = decode_ms;
        Ok(AnalysedSlice {
            image,
            analysis,
            total_ms: started.elapsed().as_secs_f64() * 1e3,
        })
    }
}

/// A 512x512 grey slice with a bright ring and a few blobs, so that the detectors produce
/// boxes and every stage (NMS, RoIAlign, masks) runs as it would on a real slice.
fn warm_up_slice() -> RgbImage {
    RgbImage::from_fn(512, 512, |x, y| {
        let (dx, dy) = (x as f32 - 256.0, y as f32 - 256.0);
        let r = (dx * dx + dy * dy).sqrt();
        let ring = if (200.0..230.0).contains(&r) {
            200.0
        } else {
            30.0
        };
        let blob = 120.0 * ((dx / 40.0).sin() * (dy / 55.0).cos()).max(0.0);
        let v = (ring + blob).min(255.0) as u8;
        image::Rgb([v, v, v])
    })
}

/// `text` with its first letter in upper case (messages start a sentence in the page).
pub fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
