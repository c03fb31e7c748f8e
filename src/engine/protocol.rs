//! Messages between the page and the engine, and their wire form.
//!
//! The engine runs in a Web Worker, so requests and replies cross a `postMessage` boundary.
//! Each message becomes an [`Envelope`]: a JSON header (the variant and its small fields) plus
//! binary buffers for the bulky parts (file bytes, decoded pixels, masks, S's input), which the
//! browser moves without copying. The same types work in-process (no worker) and natively,
//! where the round trip is tested.

use image::RgbImage;
use serde::{Deserialize, Serialize};

use super::AnalysedSlice;
use super::finetune::{EpochReport, FineTuneSettings, FineTuneSetup};
use crate::analysis::{LesionMasks, SliceAnalysis, SliceReport};

/// A message in wire form: JSON header and binary buffers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Envelope {
    /// The variant and its small fields, as JSON.
    pub header: String,
    /// Bulky payloads, in the order the variant defines.
    pub buffers: Vec<Vec<u8>>,
}

/// Description of the active model, as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Plain-words name of the weights in use.
    pub label: String,
    /// Whether these are the seeded random placeholder weights.
    pub placeholder: bool,
    /// Whether these are the project's default weights (shipped with the page).
    #[serde(default)]
    pub default: bool,
    /// Whether a segmentation model is present (lesions, masks, areas).
    pub lesions: bool,
    /// The lesion score from which lesions are drawn and counted (the segmentation file's
    /// setting, else 0.5).
    #[serde(default = "half")]
    pub min_score: f32,
}

fn half() -> f32 {
    0.5
}

fn lung() -> String {
    "lung".into()
}

/// What the page asks of the engine. Requests are handled one at a time, in order, and each
/// gets exactly one [`Reply`].
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Activate the seeded placeholder model. Replies [`Reply::ModelReady`] or
    /// [`Reply::ModelFailed`].
    UsePlaceholder,
    /// Activate the default weights (the file shipped with the page: both models in one),
    /// forgetting the user's checkpoints. Replies [`Reply::ModelReady`] or
    /// [`Reply::WeightsRefused`] (the previous model stays).
    UseDefault(Vec<u8>),
    /// Build a model from checkpoint files `(name, bytes)`, completed by the user's
    /// checkpoints already active. Replies [`Reply::ModelReady`] or [`Reply::WeightsRefused`]
    /// (the previous model stays).
    LoadWeights(Vec<(String, Vec<u8>)>),
    /// Run the active model once on a synthetic slice, so that the first real slice does not
    /// pay for first-use costs (GPU shader compilation, allocations). Replies
    /// [`Reply::WarmedUp`] or [`Reply::AnalysisFailed`].
    WarmUp,
    /// Decode and analyse one image file. Replies [`Reply::Analysed`] or
    /// [`Reply::AnalysisFailed`].
    Analyse {
        /// The file's name (for messages).
        name: String,
        /// The file's bytes.
        bytes: Vec<u8>,
        /// The window of a DICOM file: `lung`, `mediastinum`, `file` or `LEVEL,WIDTH` (see
        /// [`crate::imaging::WindowChoice::parse`]); other images ignore it.
        window: String,
    },
    /// Start fine-tuning S ("heads" mode) on a labelled set, from the active classifier.
    /// Replies [`Reply::FineTuneProgress`] for epoch 0 or [`Reply::FineTuneFailed`].
    FineTuneStart(FineTuneSetup),
    /// One more epoch of the run started last. Replies [`Reply::FineTuneProgress`] or
    /// [`Reply::FineTuneFailed`].
    FineTuneEpoch,
    /// Make the kept epoch's model active. Replies [`Reply::FineTuned`] or
    /// [`Reply::FineTuneFailed`].
    FineTuneApply,
    /// Time fine-tuning on `slices` synthetic slices for a few epochs. Replies
    /// [`Reply::FineTuneTimed`] or [`Reply::FineTuneFailed`].
    FineTuneBenchmark {
        /// Slices in the synthetic set.
        slices: usize,
    },
}

