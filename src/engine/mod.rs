//! The engine behind the web page: holds the active models and answers [`Request`]s one at a
//! time. The page runs it in a Web Worker (so the page stays responsive while a slice is
//! analysed) or, where no worker can start, in the page itself; both go through the same
//! [`Engine::handle`]. It is plain Rust with no browser dependency, so it is tested natively.

mod digest;
pub mod finetune;
mod models;
pub mod protocol;

use image::RgbImage;
use web_time::Instant;

pub use digest::{expected_default_sha256, sha256_hex, verify_default_weights};
pub use finetune::{EpochReport, FineTuneSettings, FineTuneSetup, PAIRED_SEGMENTER_KEY};
pub use models::{DEFAULT_NOTE, PLACEHOLDER_NOTE, PLACEHOLDER_SEED};
pub use protocol::{Envelope, ModelInfo, Reply, Request};

use crate::analysis::{Analyzer, SliceAnalysis};
use crate::backend::ComputeDevice;
use crate::imaging::{WindowChoice, decode_slice_with, fit_for_analysis};
use finetune::Session;
use models::{ActiveWeights, UserCheckpoint, UserWeights};

/// File name of a fine-tuned classifier the engine hands back.
pub const FINE_TUNED_FILE: &str = "fine-tuned-classifier.safetensors";

