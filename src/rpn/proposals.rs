//! Proposal selection: per level, the objectness logits and deltas are read back once, the
//! top-k, decoding, clipping and NMS run on the host.
//!
//! The top-k is on the host on every backend: reading back a level (about 4 MB at the finest)
//! costs little next to the convolutions before it, it needs no device sort (which Burn's
//! WebGPU backend cannot do in the browser), and one code path gives the same proposals on
//! every backend.

use super::{AnchorGenerator, RpnConfig, RpnLevelOutput};
use crate::box_ops::{Box4, BoxCoder, batched_nms, clip};
use crate::error::ModelError;
use crate::readback::read_f32;

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

    let logits = read_f32(objectness).await?;
    let all_deltas = read_f32(deltas).await?;
    if all_deltas.len() != logits.len() * 4 {
        return Err(ModelError::Device(format!(
            "RPN output sizes disagree: {} logits, {} deltas",
            logits.len(),
            all_deltas.len()
        )));
    }
    let indices = top_k(&logits, k);
    let scores: Vec<f32> = indices.iter().map(|&i| logits[i]).collect();
    let deltas: Vec<f32> = indices
        .iter()
        .flat_map(|&i| all_deltas[4 * i..4 * i + 4].iter().copied())
        .collect();

    // Host: decode against the anchors and clip to the unpadded image.
    let stride = [padded_size[0] / h, padded_size[1] / w];
    let coder = BoxCoder::new([1.0; 4]);
    let boxes = indices
        .iter()
        .zip(deltas.chunks_exact(4))
        .map(|(&index, d)| {
            let anchor = anchors.anchor_at(index, w, stride);
            let decoded = coder.decode(&[d[0], d[1], d[2], d[3]], &anchor);
            clip(&decoded, image_size[0] as f32, image_size[1] as f32)
        })
        .collect();
    Ok(LevelCandidates { boxes, scores })
}

/// Indices of the `k` largest values, largest first; ties (and NaNs, last) by index.
fn top_k(values: &[f32], k: usize) -> Vec<usize> {
    let by_value = |&i: &usize, &j: &usize| values[j].total_cmp(&values[i]).then(i.cmp(&j));
    let mut order: Vec<usize> = (0..values.len()).collect();
    let k = k.min(order.len());
    if k < order.len() && k > 0 {
        order.select_nth_unstable_by(k - 1, by_value);
    }
    order.truncate(k);
    order.sort_unstable_by(by_value);
    order
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

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_keeps_the_largest_in_order_and_breaks_ties_by_index() {
        let values = [0.5, 3.0, -1.0, 3.0, 2.0, f32::NEG_INFINITY, 7.0];
        assert_eq!(top_k(&values, 4), [6, 1, 3, 4]);
        assert_eq!(top_k(&values, 1), [6]);
        assert_eq!(top_k(&values, 0), Vec::<usize>::new());
        assert_eq!(top_k(&values, 99), [6, 1, 3, 4, 0, 2, 5]);
    }
}
