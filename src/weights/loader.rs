//! [`WeightLoader`]: hands named tensors to the module constructors and checks the architecture.
//!
//! Every constructor asks the loader for the tensors it needs, by the authors' (canonical) name
//! and with the shape the configuration implies. The loader records each request, so the list of
//! requests *is* the architecture: after construction, [`WeightLoader::finish`] compares it with
//! the checkpoint and reports every missing, unexpected or mis-shaped tensor at once.

use std::cell::RefCell;

use burn::module::{Param, ParamId};
use burn::nn::conv::{Conv2d, ConvTranspose2d};
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;

use crate::importer::{ImportError, StateDict};
use crate::nn::FrozenBatchNorm2d;

/// Eps of every batch-norm layer of the authors' ResNet (PyTorch default).
const BN_EPS: f64 = 1e-5;

/// Source of named tensors for module construction.
pub struct WeightLoader<'a> {
    weights: &'a StateDict,
    device: Device,
    requested: RefCell<Vec<(String, Vec<usize>)>>,
    params: RefCell<ParamNames>,
}

impl<'a> WeightLoader<'a> {
    /// A loader that places tensors on `device`.
    pub fn new(weights: &'a StateDict, device: &Device) -> Self {
        Self {
            weights,
            device: device.clone(),
            requested: RefCell::new(Vec::new()),
            params: RefCell::new(ParamNames::default()),
        }
    }

    /// The device tensors are created on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The raw values of `name`, if present with `shape`; records the request either way.
    pub fn values(&self, name: &str, shape: &[usize]) -> Option<&'a [f32]> {
        self.requested
            .borrow_mut()
            .push((name.to_string(), shape.to_vec()));
        self.weights
            .tensors
            .get(name)
            .filter(|t| t.shape == shape)
            .map(|t| t.data.as_slice())
    }

    /// Tensor `name` of `shape`; zeros when absent or mis-shaped (reported by [`Self::finish`]).
    pub fn tensor<const D: usize>(&self, name: &str, shape: [usize; D]) -> Tensor<D> {
        match self.values(name, &shape) {
            Some(values) => {
                Tensor::from_data(TensorData::new(values.to_vec(), shape), &self.device)
            }
            None => Tensor::zeros(shape, &self.device),
        }
    }

    /// Parameter `name` of `shape`, remembered by id so the trained module can be written back
    /// under the same name ([`ParamNames`]).
    fn param<const D: usize>(&self, name: &str, shape: [usize; D]) -> Param<Tensor<D>> {
        let param = Param::from_tensor(self.tensor(name, shape));
        self.params.borrow_mut().insert(param.id, name, false);
        param
    }

    /// A PyTorch `Linear(d_in, d_out)` stored as `weight [out, in]`, `bias [out]`.
    pub fn linear(&self, prefix: &str, d_in: usize, d_out: usize) -> Linear {
        let name = format!("{prefix}.weight");
        let weight = Param::from_tensor(self.tensor(&name, [d_out, d_in]).transpose());
        self.params.borrow_mut().insert(weight.id, &name, true);
        Linear {
            weight,
            bias: Some(self.param(&format!("{prefix}.bias"), [d_out])),
        }
    }

    /// A square `Conv2d` with symmetric padding; weight `[out, in, k, k]`.
    pub fn conv2d(&self, prefix: &str, spec: ConvSpec) -> Conv2d {
        let ConvSpec {
            channels: [c_in, c_out],
            kernel,
            stride,
            padding,
            bias,
        } = spec;
        let weight = self.param(&format!("{prefix}.weight"), [c_out, c_in, kernel, kernel]);
        let bias = bias.then(|| self.param(&format!("{prefix}.bias"), [c_out]));
        Conv2d {
            weight,
            bias,
            stride: [stride, stride],
            kernel_size: [kernel, kernel],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Explicit(padding, padding, padding, padding),
        }
    }

    /// A `ConvTranspose2d` with bias; PyTorch weight layout `[in, out, k, k]`.
    pub fn conv_transpose2d(
        &self,
        prefix: &str,
        channels: [usize; 2],
        kernel: usize,
        stride: usize,
    ) -> ConvTranspose2d {
        let [c_in, c_out] = channels;
        let weight = self.param(&format!("{prefix}.weight"), [c_in, c_out, kernel, kernel]);
        let bias = self.param(&format!("{prefix}.bias"), [c_out]);
        ConvTranspose2d {
            weight,
            bias: Some(bias),
            stride: [stride, stride],
            kernel_size: [kernel, kernel],
            dilation: [1, 1],
            groups: 1,
            padding: [0, 0],
            padding_out: [0, 0],
            channels,
        }
    }

    /// A batch-norm layer with frozen statistics (`weight`, `bias`, `running_mean`, `running_var`).
    pub fn batch_norm(&self, prefix: &str, channels: usize) -> FrozenBatchNorm2d {
        let get = |field: &str| self.tensor(&format!("{prefix}.{field}"), [channels]);
        let bn = FrozenBatchNorm2d::new(
            get("weight"),
            get("bias"),
            get("running_mean"),
            get("running_var"),
            BN_EPS,
        );
        let mut params = self.params.borrow_mut();
        for (param, field) in [
            (&bn.weight, "weight"),
            (&bn.bias, "bias"),
            (&bn.running_mean, "running_mean"),
            (&bn.running_var, "running_var"),
        ] {
            params.insert(param.id, &format!("{prefix}.{field}"), false);
        }
        bn
    }

    /// The canonical name of every parameter built so far.
    pub fn param_names(&self) -> ParamNames {
        self.params.borrow().clone()
    }

    /// The tensors requested so far with their shapes, in request order.
    pub fn requested(&self) -> Vec<(String, Vec<usize>)> {
        self.requested.borrow().clone()
    }

    /// Checks that the checkpoint held exactly the requested tensors with the requested shapes.
    ///
    /// `ignore_prefixes` names checkpoint entries that belong to another model sharing the file
    /// (for example the mask branch when only the classifier is built).
    pub fn finish(self, ignore_prefixes: &[&str]) -> Result<(), ImportError> {
        let mut expected = self.requested.into_inner();
        let ignored = self
            .weights
            .tensors
            .iter()
            .filter(|(name, _)| ignore_prefixes.iter().any(|p| name.starts_with(p)))
            .map(|(name, tensor)| (name.clone(), tensor.shape.clone()));
        expected.extend(ignored);
        self.weights.check_architecture(&expected)
    }
}

