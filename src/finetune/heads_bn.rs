//! "heads+BN" fine-tuning (the paper's best): module S plus the affine weight and bias of the
//! backbone's batch-norm layers, with batch-norm statistics and every other detector weight
//! frozen. The loss back-propagates through S's input (the ranked scores and raw box deltas)
//! into the box branch, the RoIAlign and the backbone; proposal selection and ranking are
//! discrete and pass no gradient, as in the original.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use burn::tensor::activation::softmax;

use super::config::FinetuneConfig;
use super::heads::Evaluation;
use crate::box_ops::BoxCoder;
use crate::classifier::ModuleS;
use crate::config::ClassificationConfig;
use crate::error::ModelError;
use crate::importer::StateDict;
use crate::model::{Detector, DetectorModules, ModelInput, SplitMix};
use crate::nn::losses::bce_with_logits;
use crate::readback::read_f32;
use crate::roi_heads::{Detections, RoiAlignMode, postprocess_detections};
use crate::rpn::{AnchorGenerator, select_proposals};
use crate::weights::{
    ParamNames, WeightLoader, export_state_dict, is_backbone_bn_affine, set_trainable,
};

/// The classifier's layers: detector and S.
#[derive(Module, Debug)]
pub struct ClassifierModules {
    /// Backbone, FPN, RPN head and box branch.
    pub detector: DetectorModules,
    /// Module S.
    pub s: ModuleS,
}

/// S's `[1, N, 5]` input gathered from the box branch's device outputs, so gradients reach
/// them: row `i` holds the softmax score and the raw regression of the class of detection
/// `d(i)` (the ranking and padding rule of [`crate::classifier::ranked_boxes`]).
///
/// # Shapes
/// - `class_logits`: `[R, K]`, `box_regression`: `[R, 4K]` -> `[1, N, 5]`
pub fn ranked_tensor(
    class_logits: Tensor<2>,
    box_regression: Tensor<2>,
    detections: &Detections,
    n_rows: usize,
) -> Tensor<3> {
    let device = class_logits.device();
    let [r, k] = class_logits.dims();
    let n = detections.len();
    if n == 0 {
        return Tensor::zeros([1, n_rows, 5], &device);
    }
    let mut score_index = Vec::with_capacity(n_rows);
    let mut delta_index = Vec::with_capacity(n_rows * 4);
    for i in 0..n_rows {
        let d = if n >= n_rows { i } else { i * n / n_rows };
        let (p, c) = (detections.proposal_index[d], detections.labels[d]);
        score_index.push((p * k + c) as i64);
        delta_index.extend((0..4).map(|j| (p * 4 * k + 4 * c + j) as i64));
    }
    let index = |v: Vec<i64>| {
        let len = v.len();
        Tensor::<1, Int>::from_data(TensorData::new(v, [len]), &device)
    };
    let scores = softmax(class_logits, 1)
        .reshape([r * k])
        .select(0, index(score_index))
        .reshape([n_rows, 1]);
    let deltas = box_regression
        .reshape([r * 4 * k])
        .select(0, index(delta_index))
        .reshape([n_rows, 4]);
    Tensor::cat(vec![scores, deltas], 1).reshape([1, n_rows, 5])
}

/// S's logits `[1, 3]` for one image, differentiable with respect to every detector weight
/// on the way (used with only the batch-norm affine weights trainable).
pub async fn classifier_logits(
    modules: &ClassifierModules,
    config: &ClassificationConfig,
    anchors: &AnchorGenerator,
    input: &ModelInput,
) -> Result<Tensor<2>, ModelError> {
    let detector = &modules.detector;
    let features = detector.features(input.tensor.clone());
    let levels = features
        .iter()
        .map(|f| detector.rpn_head.forward(f.clone()).detach())
        .collect();
    let rpn = &config.detector.rpn;
    let proposals = select_proposals(levels, anchors, rpn, input.padded, input.resized).await?;

    let roi = &config.detector.roi_heads;
    let (class_logits, box_regression) = detector
        .box_outputs(
            &features,
            &proposals.boxes,
            input.resized,
            roi,
            RoiAlignMode::Device,
        )
        .await?;
    let detections = postprocess_detections(
        &proposals.boxes,
        &read_f32(class_logits.clone().without_autodiff()).await?,
        &read_f32(box_regression.clone().without_autodiff()).await?,
        roi.num_classes,
        &BoxCoder::new(roi.box_coder_weights),
        input.resized,
        &config.detections,
    );
    let ranked = ranked_tensor(
        class_logits,
        box_regression,
        &detections,
        config.classifier.num_detections,
    );
    Ok(modules.s.forward(ranked))
}

/// The classifier on an autodiff device with Adam, S and the batch-norm affine weights
/// trainable.
pub struct HeadsBnTrainer {
    modules: Option<ClassifierModules>,
    names: ParamNames,
    optimizer: ModuleOptimizer,
    model: ClassificationConfig,
    config: FinetuneConfig,
    anchors: AnchorGenerator,
    rng: SplitMix,
    device: Device,
}