/// File name of the default weights, beside the page (and in `weights/` of the repository).
pub const DEFAULT_WEIGHTS_FILE: &str = "ct-mask-net-default.safetensors";

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
    active: Option<ActiveWeights>,
    finetune: Option<Session>,
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
            active: None,
            finetune: None,
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
                Ok((analyzer, active)) => {
                    self.analyzer = Some(analyzer);
                    self.active = Some(active);
                    self.user = UserWeights::default();
                    self.finetune = None;
                    Reply::ModelReady(models::placeholder_info())
                }
                Err(message) => Reply::ModelFailed(message),
            },
            Request::UseDefault(bytes) => {
                let files = vec![(DEFAULT_WEIGHTS_FILE.to_string(), bytes)];
                match models::user_model(&UserWeights::default(), files, &self.compute.device) {
                    Ok((analyzer, user, active)) if user.segmenter.is_some() => {
                        let mut info = user.info();
                        info.default = true;
                        self.analyzer = Some(analyzer);
                        self.active = Some(active);
                        self.user = user;
                        self.finetune = None;
                        Reply::ModelReady(info)
                    }
                    Ok(_) => Reply::WeightsRefused(format!(
                        "{DEFAULT_WEIGHTS_FILE} does not hold both models"
                    )),
                    Err(message) => Reply::WeightsRefused(message),
                }
            }
            Request::LoadWeights(files) => {
                match models::user_model(&self.user, files, &self.compute.device) {
                    Ok((analyzer, user, active)) => {
                        let info = user.info_with(active.placeholder_segmenter);
                        self.analyzer = Some(analyzer);
                        self.active = Some(active);
                        self.user = user;
                        self.finetune = None;
                        Reply::ModelReady(info)
                    }
                    Err(message) => Reply::WeightsRefused(message),
                }
            }
            Request::FineTuneStart(setup) => match self.start_fine_tune(setup).await {
                Ok(report) => Reply::FineTuneProgress(report),
                Err(message) => Reply::FineTuneFailed(message),
            },
            Request::FineTuneEpoch => match &mut self.finetune {
                Some(session) => match session.epoch().await {
                    Ok(report) => Reply::FineTuneProgress(report),
                    Err(message) => Reply::FineTuneFailed(capitalise(&message)),
                },
                None => Reply::FineTuneFailed("No fine-tuning has been started".into()),
            },
            Request::FineTuneBenchmark { slices } => match self.time_fine_tune(slices).await {
                Ok(ms_per_epoch) => Reply::FineTuneTimed {
                    slices,
                    ms_per_epoch,
                },
                Err(message) => Reply::FineTuneFailed(message),
            },
            Request::FineTuneApply => match self.apply_fine_tune().await {
                Ok((info, bytes)) => Reply::FineTuned {
                    info,
                    file: FINE_TUNED_FILE.into(),
                    bytes,
                },
                Err(message) => Reply::FineTuneFailed(message),
            },
            Request::WarmUp => match self.warm_up().await {
                Ok(ms) => Reply::WarmedUp { ms },
                Err(message) => Reply::AnalysisFailed(message),
            },
            Request::Analyse {
                name,
                bytes,
                window,
            } => match self.analyse(&bytes, &window).await {
                Ok(slice) => Reply::Analysed(Box::new(slice)),
                Err(message) => {
                    log::warn!("{name}: {message}");
                    Reply::AnalysisFailed(message)
                }
            },
        }
    }

    async fn start_fine_tune(&mut self, setup: FineTuneSetup) -> Result<EpochReport, String> {
        let (Some(analyzer), Some(active)) = (&self.analyzer, &self.active) else {
            return Err("No model is loaded yet".into());
        };
        let classifier = analyzer.classifier.config.classifier.clone();
        let (session, report) =
            Session::start(&active.classifier, &classifier, setup, &self.compute.device).await?;
        self.finetune = Some(session);
        Ok(report)
    }

    async fn time_fine_tune(&self, slices: usize) -> Result<f64, String> {
        let (Some(analyzer), Some(active)) = (&self.analyzer, &self.active) else {
            return Err("No model is loaded yet".into());
        };
        let classifier = &analyzer.classifier.config.classifier;
        finetune::benchmark(
            &active.classifier,
            classifier,
            slices,
            3,
            &self.compute.device,
        )
        .await
    }

    /// Makes the best epoch's S active; returns the model's description and the fine-tuned
    /// classifier as a safetensors file (f32, so a reload gives the same logits).
    async fn apply_fine_tune(&mut self) -> Result<(ModelInfo, Vec<u8>), String> {
        let (Some(session), Some(active)) = (&self.finetune, &self.active) else {
            return Err("No fine-tuning has been started".into());
        };
        let merged = crate::finetune::with_new_s(&active.classifier, &session.best_s);
        let mut metadata = std::collections::BTreeMap::new();
        metadata.insert("format".to_string(), "ct-mask-net".to_string());
        metadata.insert("model".to_string(), "classification".to_string());
        metadata.insert("finetuned_mode".to_string(), "heads".to_string());
        let config = crate::config::ClassificationConfig::new()
            .with_detector(active.classifier_detector.clone());
        metadata.insert(
            "config".to_string(),
            serde_json::to_string(&config).map_err(|e| e.to_string())?,
        );
        metadata.insert("best_epoch".to_string(), session.best_epoch().to_string());
        metadata.insert("train_slices".to_string(), session.train_count.to_string());
        if active.placeholder_segmenter {
            metadata.insert(PAIRED_SEGMENTER_KEY.to_string(), "placeholder".to_string());
        }
        let bytes = crate::importer::write_safetensors(&merged, false, &metadata)
            .map_err(|e| capitalise(&e.to_string()))?;
        let merged = std::rc::Rc::new(merged);
        let (mut analyzer, active) = models::build(
            merged.clone(),
            active.classifier_detector.clone(),
            active.segmenter.clone(),
            active.placeholder_segmenter,
            &self.compute.device,
        )?;
        analyzer.min_score = self.user.min_score();
        self.user.classifier = Some(UserCheckpoint {
            file: FINE_TUNED_FILE.to_string(),
            weights: merged,
            detector: active.classifier_detector.clone(),
            description: None,
            min_score: None,
        });
        let info = self.user.info_with(active.placeholder_segmenter);
        self.analyzer = Some(analyzer);
        self.active = Some(active);
        Ok((info, bytes))
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

    /// Decodes (DICOM in `window`) and analyses one file. Errors are plain-words messages.
    async fn analyse(&self, bytes: &[u8], window: &str) -> Result<AnalysedSlice, String> {
        let Some(analyzer) = &self.analyzer else {
            return Err("No model is loaded yet".into());
        };
        let window = WindowChoice::parse(window).map_err(|e| capitalise(&e))?;
        let started = Instant::now();
        let image = decode_slice_with(bytes, window).map_err(|e| capitalise(&e.to_string()))?;
        let (image, note) = fit_for_analysis(image);
        let decode_ms = started.elapsed().as_secs_f64() * 1e3;
        let mut analysis = analyzer
            .analyze(&image)
            .await
            .map_err(|e| capitalise(&e.to_string()))?;
        analysis.report.timings_ms.decode_ms = decode_ms;
        analysis.report.notes.extend(note);
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