/// What the engine answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Sent once, unasked, when the engine is ready for requests.
    Hello {
        /// Plain-words name of the compute backend.
        backend: String,
        /// More about it for the diagnostics: the GPU adapter and its limits, or why the GPU
        /// is not used.
        detail: String,
    },
    /// The warm-up pass ran, in this many milliseconds.
    WarmedUp {
        /// Milliseconds it took.
        ms: f64,
    },
    /// A new model is active.
    ModelReady(ModelInfo),
    /// No model could be built at all.
    ModelFailed(String),
    /// The weights were not usable; the previous model stays active.
    WeightsRefused(String),
    /// The slice's result.
    Analysed(Box<AnalysedSlice>),
    /// The file could not be analysed; the message says why in plain words.
    AnalysisFailed(String),
    /// Where fine-tuning stands after an epoch.
    FineTuneProgress(EpochReport),
    /// The fine-tuned model is active.
    FineTuned {
        /// How the page describes it.
        info: ModelInfo,
        /// A file name for it.
        file: String,
        /// The fine-tuned classifier, a safetensors checkpoint.
        bytes: Vec<u8>,
    },
    /// Fine-tuning could not start or go on; the message says why in plain words.
    FineTuneFailed(String),
    /// Fine-tuning speed on this device.
    FineTuneTimed {
        /// Slices in the synthetic set.
        slices: usize,
        /// Mean milliseconds per epoch.
        ms_per_epoch: f64,
    },
}

/// Header of a [`Request`].
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum RequestHeader {
    UsePlaceholder,
    UseDefault,
    WarmUp,
    LoadWeights {
        files: Vec<String>,
    },
    Analyse {
        name: String,
        #[serde(default = "lung")]
        window: String,
    },
    FineTuneStart {
        labels: Vec<u8>,
        validation: Vec<bool>,
        settings: FineTuneSettings,
    },
    FineTuneEpoch,
    FineTuneApply,
    FineTuneBenchmark {
        slices: usize,
    },
}

