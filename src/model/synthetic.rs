//! Seeded random weights for any configuration: what tests, fixtures and benchmarks use when no
//! trained checkpoint is at hand. They mean nothing medically.

use burn::prelude::Device;

use super::detector::Detector;
use super::loading::ModelKind;
use crate::classifier::ModuleS;
use crate::config::{ClassifierConfig, DetectorConfig};
use crate::error::ModelError;
use crate::importer::{RawTensor, StateDict};
use crate::mask_head::MaskHead;
use crate::weights::WeightLoader;

/// SplitMix64: a small, well-mixed, seeded generator (the same sequence on every platform).
/// Synthetic weights seed one per tensor, so values do not depend on the order tensors are
/// visited in; training uses one per run for sampling and augmentation.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator starting from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 24 bits.
    pub fn next_unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * n as f64) as usize % n.max(1)
    }

    /// Shuffles `items` in place (Fisher-Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u1 = (self.next_unit() as f64).max(1e-12);
        let u2 = self.next_unit() as f64;
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

pub(crate) fn name_seed(name: &str, seed: u64) -> u64 {
    name.bytes().fold(seed ^ 0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01B3)
    })
}

/// Values for one tensor: He-uniform weights, small biases, near-identity batch norms.
fn values(name: &str, shape: &[usize], seed: u64) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut rng = SplitMix(name_seed(name, seed));
    let is_bn = name.contains(".bn") || name.contains("downsample.1");
    let field = name.rsplit('.').next().unwrap_or("");
    match (is_bn, field) {
        (_, "running_var") => (0..n).map(|_| 1.0 + 0.1 * rng.next_unit()).collect(),
        (_, "running_mean") => (0..n).map(|_| 0.1 * (rng.next_unit() - 0.5)).collect(),
        (true, "weight") => vec![1.0; n],
        (true, "bias") => vec![0.0; n],
        (false, "bias") => (0..n).map(|_| 0.02 * (rng.next_unit() - 0.5)).collect(),
        _ => {
            let fan_in: usize = shape.iter().skip(1).product::<usize>().max(1);
            let bound = (6.0 / fan_in as f32).sqrt();
            (0..n)
                .map(|_| bound * (2.0 * rng.next_unit() - 1.0))
                .collect()
        }
    }
}

/// Every tensor (canonical name and shape) of a model of `kind` with the given detector, in
/// the order the modules ask for them.
pub(crate) fn architecture(
    kind: ModelKind,
    detector: &DetectorConfig,
    device: &Device,
) -> Result<Vec<(String, Vec<usize>)>, ModelError> {
    let empty = StateDict::default();
    let w = WeightLoader::new(&empty, device);
    Detector::load(&w, detector)?;
    match kind {
        ModelKind::Segmentation => {
            MaskHead::load(&w, "roi_heads", detector.fpn_channels, &detector.roi_heads);
        }
        ModelKind::Classification => {
            ModuleS::load(&w, "s2new", &ClassifierConfig::new());
        }
    }
    Ok(w.requested())
}

/// Seeded random weights for a model of `kind` with the given detector.
pub fn synthetic_weights(
    kind: ModelKind,
    detector: &DetectorConfig,
    seed: u64,
    device: &Device,
) -> Result<StateDict, ModelError> {
    let mut weights = StateDict::default();
    for (name, shape) in architecture(kind, detector, device)? {
        let data = values(&name, &shape, seed);
        weights.tensors.insert(name, RawTensor { shape, data });
    }
    Ok(weights)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backbone::BackboneConfig;
    use crate::config::ClassificationConfig;
    use crate::model::ClassificationModel;

    #[test]
    fn synthetic_weights_fit_the_architecture_and_are_seeded() {
        let device = Device::default();
        let detector = DetectorConfig::new().with_backbone(BackboneConfig::new().with_depth(18));
        let a = synthetic_weights(ModelKind::Classification, &detector, 7, &device).unwrap();
        let b = synthetic_weights(ModelKind::Classification, &detector, 7, &device).unwrap();
        let c = synthetic_weights(ModelKind::Classification, &detector, 8, &device).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(ModelKind::detect(&a).unwrap(), ModelKind::Classification);
        let config = ClassificationConfig::new().with_detector(detector);
        ClassificationModel::load(&a, config, &device).unwrap();
    }
}
