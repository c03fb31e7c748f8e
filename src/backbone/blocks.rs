//! Residual blocks: [`BasicBlock`] (ResNet-18/34) and [`Bottleneck`] (ResNet-50).

use burn::nn::conv::Conv2d;
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::nn::FrozenBatchNorm2d;
use crate::weights::{ConvSpec, WeightLoader};

/// 1x1 convolution + batch norm that matches the shortcut to the block's output.
#[derive(Module, Debug)]
pub struct Downsample {
    conv: Conv2d,
    bn: FrozenBatchNorm2d,
}

impl Downsample {
    fn load(w: &WeightLoader, prefix: &str, channels: [usize; 2], stride: usize) -> Self {
        Self {
            conv: w.conv2d(
                &format!("{prefix}.0"),
                ConvSpec::no_bias(channels, 1, stride, 0),
            ),
            bn: w.batch_norm(&format!("{prefix}.1"), channels[1]),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x))
    }
}

/// Two 3x3 convolutions with a shortcut (ResNet-18/34). Expansion 1.
#[derive(Module, Debug)]
pub struct BasicBlock {
    conv1: Conv2d,
    bn1: FrozenBatchNorm2d,
    conv2: Conv2d,
    bn2: FrozenBatchNorm2d,
    downsample: Option<Downsample>,
}

impl BasicBlock {
    /// Output channels per unit of `width`.
    pub const EXPANSION: usize = 1;

    /// Loads `prefix.{conv1,bn1,conv2,bn2,downsample}`.
    pub fn load(w: &WeightLoader, prefix: &str, c_in: usize, width: usize, stride: usize) -> Self {
        let c_out = width * Self::EXPANSION;
        let needs_shortcut = stride != 1 || c_in != c_out;
        Self {
            conv1: w.conv2d(
                &format!("{prefix}.conv1"),
                ConvSpec::no_bias([c_in, width], 3, stride, 1),
            ),
            bn1: w.batch_norm(&format!("{prefix}.bn1"), width),
            conv2: w.conv2d(
                &format!("{prefix}.conv2"),
                ConvSpec::no_bias([width, width], 3, 1, 1),
            ),
            bn2: w.batch_norm(&format!("{prefix}.bn2"), width),
            downsample: needs_shortcut.then(|| {
                Downsample::load(w, &format!("{prefix}.downsample"), [c_in, c_out], stride)
            }),
        }
    }

    /// # Shapes
    /// - `x`: `[N, C_in, H, W]` -> `[N, width, H / stride, W / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(down) => down.forward(x.clone()),
            None => x.clone(),
        };

        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = self.bn2.forward(self.conv2.forward(out));

        relu(out + identity)
    }
}

/// 1x1 reduce, 3x3 (strided), 1x1 expand, with a shortcut (ResNet-50). Expansion 4.
#[derive(Module, Debug)]
pub struct Bottleneck {
    conv1: Conv2d,
    bn1: FrozenBatchNorm2d,
    conv2: Conv2d,
    bn2: FrozenBatchNorm2d,
    conv3: Conv2d,
    bn3: FrozenBatchNorm2d,
    downsample: Option<Downsample>,
}

impl Bottleneck {
    /// Output channels per unit of `width`.
    pub const EXPANSION: usize = 4;

    /// Loads `prefix.{conv1..3,bn1..3,downsample}`; the stride sits on `conv2` (v1.5).
    pub fn load(w: &WeightLoader, prefix: &str, c_in: usize, width: usize, stride: usize) -> Self {
        let c_out = width * Self::EXPANSION;
        let needs_shortcut = stride != 1 || c_in != c_out;
        Self {
            conv1: w.conv2d(
                &format!("{prefix}.conv1"),
                ConvSpec::no_bias([c_in, width], 1, 1, 0),
            ),
            bn1: w.batch_norm(&format!("{prefix}.bn1"), width),
            conv2: w.conv2d(
                &format!("{prefix}.conv2"),
                ConvSpec::no_bias([width, width], 3, stride, 1),
            ),
            bn2: w.batch_norm(&format!("{prefix}.bn2"), width),
            conv3: w.conv2d(
                &format!("{prefix}.conv3"),
                ConvSpec::no_bias([width, c_out], 1, 1, 0),
            ),
            bn3: w.batch_norm(&format!("{prefix}.bn3"), c_out),
            downsample: needs_shortcut.then(|| {
                Downsample::load(w, &format!("{prefix}.downsample"), [c_in, c_out], stride)
            }),
        }
    }

    /// # Shapes
    /// - `x`: `[N, C_in, H, W]` -> `[N, 4 * width, H / stride, W / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(down) => down.forward(x.clone()),
            None => x.clone(),
        };

        let out = relu(self.bn1.forward(self.conv1.forward(x)));
        let out = relu(self.bn2.forward(self.conv2.forward(out)));
        let out = self.bn3.forward(self.conv3.forward(out));

        relu(out + identity)
    }
}

/// One residual block of either kind.
// A network holds blocks of one kind only, so the size difference wastes nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ResidualBlock {
    /// ResNet-18/34 block.
    Basic(BasicBlock),
    /// ResNet-50 block.
    Bottleneck(Bottleneck),
}

impl ResidualBlock {
    /// # Shapes
    /// - `x`: `[N, C_in, H, W]` -> `[N, C_out, H / stride, W / stride]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self {
            Self::Basic(block) => block.forward(x),
            Self::Bottleneck(block) => block.forward(x),
        }
    }
}