impl HeadsBnTrainer {
    /// Starts from a classifier checkpoint.
    pub fn new(
        weights: &StateDict,
        model: ClassificationConfig,
        config: FinetuneConfig,
        device: &Device,
    ) -> Result<Self, ModelError> {
        let w = WeightLoader::new(weights, device);
        let detector = Detector::load(&w, &model.detector)?;
        let s = ModuleS::load(&w, "s2new", &model.classifier);
        let names = w.param_names();
        w.finish(&["roi_heads.mask_"])?;
        let modules = ClassifierModules {
            detector: detector.modules,
            s,
        };
        let modules = set_trainable(modules, &names, |name| {
            name.starts_with("s2new.") || is_backbone_bn_affine(name)
        })
        .train();
        let optimizer = crate::nn::adam(config.weight_decay);
        Ok(Self {
            modules: Some(modules),
            names,
            optimizer,
            anchors: model.detector.rpn.anchor_generator(),
            model,
            rng: SplitMix::new(config.seed ^ 0xB7_0E),
            config,
            device: device.clone(),
        })
    }

    fn modules(&self) -> &ClassifierModules {
        self.modules
            .as_ref()
            .expect("modules are present between steps")
    }

    /// One optimiser step over a batch: each image's loss back-propagated on its own (one
    /// detector graph in memory at a time), gradients averaged. Returns the mean loss.
    pub async fn step(
        &mut self,
        inputs: &[ModelInput],
        labels: &[usize],
    ) -> Result<f32, ModelError> {
        let modules = self
            .modules
            .take()
            .expect("modules are present between steps");
        let mut accumulator = GradientsAccumulator::<ClassifierModules>::new();
        let mut total = 0.0f32;
        let classes = self.model.classifier.num_classes;
        for (input, &label) in inputs.iter().zip(labels) {
            let logits = match classifier_logits(&modules, &self.model, &self.anchors, input).await
            {
                Ok(l) => l,
                Err(e) => {
                    self.modules = Some(modules);
                    return Err(e);
                }
            };
            let mut target = vec![0.0; classes];
            target[label] = 1.0;
            let target = Tensor::from_data(TensorData::new(target, [classes]), &self.device);
            let loss =
                bce_with_logits(logits.reshape([classes]), target).div_scalar(inputs.len() as f32);
            total += read_f32(loss.clone().without_autodiff()).await?[0];
            accumulator.accumulate(
                &modules,
                GradientsParams::from_grads(loss.backward(), &modules),
            );
        }
        if !total.is_finite() {
            self.modules = Some(modules);
            return Err(ModelError::Device(format!(
                "fine-tuning diverged: the loss is {total}"
            )));
        }
        let grads = accumulator.grads();
        self.modules = Some(
            self.optimizer
                .step(self.config.learning_rate, modules, grads),
        );
        Ok(total)
    }

    /// One epoch in batches of the configured size, in a seeded random order; `input` builds an
    /// image's network input when it is needed (images are not all kept on the device).
    pub async fn epoch(
        &mut self,
        count: usize,
        labels: &[usize],
        input: impl Fn(usize) -> ModelInput,
    ) -> Result<f32, ModelError> {
        let mut order: Vec<usize> = (0..count).collect();
        self.rng.shuffle(&mut order);
        let mut total = 0.0f64;
        for chunk in order.chunks(self.config.batch_size.max(1)) {
            let inputs: Vec<ModelInput> = chunk.iter().map(|&i| input(i)).collect();
            let chunk_labels: Vec<usize> = chunk.iter().map(|&i| labels[i]).collect();
            total += self.step(&inputs, &chunk_labels).await? as f64 * chunk.len() as f64;
        }
        Ok((total / count.max(1) as f64) as f32)
    }

    /// Loss, confusion matrix and logits of the current model (no gradients).
    pub async fn evaluate(
        &self,
        count: usize,
        labels: &[usize],
        input: impl Fn(usize) -> ModelInput,
    ) -> Result<Evaluation, ModelError> {
        let modules = self.modules().clone().valid();
        let classes = self.model.classifier.num_classes;
        let count = count.min(labels.len());
        let mut logits = Vec::with_capacity(count * classes);
        for i in 0..count {
            let row = classifier_logits(&modules, &self.model, &self.anchors, &input(i)).await?;
            logits.extend(read_f32(row).await?);
        }
        Ok(Evaluation::of_logits(logits, &labels[..count], classes))
    }

    /// Every tensor of the classifier as it is now (a classifier checkpoint).
    pub async fn state_dict(&self) -> Result<StateDict, ModelError> {
        export_state_dict(&self.modules().clone().valid(), &self.names).await
    }
}
