//! Small building blocks shared by several stages.

mod frozen_bn;
pub mod losses;

pub use frozen_bn::FrozenBatchNorm2d;
