//! Writing modules back as a [`StateDict`] under their checkpoint names, and choosing which
//! parameters train, both through the names a [`super::WeightLoader`] recorded.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::prelude::*;

use super::loader::{NamedParam, ParamNames};
use crate::error::ModelError;
use crate::importer::{RawTensor, StateDict};
use crate::readback::read_f32;

/// Collects every float parameter, flattened, with its checkpoint name.
struct Collect<'a> {
    names: &'a ParamNames,
    found: Vec<(NamedParam, Vec<usize>, Tensor<1>)>,
    unnamed: usize,
}

impl ModuleVisitor for Collect<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(named) = self.names.get(&param.id) else {
            self.unnamed += 1;
            return;
        };
        let mut tensor = param.val().without_autodiff();
        let mut shape = tensor.dims().to_vec();
        if named.transposed && D == 2 {
            tensor = tensor.transpose();
            shape.reverse();
        }
        let numel: usize = shape.iter().product();
        self.found
            .push((named.clone(), shape, tensor.reshape([numel])));
    }
}

/// Every parameter of `module` under its checkpoint name, in the checkpoint's layout.
///
/// Fails if a parameter has no recorded name (a module not built by a loader).
pub async fn export_state_dict<M: Module>(
    module: &M,
    names: &ParamNames,
) -> Result<StateDict, ModelError> {
    let mut collect = Collect {
        names,
        found: Vec::new(),
        unnamed: 0,
    };
    module.visit(&mut collect);
    if collect.unnamed > 0 {
        return Err(ModelError::UnsupportedConfig(format!(
            "{} parameters have no checkpoint name",
            collect.unnamed
        )));
    }
    let mut sd = StateDict::default();
    for (named, shape, tensor) in collect.found {
        let data = read_f32(tensor).await?;
        sd.tensors.insert(named.name, RawTensor { shape, data });
    }
    Ok(sd)
}

/// Sets which parameters require gradients by their checkpoint name.
struct Trainable<'a, F> {
    names: &'a ParamNames,
    predicate: F,
}

impl<F: Fn(&str) -> bool> ModuleMapper for Trainable<'_, F> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let train = self
            .names
            .get(&param.id)
            .is_some_and(|named| (self.predicate)(&named.name));
        param.set_require_grad(train)
    }
}

/// `module` with exactly the parameters whose name satisfies `predicate` trainable (the rest,
/// and any unnamed parameter, frozen). Takes effect on an autodiff device
/// ([`Module::train`]).
pub fn set_trainable<M: Module>(
    module: M,
    names: &ParamNames,
    predicate: impl Fn(&str) -> bool,
) -> M {
    module.map(&mut Trainable { names, predicate })
}

/// Whether `name` is a batch-norm statistic (`running_mean`, `running_var`), which never
/// trains in this project.
pub fn is_bn_statistic(name: &str) -> bool {
    name.ends_with(".running_mean") || name.ends_with(".running_var")
}

/// Whether `name` is an affine weight or bias of a backbone batch-norm layer (the paper's
/// "heads+BN" set: `bn*` layers and the shortcut's `downsample.1`).
pub fn is_backbone_bn_affine(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("backbone.body.") else {
        return false;
    };
    let layer_is_bn = rest
        .rsplit('.')
        .nth(1)
        .is_some_and(|layer| layer.starts_with("bn"))
        || rest.contains("downsample.1.");
    layer_is_bn && (rest.ends_with(".weight") || rest.ends_with(".bias"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_batch_norm_parameters() {
        assert!(is_backbone_bn_affine("backbone.body.bn1.weight"));
        assert!(is_backbone_bn_affine("backbone.body.layer2.0.bn3.bias"));
        assert!(is_backbone_bn_affine(
            "backbone.body.layer2.0.downsample.1.weight"
        ));
        assert!(!is_backbone_bn_affine(
            "backbone.body.layer2.0.bn3.running_mean"
        ));
        assert!(!is_backbone_bn_affine(
            "backbone.body.layer2.0.conv1.weight"
        ));
        assert!(!is_backbone_bn_affine(
            "backbone.body.layer2.0.downsample.0.weight"
        ));
        assert!(!is_backbone_bn_affine("backbone.fpn.inner_blocks.0.weight"));
        assert!(is_bn_statistic("backbone.body.bn1.running_var"));
        assert!(!is_bn_statistic("backbone.body.bn1.weight"));
    }
}
