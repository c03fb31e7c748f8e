//! The network input of one image.

use burn::prelude::*;

/// A pre-processed image on the device with the sizes the post-processing needs.
#[derive(Debug, Clone)]
pub struct ModelInput {
    /// `[1, 3, H_pad, W_pad]` normalised, resized, zero-padded image.
    pub tensor: Tensor<4>,
    /// `[H_pad, W_pad]`: anchor strides derive from it.
    pub padded: [usize; 2],
    /// `[H, W]` of the resized image inside the padding: boxes are clipped to it.
    pub resized: [usize; 2],
    /// `[H, W]` of the image as decoded: detections are reported in it.
    pub original: [usize; 2],
}

impl ModelInput {
    /// Uploads `data` (`[3, H_pad, W_pad]` row-major) to `device`.
    pub fn new(
        data: Vec<f32>,
        padded: [usize; 2],
        resized: [usize; 2],
        original: [usize; 2],
        device: &Device,
    ) -> Self {
        let tensor = Tensor::from_data(TensorData::new(data, [1, 3, padded[0], padded[1]]), device);
        Self {
            tensor,
            padded,
            resized,
            original,
        }
    }
}
