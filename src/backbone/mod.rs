//! ResNet body of the detector (torchvision "v1.5": the stride of each down-sampling bottleneck
//! sits on its 3x3 convolution), with frozen batch-norm statistics.

mod blocks;
mod resnet;

pub use blocks::{BasicBlock, Bottleneck, ResidualBlock};
pub use resnet::{BackboneConfig, ResNet};
