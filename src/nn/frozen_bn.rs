//! Batch normalisation with frozen statistics.
//!
//! The paper's training never updates batch-norm statistics: in "heads+BN" mode only the affine
//! weight and bias learn. Burn's own `BatchNorm` switches to batch statistics under autodiff, so
//! the detector uses this module instead, which always normalises with the stored running mean
//! and variance, exactly like PyTorch's `BatchNorm2d` in eval mode.

use burn::module::Param;
use burn::prelude::*;

/// `y = (x - running_mean) / sqrt(running_var + eps) * weight + bias`, per channel.
#[derive(Module, Debug)]
pub struct FrozenBatchNorm2d {
    /// Affine scale `[C]`; trainable in "heads+BN" fine-tuning.
    pub weight: Param<Tensor<1>>,
    /// Affine shift `[C]`; trainable in "heads+BN" fine-tuning.
    pub bias: Param<Tensor<1>>,
    /// Running mean `[C]`; never trained.
    pub running_mean: Param<Tensor<1>>,
    /// Running variance `[C]`; never trained.
    pub running_var: Param<Tensor<1>>,
    /// Added to the variance (PyTorch's default 1e-5).
    pub eps: f64,
}

impl FrozenBatchNorm2d {
    /// Builds the layer from its four tensors. Statistics never require gradients; the affine
    /// parameters are frozen too until fine-tuning unfreezes them.
    pub fn new(
        weight: Tensor<1>,
        bias: Tensor<1>,
        running_mean: Tensor<1>,
        running_var: Tensor<1>,
        eps: f64,
    ) -> Self {
        let frozen = |t| Param::from_tensor(t).set_require_grad(false);
        Self {
            weight: frozen(weight),
            bias: frozen(bias),
            running_mean: frozen(running_mean),
            running_var: frozen(running_var),
            eps,
        }
    }

    /// Identity normalisation for `channels` channels (weight 1, bias 0, mean 0, variance 1).
    pub fn identity(channels: usize, device: &Device) -> Self {
        Self::new(
            Tensor::ones([channels], device),
            Tensor::zeros([channels], device),
            Tensor::zeros([channels], device),
            Tensor::ones([channels], device),
            1e-5,
        )
    }

    /// # Shapes
    /// - `x`: `[N, C, H, W]` -> `[N, C, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, channels, _, _] = x.dims();

        let inv_std = self.running_var.val().add_scalar(self.eps).sqrt().recip();
        let scale = self.weight.val() * inv_std;
        let shift = self.bias.val() - self.running_mean.val() * scale.clone();

        x * scale.reshape([1, channels, 1, 1]) + shift.reshape([1, channels, 1, 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_with_running_statistics() {
        let device = Device::default();
        let bn = FrozenBatchNorm2d::new(
            Tensor::from_floats([2.0, 1.0], &device),
            Tensor::from_floats([0.5, -1.0], &device),
            Tensor::from_floats([1.0, 0.0], &device),
            Tensor::from_floats([4.0, 0.25], &device),
            0.0,
        );
        let x = Tensor::<4>::from_floats([[[[3.0]], [[1.0]]]], &device);
        let y = bn.forward(x).into_data().try_into_vec_as::<f32>().unwrap();
        // (3 - 1) / 2 * 2 + 0.5 = 2.5 ; (1 - 0) / 0.5 * 1 - 1 = 1
        assert_eq!(y, vec![2.5, 1.0]);
    }
}
