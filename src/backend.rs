//! Where the model runs: the CPU backend (`flex`, everywhere) or the GPU through wgpu
//! (Vulkan/Metal/DX12 natively, WebGPU in the browser; cargo feature `wgpu`).

use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;

use crate::error::ModelError;
use crate::readback::read_f32;

/// A compute device and what it is, for display.
#[derive(Debug, Clone)]
pub struct ComputeDevice {
    /// The device tensors are created on.
    pub device: Device,
    /// `"cpu"` or `"gpu"`.
    pub kind: &'static str,
}

/// The CPU backend: always available.
pub fn cpu() -> ComputeDevice {
    ComputeDevice {
        device: Device::flex(),
        kind: "cpu",
    }
}

/// The GPU through wgpu, initialised asynchronously (as the browser requires). Fails with a
/// plain message when no adapter is available.
#[cfg(feature = "wgpu")]
pub async fn gpu() -> Result<ComputeDevice, ModelError> {
    let device = Device::wgpu_options()
        .init_async()
        .await
        .map_err(|e| ModelError::Device(format!("no usable GPU adapter ({e})")))?;
    Ok(ComputeDevice {
        device,
        kind: "gpu",
    })
}

/// Without the `wgpu` feature there is no GPU backend.
#[cfg(not(feature = "wgpu"))]
pub async fn gpu() -> Result<ComputeDevice, ModelError> {
    Err(ModelError::Device(
        "this build has no GPU backend (rebuild with the `wgpu` feature)".into(),
    ))
}

/// Largest difference [`self_test`] accepts between a device and the CPU backend, relative to
/// the largest value (float32 with a different summation order stays far below it).
const SELF_TEST_TOLERANCE: f32 = 1e-3;

/// Checks that `device` computes what the CPU backend computes on a small convolution, ReLU and
/// matrix product (a broken or emulated adapter can return zeros or garbage without failing).
/// Returns the largest relative difference.
pub async fn self_test(device: &Device) -> Result<f32, ModelError> {
    let expected = probe(&cpu().device).await?;
    let got = probe(device).await?;
    let scale = expected.iter().fold(1e-6f32, |m, v| m.max(v.abs()));
    let worst = expected
        .iter()
        .zip(&got)
        .map(|(a, b)| (a - b).abs() / scale)
        .fold(
            0.0f32,
            |m, d| if d.is_nan() { f32::INFINITY } else { m.max(d) },
        );
    if got.len() != expected.len() || worst > SELF_TEST_TOLERANCE {
        return Err(ModelError::Device(format!(
            "the GPU computed wrong results in a self-test (difference {worst:.1e} of the \
             largest value)"
        )));
    }
    Ok(worst)
}

/// Deterministic values in [-1, 1).
fn pattern(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5) - 1.0)
        .collect()
}

/// conv2d 3x3 (padding 1) of a [1, 3, 12, 12] input with 4 filters, ReLU, then a [4, 144] x
/// [144, 5] product: 20 values.
async fn probe(device: &Device) -> Result<Vec<f32>, ModelError> {
    let x = Tensor::<1>::from_floats(pattern(3 * 12 * 12, 1).as_slice(), device)
        .reshape([1, 3, 12, 12]);
    let w = Tensor::<1>::from_floats(pattern(4 * 3 * 3 * 3, 2).as_slice(), device)
        .reshape([4, 3, 3, 3]);
    let b = Tensor::<1>::from_floats(pattern(4, 3).as_slice(), device);
    let y = conv2d(x, w, Some(b), ConvOptions::new([1, 1], [1, 1], [1, 1], 1))
        .clamp_min(0.0)
        .reshape([4, 144]);
    let z = Tensor::<1>::from_floats(pattern(144 * 5, 4).as_slice(), device).reshape([144, 5]);
    read_f32(y.matmul(z)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roi_heads::RoiAlignMode;

    #[test]
    fn the_cpu_backend_pools_on_the_host() {
        assert_eq!(RoiAlignMode::for_device(&cpu().device), RoiAlignMode::Host);
    }

    #[test]
    fn the_self_test_passes_on_the_cpu_and_its_probe_is_not_trivial() {
        let device = cpu().device;
        assert_eq!(pollster::block_on(self_test(&device)).unwrap(), 0.0);
        let values = pollster::block_on(probe(&device)).unwrap();
        assert_eq!(values.len(), 20);
        // Not all zero, and not all clipped by the ReLU to one value.
        let distinct = values
            .iter()
            .filter(|v| (*v - values[0]).abs() > 1e-3)
            .count();
        assert!(distinct > 10, "{values:?}");
    }
}
