//! Region proposal network: anchors, the shared convolutional head and proposal selection.

mod anchors;
mod head;
mod proposals;

use burn::config::Config;

pub use anchors::AnchorGenerator;
pub use head::{RpnHead, RpnLevelOutput};
pub use proposals::{Proposals, select_proposals};

/// Anchors and proposal selection of the RPN (the paper's values).
#[derive(Config, Debug)]
pub struct RpnConfig {
    /// Anchor sides in pixels, the same on every level.
    #[config(default = "vec![2.0, 4.0, 8.0, 16.0, 32.0]")]
    pub anchor_sizes: Vec<f32>,
    /// Anchor aspect ratios (height / width), the same on every level.
    #[config(default = "vec![0.1, 0.25, 0.5, 1.0, 1.5, 2.0]")]
    pub aspect_ratios: Vec<f32>,
    /// Proposals kept per level, by objectness logit, before NMS.
    #[config(default = 1000)]
    pub pre_nms_top_n: usize,
    /// Proposals kept in total after NMS.
    #[config(default = 1000)]
    pub post_nms_top_n: usize,
    /// IoU threshold of the per-level NMS.
    #[config(default = 0.75)]
    pub nms_thresh: f32,
    /// Boxes narrower or lower than this are dropped (0 keeps zero-width boxes).
    #[config(default = 0.0)]
    pub min_size: f32,
}

impl RpnConfig {
    /// The anchor generator of these sizes and aspect ratios.
    pub fn anchor_generator(&self) -> AnchorGenerator {
        AnchorGenerator::new(&self.anchor_sizes, &self.aspect_ratios)
    }

    /// Anchors per feature-map location (sizes x ratios; 30 for the paper).
    pub fn anchors_per_location(&self) -> usize {
        self.anchor_sizes.len() * self.aspect_ratios.len()
    }
}
