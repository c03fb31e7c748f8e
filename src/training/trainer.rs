//! The segmentation training loop's state: trainable modules on an autodiff device, Adam, and
//! the parameters' checkpoint names for writing the result back.

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};

use super::config::SegmentationTrainingConfig;
use super::step::{LossTerms, SegmentationModules, TrainingExample, segmentation_losses};
use crate::config::SegmentationConfig;
use crate::error::ModelError;
use crate::importer::StateDict;
use crate::mask_head::MaskHead;
use crate::model::{Detector, SplitMix};
use crate::rpn::AnchorGenerator;
use crate::weights::{ParamNames, WeightLoader, export_state_dict, is_bn_statistic, set_trainable};
use burn::prelude::Device;

/// Everything one segmentation training run holds.
pub struct SegmentationTrainer {
    modules: Option<SegmentationModules>,
    names: ParamNames,
    optimizer: ModuleOptimizer,
    model: SegmentationConfig,
    train: SegmentationTrainingConfig,
    anchors: AnchorGenerator,
    rng: SplitMix,
    /// Optimiser steps taken so far by this trainer.
    pub steps: usize,
}

impl SegmentationTrainer {
    /// A trainer starting from `weights` (a segmentation model of `model`'s architecture) on
    /// `device`. Every parameter trains except the batch-norm statistics.
    pub fn new(
        weights: &StateDict,
        model: SegmentationConfig,
        train: SegmentationTrainingConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let w = WeightLoader::new(weights, device);
        let detector = Detector::load(&w, &model.detector)?;
        let mask_head = MaskHead::load(
            &w,
            "roi_heads",
            model.detector.fpn_channels,
            &model.detector.roi_heads,
        );
        let names = w.param_names();
        w.finish(&["s2new."])?;

        let modules = SegmentationModules {
            detector: detector.modules,
            mask_head,
        };
        let modules = set_trainable(modules, &names, |name| !is_bn_statistic(name)).train();
        let optimizer = crate::nn::adam(train.weight_decay);
        Ok(Self {
            modules: Some(modules),
            names,
            optimizer,
            anchors: model.detector.rpn.anchor_generator(),
            rng: SplitMix::new(train.seed ^ 0x5EED),
            model,
            train,
            steps: 0,
        })
    }

    fn modules(&self) -> &SegmentationModules {
        self.modules
            .as_ref()
            .expect("modules are only taken during a step")
    }

    /// The losses of `example` without updating anything.
    pub async fn losses(&mut self, example: &TrainingExample) -> Result<LossTerms, ModelError> {
        let modules = self
            .modules
            .as_ref()
            .expect("modules are present between steps");
        segmentation_losses(
            modules,
            &self.model,
            &self.train,
            &self.anchors,
            example,
            &mut self.rng,
        )
        .await
    }

    /// One Adam step on `example`; returns the five losses before the step.
    pub async fn step(&mut self, example: &TrainingExample) -> Result<[f32; 5], ModelError> {
        let losses = self.losses(example).await?;
        let values = losses.values().await?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::Device(format!(
                "training diverged: non-finite loss {values:?}"
            )));
        }
        let gradients = losses.total().backward();
        let modules = self
            .modules
            .take()
            .expect("modules are present between steps");
        let gradients = GradientsParams::from_grads(gradients, &modules);
        self.modules = Some(
            self.optimizer
                .step(self.train.learning_rate, modules, gradients),
        );
        self.steps += 1;
        Ok(values)
    }

    /// The current weights under the authors' names (a segmentation checkpoint).
    pub async fn state_dict(&self) -> Result<StateDict, ModelError> {
        export_state_dict(&self.modules().clone().valid(), &self.names).await
    }

    /// The model's hyper-parameters.
    pub fn model_config(&self) -> &SegmentationConfig {
        &self.model
    }
}
