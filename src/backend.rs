//! Where the model runs: the CPU backend (`flex`, everywhere) or the GPU through wgpu
//! (Vulkan/Metal/DX12 natively, WebGPU in the browser; cargo feature `wgpu`).

use burn::prelude::Device;

use crate::error::ModelError;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::roi_heads::RoiAlignMode;

    #[test]
    fn the_cpu_backend_pools_on_the_host() {
        assert_eq!(RoiAlignMode::for_device(&cpu().device), RoiAlignMode::Host);
    }
}
