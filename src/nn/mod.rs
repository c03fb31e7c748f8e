//! Small building blocks shared by several stages.

mod frozen_bn;

pub use frozen_bn::FrozenBatchNorm2d;
