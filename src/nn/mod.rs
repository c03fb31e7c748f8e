//! Small building blocks shared by several stages.

mod frozen_bn;
pub mod losses;

pub use frozen_bn::FrozenBatchNorm2d;

use burn::optim::decay::WeightDecayConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};

/// Adam with `weight_decay` added to the gradient (L2, as PyTorch's `Adam(weight_decay=..)`
/// that the paper's code uses), PyTorch's default betas and epsilon.
pub fn adam(weight_decay: f64) -> ModuleOptimizer {
    AdamConfig::new()
        .with_weight_decay(Some(WeightDecayConfig::new(weight_decay as f32)))
        .init()
}
