//! Proposal selection: per-level top-k on the device, then decoding, clipping and per-level NMS
//! on the few thousand survivors on the host.

use super::{AnchorGenerator, RpnConfig, RpnLevelOutput};
use crate::box_ops::{Box4, BoxCoder, batched_nms, clip};
use crate::error::ModelError;
use crate::readback::{read_f32, read_i64};

/// The RPN's output for one image, best first.
#[derive(Debug, Clone, Default)]
pub struct Proposals {
    /// Boxes in the resized-image frame.
    pub boxes: Vec<Box4>,
    /// Objectness logits (the authors' RPN never applies a sigmoid).
    pub objectness: Vec<f32>,
}

/// Candidates of one level after the top-k, before NMS.
struct LevelCandidates {
    boxes: Vec<Box4>,
    scores: Vec<f32>,
}

async fn level_candidates(
    level: RpnLevelOutput,
    anchors: &AnchorGenerator,
    config: &RpnConfig,
    padded_size: [usize; 2],
    image_size: [usize; 2],
) -> Result<LevelCandidates, ModelError> {
    let RpnLevelOutput {
        objectness,
        deltas,
        size: [h, w],
    } = level;
    let k = config.pre_nms_top_n.min(h * w * anchors.num_anchors());

    // Device: the k best logits and their deltas.
    let (scores, indices) = objectness.topk_with_indices(k, 0);
    let deltas = deltas.select(0, indices.clone());
    let scores = read_f32(scores).await?;
    let indices = read_i64(indices).await?;
    let deltas = read_f32(deltas).await?;

    // Host: decode against the anchors and clip to the unpadded image.
    let stride = [padded_size[0] / h, padded_size[1] / w];
    let coder = BoxCoder::new([1.0; 4]);
    let boxes = indices
        .iter()
        .zip(deltas.chunks_exact(4))
        .map(|(&index, d)| {
            let anchor = anchors.anchor_at(index as usize, w, stride);
            let decoded = coder.decode(&[d[0], d[1], d[2], d[3]], &anchor);
            clip(&decoded, image_size[0] as f32, image_size[1] as f32)
        })
        .collect();
    Ok(LevelCandidates { boxes, scores })
}

/// Selects the proposals of one image.
///
/// Per level: the `pre_nms_top_n` best anchors by objectness logit, decoded (coder weights 1),
/// clipped to `image_size`, boxes smaller than `min_size` dropped, NMS within the level; then the
/// `post_nms_top_n` best of all levels.
///
/// `padded_size` is the `[H, W]` of the network input (anchor strides derive from it) and
/// `image_size` the resized image inside it (boxes are clipped to it).
pub async fn select_proposals(
    levels: Vec<RpnLevelOutput>,
    anchors: &AnchorGenerator,
    config: &RpnConfig,
    padded_size: [usize; 2],
    image_size: [usize; 2],
) -> Result<Proposals, ModelError> {
    let mut boxes = Vec::new();
    let mut scores = Vec::new();
    let mut level_ids = Vec::new();
    for (level_id, level) in levels.into_iter().enumerate() {
        let candidates = level_candidates(level, anchors, config, padded_size, image_size).await?;
        for (b, s) in candidates.boxes.into_iter().zip(candidates.scores) {
            if b[2] - b[0] >= config.min_size && b[3] - b[1] >= config.min_size {
                boxes.push(b);
                scores.push(s);
                level_ids.push(level_id);
            }
        }
    }

    let mut keep = batched_nms(&boxes, &scores, &level_ids, config.nms_thresh);
    keep.truncate(config.post_nms_top_n);

    Ok(Proposals {
        boxes: keep.iter().map(|&i| boxes[i]).collect(),
        objectness: keep.iter().map(|&i| scores[i]).collect(),
    })
}