/// The canonical (checkpoint) name of each parameter of modules built by a [`WeightLoader`],
/// keyed by parameter id (ids survive training steps), so trained modules can be written back in
/// the checkpoint's layout.
#[derive(Debug, Clone, Default)]
pub struct ParamNames {
    by_id: std::collections::HashMap<ParamId, NamedParam>,
}

/// One parameter's checkpoint name and layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedParam {
    /// Canonical name, e.g. `backbone.body.layer1.0.bn1.weight`.
    pub name: String,
    /// Stored transposed relative to the checkpoint (`Linear` weights: Burn `[in, out]`,
    /// PyTorch `[out, in]`).
    pub transposed: bool,
}

impl ParamNames {
    fn insert(&mut self, id: ParamId, name: &str, transposed: bool) {
        let name = name.to_string();
        self.by_id.insert(id, NamedParam { name, transposed });
    }

    /// The name of parameter `id`, if a loader built it.
    pub fn get(&self, id: &ParamId) -> Option<&NamedParam> {
        self.by_id.get(id)
    }

    /// Number of named parameters.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether no parameter is named.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Adds every name of `other` (the parts of a model built by separate loaders).
    pub fn extend(&mut self, other: ParamNames) {
        self.by_id.extend(other.by_id);
    }
}

/// Geometry of a square convolution.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    /// `[in, out]` channels.
    pub channels: [usize; 2],
    /// Kernel side.
    pub kernel: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Zero padding (all sides).
    pub padding: usize,
    /// Whether the convolution has a bias.
    pub bias: bool,
}

impl ConvSpec {
    /// A bias-free convolution, as in the ResNet body.
    pub fn no_bias(channels: [usize; 2], kernel: usize, stride: usize, padding: usize) -> Self {
        Self {
            channels,
            kernel,
            stride,
            padding,
            bias: false,
        }
    }

    /// A convolution with bias, as in the FPN, RPN and mask head.
    pub fn with_bias(channels: [usize; 2], kernel: usize, stride: usize, padding: usize) -> Self {
        Self {
            channels,
            kernel,
            stride,
            padding,
            bias: true,
        }
    }
}
