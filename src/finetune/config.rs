//! Hyper-parameters of fine-tuning module S; defaults are the paper's.

use burn::config::Config;

/// Fine-tuning S (and, in "heads+BN" mode, the backbone's batch-norm affine weights).
#[derive(Config, Debug)]
pub struct FinetuneConfig {
    /// Adam learning rate.
    #[config(default = 1e-5)]
    pub learning_rate: f64,
    /// Adam weight decay (L2 added to the gradient, as PyTorch's Adam).
    #[config(default = 1e-3)]
    pub weight_decay: f64,
    /// Images per optimiser step.
    #[config(default = 8)]
    pub batch_size: usize,
    /// Epochs.
    #[config(default = 50)]
    pub epochs: usize,
    /// Seed of the batch order.
    #[config(default = 0)]
    pub seed: u64,
}
