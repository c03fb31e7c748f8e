//! End-to-end parity with the authors' implementation: from the PNG to S's logits.
//!
//! Rows of S's input whose scores are tied to within float32 noise may legitimately come out
//! in the other order (see `common::align_to_oracle`). The test checks S's logits both as
//! computed and with such tied rows put back in the oracle's order, which must match within
//! the end-to-end tolerance; without a tie swap, the logits as computed must match.

mod common;

/// End-to-end tolerance of S's logits.
const LOGIT_TOL: f32 = 5e-3;

use common::*;
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::pipeline::classification_input;
use ct_mask_net::transform::TransformConfig;

fn argmax(v: &[f32]) -> usize {
    (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap()
}

#[test]
fn classifier_logits_match_the_oracle() {
    let Some(dir) = oracle_dir() else { return };
    let model = classification_model();
    for (id, file) in INPUTS {
        let image = decode_slice(&std::fs::read(dir.join("inputs").join(file)).unwrap()).unwrap();
        let input = classification_input(&image, &TransformConfig::default(), &device());
        let result = pollster::block_on(model.run(&input)).unwrap();
        let c = dir.join("classification").join(id);
        let (_, expected) = npy_f32(&c.join("s_logits.npy"));
        let (_, oracle_rows) = npy_f32(&c.join("ranked_boxes.npy"));

        let (aligned, swaps) = align_to_oracle(id, &result.ranked_boxes, &oracle_rows);
        let aligned_logits =
            pollster::block_on(model.classify_ranked(&aligned, &device())).unwrap();
        let got = result.prediction.s_logits;
        let raw_diff = max_abs_diff(&got, &expected);
        let aligned_diff = max_abs_diff(&aligned_logits, &expected);
        println!(
            "{id}: logits {got:?}, oracle {expected:?}; |diff| {raw_diff:.2e} as computed, \
             {aligned_diff:.2e} with {swaps} near-tied row pair(s) in the oracle's order; \
             ranked rows within {:.2e} after alignment",
            max_abs_diff(&aligned, &oracle_rows)
        );
        assert!(
            aligned_diff <= LOGIT_TOL,
            "{id}: logits differ by {aligned_diff}"
        );
        if swaps == 0 {
            assert!(raw_diff <= LOGIT_TOL, "{id}: logits differ by {raw_diff}");
        }
        assert_eq!(
            argmax(&got),
            argmax(&expected),
            "{id}: predicted class differs"
        );
        assert!(!result.padded, "{id}: the oracle needed no padding");
    }
}
