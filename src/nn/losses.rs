//! Loss functions of training and fine-tuning, on device tensors (differentiable).

use burn::prelude::*;
use burn::tensor::activation::log_softmax;

/// Mean binary cross-entropy of `logits` against `targets` in `[0, 1]`, computed stably as
/// `max(x, 0) - x t + ln(1 + e^{-|x|})`.
///
/// # Shapes
/// - `logits`, `targets`: `[N]` -> `[1]`
pub fn bce_with_logits(logits: Tensor<1>, targets: Tensor<1>) -> Tensor<1> {
    let positive_part = logits.clone().clamp_min(0.0);
    let soft = logits.clone().abs().neg().exp().log1p();
    (positive_part - logits * targets + soft).mean()
}

/// Sum of the smooth-L1 loss `0.5 d^2 / beta` for `|d| < beta`, `|d| - 0.5 beta` otherwise.
///
/// # Shapes
/// - `prediction`, `target`: `[N, 4]` -> `[1]`
pub fn smooth_l1_sum(prediction: Tensor<2>, target: Tensor<2>, beta: f32) -> Tensor<1> {
    let d = (prediction - target).abs();
    let quadratic = d.clone().powi_scalar(2).mul_scalar(0.5 / beta);
    let linear = d.clone().sub_scalar(0.5 * beta);
    let small = d.lower_elem(beta).float().detach();
    (linear.clone() + (quadratic - linear) * small).sum()
}

/// Mean cross-entropy of `logits` against class indices `labels`.
///
/// # Shapes
/// - `logits`: `[N, K]`, `labels`: `[N]` -> `[1]`
pub fn cross_entropy(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1> {
    let n = labels.dims()[0];
    log_softmax(logits, 1)
        .gather(1, labels.reshape([n, 1]))
        .neg()
        .mean()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(t: Tensor<1>) -> f32 {
        t.into_data().try_into_vec_as::<f32>().unwrap()[0]
    }

    #[test]
    fn losses_match_hand_computed_values() {
        let device = Device::default();
        let logits = Tensor::<1>::from_floats([0.0, 2.0, -3.0], &device);
        let targets = Tensor::<1>::from_floats([1.0, 0.0, 0.0], &device);
        // ln 2, 2 + ln(1 + e^-2), ln(1 + e^-3)
        let expected = (2f32.ln() + 2.0 + (-2f32).exp().ln_1p() + (-3f32).exp().ln_1p()) / 3.0;
        assert!((value(bce_with_logits(logits, targets)) - expected).abs() < 1e-6);

        let p = Tensor::<2>::from_floats([[0.0, 0.05, 1.0, -2.0]], &device);
        let t = Tensor::<2>::zeros([1, 4], &device);
        let beta = 0.1;
        let expected = 0.0 + 0.5 * 0.05 * 0.05 / beta + (1.0 - 0.05) + (2.0 - 0.05);
        assert!((value(smooth_l1_sum(p, t, beta)) - expected).abs() < 1e-5);

        let logits = Tensor::<2>::from_floats([[0.0, 0.0], [3.0, 1.0]], &device);
        let labels = Tensor::<1, Int>::from_ints([1, 0], &device);
        let expected = (2f32.ln() + (1.0 + (-2f32).exp()).ln()) / 2.0;
        assert!((value(cross_entropy(logits, labels)) - expected).abs() < 1e-6);
    }
}
