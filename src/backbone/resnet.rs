//! The ResNet body (`backbone.body.*`): stem and up to four stages, returning every stage's
//! output for the FPN.

use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::prelude::*;
use burn::tensor::activation::relu;

use super::blocks::{BasicBlock, Bottleneck, ResidualBlock};
use crate::nn::FrozenBatchNorm2d;
use crate::weights::{ConvSpec, WeightLoader};

/// Which ResNet and how much of it.
#[derive(Config, Debug)]
pub struct BackboneConfig {
    /// 18, 34 or 50 (the paper: 50).
    #[config(default = 50)]
    pub depth: usize,
    /// Number of final stages dropped: 0 (the paper), 1 or 2. The FPN then has 4, 3 or 2 levels.
    #[config(default = 0)]
    pub truncation: usize,
}

impl BackboneConfig {
    /// Blocks per stage for the configured depth, or `None` for an unsupported depth.
    pub fn blocks_per_stage(&self) -> Option<[usize; 4]> {
        match self.depth {
            18 => Some([2, 2, 2, 2]),
            34 | 50 => Some([3, 4, 6, 3]),
            _ => None,
        }
    }

    /// Whether the stages use bottleneck blocks.
    pub fn uses_bottleneck(&self) -> bool {
        self.depth >= 50
    }

    /// Number of stages kept (4 minus the truncation).
    pub fn num_stages(&self) -> usize {
        4 - self.truncation.min(2)
    }

    /// Output channels of each kept stage, e.g. `[256, 512, 1024, 2048]` for ResNet-50.
    pub fn stage_channels(&self) -> Vec<usize> {
        let expansion = if self.uses_bottleneck() {
            Bottleneck::EXPANSION
        } else {
            BasicBlock::EXPANSION
        };
        (0..self.num_stages())
            .map(|i| (64 << i) * expansion)
            .collect()
    }
}

/// Stem (7x7 conv, BN, ReLU, 3x3 max-pool) followed by the residual stages.
#[derive(Module, Debug)]
pub struct ResNet {
    conv1: Conv2d,
    bn1: FrozenBatchNorm2d,
    maxpool: MaxPool2d,
    stages: Vec<Vec<ResidualBlock>>,
}

impl ResNet {
    /// Loads `prefix.{conv1,bn1,layer1..layerK}`; `None` for an unsupported depth.
    pub fn load(w: &WeightLoader, prefix: &str, config: &BackboneConfig) -> Option<Self> {
        let blocks = config.blocks_per_stage()?;
        let channels = config.stage_channels();

        let mut c_in = 64;
        let mut stages = Vec::new();
        for (stage, (&n_blocks, &c_out)) in blocks.iter().zip(&channels).enumerate() {
            let width = 64 << stage;
            let mut layer = Vec::with_capacity(n_blocks);
            for block in 0..n_blocks {
                let stride = if stage > 0 && block == 0 { 2 } else { 1 };
                let name = format!("{prefix}.layer{}.{block}", stage + 1);
                layer.push(if config.uses_bottleneck() {
                    ResidualBlock::Bottleneck(Bottleneck::load(w, &name, c_in, width, stride))
                } else {
                    ResidualBlock::Basic(BasicBlock::load(w, &name, c_in, width, stride))
                });
                c_in = c_out;
            }
            stages.push(layer);
        }

        Some(Self {
            conv1: w.conv2d(
                &format!("{prefix}.conv1"),
                ConvSpec::no_bias([3, 64], 7, 2, 3),
            ),
            bn1: w.batch_norm(&format!("{prefix}.bn1"), 64),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            stages,
        })
    }

    /// # Shapes
    /// - `x`: `[N, 3, H, W]` (H, W multiples of 32)
    /// - returns one tensor per stage: `[N, C_i, H / 2^(i+2), W / 2^(i+2)]`
    pub fn forward(&self, x: Tensor<4>) -> Vec<Tensor<4>> {
        let mut x = relu(self.bn1.forward(self.conv1.forward(x)));
        x = self.maxpool.forward(x);

        let mut outputs = Vec::with_capacity(self.stages.len());
        for stage in &self.stages {
            for block in stage {
                x = block.forward(x);
            }
            outputs.push(x.clone());
        }
        outputs
    }
}