/// Header of a [`Reply`]; `Analysed` carries its pixels, masks and S input as buffers.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ReplyHeader {
    Hello {
        backend: String,
        detail: String,
    },
    WarmedUp {
        ms: f64,
    },
    ModelReady {
        info: ModelInfo,
    },
    ModelFailed {
        message: String,
    },
    WeightsRefused {
        message: String,
    },
    Analysed {
        report: Box<SliceReport>,
        width: u32,
        height: u32,
        total_ms: f64,
        masks: bool,
    },
    AnalysisFailed {
        message: String,
    },
    FineTuneProgress {
        report: EpochReport,
    },
    FineTuned {
        info: ModelInfo,
        file: String,
    },
    FineTuneFailed {
        message: String,
    },
    FineTuneTimed {
        slices: usize,
        ms_per_epoch: f64,
    },
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn bytes_f32(bytes: &[u8]) -> Result<Vec<f32>, String> {
    if !bytes.len().is_multiple_of(4) {
        return Err(bad("float buffer size"));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Bit of a mask byte set for ground-glass opacity.
const GGO_BIT: u8 = 1;
/// Bit of a mask byte set for consolidation.
const CONSOLIDATION_BIT: u8 = 2;

fn to_json(header: &impl Serialize) -> String {
    // The headers hold strings, numbers and plain structs only: serialising cannot fail.
    serde_json::to_string(header).unwrap_or_default()
}

fn bad(what: &str) -> String {
    format!("malformed engine message: {what}")
}

impl Request {
    /// The wire form.
    pub fn encode(self) -> Envelope {
        match self {
            Self::UsePlaceholder => Envelope {
                header: to_json(&RequestHeader::UsePlaceholder),
                buffers: Vec::new(),
            },
            Self::WarmUp => Envelope {
                header: to_json(&RequestHeader::WarmUp),
                buffers: Vec::new(),
            },
            Self::UseDefault(bytes) => Envelope {
                header: to_json(&RequestHeader::UseDefault),
                buffers: vec![bytes],
            },
            Self::LoadWeights(files) => {
                let (names, buffers) = files.into_iter().unzip();
                Envelope {
                    header: to_json(&RequestHeader::LoadWeights { files: names }),
                    buffers,
                }
            }
            Self::Analyse {
                name,
                bytes,
                window,
            } => Envelope {
                header: to_json(&RequestHeader::Analyse { name, window }),
                buffers: vec![bytes],
            },
            Self::FineTuneStart(setup) => Envelope {
                header: to_json(&RequestHeader::FineTuneStart {
                    labels: setup.labels,
                    validation: setup.validation,
                    settings: setup.settings,
                }),
                buffers: vec![f32_bytes(&setup.features)],
            },
            Self::FineTuneEpoch => Envelope {
                header: to_json(&RequestHeader::FineTuneEpoch),
                buffers: Vec::new(),
            },
            Self::FineTuneApply => Envelope {
                header: to_json(&RequestHeader::FineTuneApply),
                buffers: Vec::new(),
            },
            Self::FineTuneBenchmark { slices } => Envelope {
                header: to_json(&RequestHeader::FineTuneBenchmark { slices }),
                buffers: Vec::new(),
            },
        }
    }

    /// Back from the wire form.
    pub fn decode(envelope: Envelope) -> Result<Self, String> {
        let header: RequestHeader =
            serde_json::from_str(&envelope.header).map_err(|e| bad(&e.to_string()))?;
        let mut buffers = envelope.buffers;
        match header {
            RequestHeader::UsePlaceholder => Ok(Self::UsePlaceholder),
            RequestHeader::WarmUp => Ok(Self::WarmUp),
            RequestHeader::UseDefault => {
                if buffers.len() != 1 {
                    return Err(bad("one buffer expected for the default weights"));
                }
                Ok(Self::UseDefault(buffers.remove(0)))
            }
            RequestHeader::LoadWeights { files } => {
                if files.len() != buffers.len() {
                    return Err(bad("one buffer per weights file expected"));
                }
                Ok(Self::LoadWeights(files.into_iter().zip(buffers).collect()))
            }
            RequestHeader::Analyse { name, window } => {
                if buffers.len() != 1 {
                    return Err(bad("one buffer expected for an image"));
                }
                Ok(Self::Analyse {
                    name,
                    bytes: buffers.remove(0),
                    window,
                })
            }
            RequestHeader::FineTuneStart {
                labels,
                validation,
                settings,
            } => {
                if buffers.len() != 1 {
                    return Err(bad("one buffer expected for the S inputs"));
                }
                Ok(Self::FineTuneStart(FineTuneSetup {
                    features: bytes_f32(&buffers[0])?,
                    labels,
                    validation,
                    settings,
                }))
            }
            RequestHeader::FineTuneEpoch => Ok(Self::FineTuneEpoch),
            RequestHeader::FineTuneApply => Ok(Self::FineTuneApply),
            RequestHeader::FineTuneBenchmark { slices } => Ok(Self::FineTuneBenchmark { slices }),
        }
    }
}

impl Reply {
    /// The wire form.
    pub fn encode(self) -> Envelope {
        let plain = |header: ReplyHeader| Envelope {
            header: to_json(&header),
            buffers: Vec::new(),
        };
        match self {
            Self::Hello { backend, detail } => plain(ReplyHeader::Hello { backend, detail }),
            Self::WarmedUp { ms } => plain(ReplyHeader::WarmedUp { ms }),
            Self::ModelReady(info) => plain(ReplyHeader::ModelReady { info }),
            Self::ModelFailed(message) => plain(ReplyHeader::ModelFailed { message }),
            Self::WeightsRefused(message) => plain(ReplyHeader::WeightsRefused { message }),
            Self::AnalysisFailed(message) => plain(ReplyHeader::AnalysisFailed { message }),
            Self::Analysed(slice) => encode_slice(*slice),
            Self::FineTuneProgress(report) => plain(ReplyHeader::FineTuneProgress { report }),
            Self::FineTuneFailed(message) => plain(ReplyHeader::FineTuneFailed { message }),
            Self::FineTuneTimed {
                slices,
                ms_per_epoch,
            } => plain(ReplyHeader::FineTuneTimed {
                slices,
                ms_per_epoch,
            }),
            Self::FineTuned { info, file, bytes } => Envelope {
                header: to_json(&ReplyHeader::FineTuned { info, file }),
                buffers: vec![bytes],
            },
        }
    }

    /// Back from the wire form.
    pub fn decode(envelope: Envelope) -> Result<Self, String> {
        let header: ReplyHeader =
            serde_json::from_str(&envelope.header).map_err(|e| bad(&e.to_string()))?;
        Ok(match header {
            ReplyHeader::Hello { backend, detail } => Self::Hello { backend, detail },
            ReplyHeader::WarmedUp { ms } => Self::WarmedUp { ms },
            ReplyHeader::ModelReady { info } => Self::ModelReady(info),
            ReplyHeader::ModelFailed { message } => Self::ModelFailed(message),
            ReplyHeader::WeightsRefused { message } => Self::WeightsRefused(message),
            ReplyHeader::AnalysisFailed { message } => Self::AnalysisFailed(message),
            ReplyHeader::FineTuneProgress { report } => Self::FineTuneProgress(report),
            ReplyHeader::FineTuneFailed { message } => Self::FineTuneFailed(message),
            ReplyHeader::FineTuneTimed {
                slices,
                ms_per_epoch,
            } => Self::FineTuneTimed {
                slices,
                ms_per_epoch,
            },
            ReplyHeader::FineTuned { info, file } => {
                let bytes = envelope
                    .buffers
                    .into_iter()
                    .next()
                    .ok_or_else(|| bad("one buffer expected for the fine-tuned weights"))?;
                Self::FineTuned { info, file, bytes }
            }
            ReplyHeader::Analysed {
                report,
                width,
                height,
                total_ms,
                masks,
            } => Self::Analysed(Box::new(decode_slice(
                *report,
                [width, height],
                total_ms,
                masks,
                envelope.buffers,
            )?)),
        })
    }
}

/// Buffers: RGB pixels, one mask byte per pixel (empty without masks), S's input as
/// little-endian `f32`.
fn encode_slice(slice: AnalysedSlice) -> Envelope {
    let AnalysedSlice {
        image,
        analysis,
        total_ms,
    } = slice;
    let (width, height) = image.dimensions();
    let masks = analysis.masks.as_ref().map(|m| {
        m.ggo
            .iter()
            .zip(&m.consolidation)
            .map(|(&g, &c)| (u8::from(g) * GGO_BIT) | (u8::from(c) * CONSOLIDATION_BIT))
            .collect::<Vec<u8>>()
    });
    let ranked = f32_bytes(&analysis.ranked_boxes);
    let header = ReplyHeader::Analysed {
        report: Box::new(analysis.report),
        width,
        height,
        total_ms,
        masks: masks.is_some(),
    };
    Envelope {
        header: to_json(&header),
        buffers: vec![image.into_raw(), masks.unwrap_or_default(), ranked],
    }
}

fn decode_slice(
    report: SliceReport,
    [width, height]: [u32; 2],
    total_ms: f64,
    has_masks: bool,
    buffers: Vec<Vec<u8>>,
) -> Result<AnalysedSlice, String> {
    let [pixels, mask_bytes, ranked]: [Vec<u8>; 3] = buffers
        .try_into()
        .map_err(|_| bad("three buffers expected for an analysed slice"))?;
    let image =
        RgbImage::from_raw(width, height, pixels).ok_or_else(|| bad("pixel buffer size"))?;
    let area = width as usize * height as usize;
    let masks = if has_masks {
        if mask_bytes.len() != area {
            return Err(bad("mask buffer size"));
        }
        Some(LesionMasks {
            ggo: mask_bytes.iter().map(|b| b & GGO_BIT != 0).collect(),
            consolidation: mask_bytes
                .iter()
                .map(|b| b & CONSOLIDATION_BIT != 0)
                .collect(),
        })
    } else {
        None
    };
    let ranked_boxes = bytes_f32(&ranked)?;
    Ok(AnalysedSlice {
        image,
        analysis: SliceAnalysis {
            report,
            ranked_boxes,
            masks,
        },
        total_ms,
    })
}
