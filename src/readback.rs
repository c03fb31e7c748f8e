//! Asynchronous device-to-host reads, the only way results leave the device (the browser
//! forbids synchronous GPU read-backs).

use burn::prelude::*;

use crate::error::ModelError;

fn device_error(e: impl std::fmt::Debug) -> ModelError {
    ModelError::Device(format!("{e:?}"))
}

/// Reads a float tensor into a row-major `Vec<f32>`.
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ModelError> {
    let data = tensor.into_data_async().await.map_err(device_error)?;
    data.try_into_vec_as::<f32>().map_err(device_error)
}
