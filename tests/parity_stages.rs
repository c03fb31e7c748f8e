//! Stage-by-stage parity with the authors' implementation, injecting the oracle's inputs into
//! each stage (tolerances from `../shared/oracle/README.md` §9).

mod common;

use burn::prelude::*;
use common::*;
use ct_mask_net::box_ops::Box4;
use ct_mask_net::model::ModelInput;
use ct_mask_net::roi_heads::{RoiAlignMode, multiscale_roi_align};

/// The oracle's transformed input of `id` as a model input (`model` is `segmentation` or
/// `classification`).
fn oracle_input(model: &str, id: &str, original: [usize; 2]) -> ModelInput {
    let dir = oracle_dir().unwrap();
    let (shape, data) = npy_f32(&dir.join(model).join(id).join("transformed_input.npy"));
    let padded = [shape[2], shape[3]];
    // The unpadded size: 512 on the short side.
    let resized = if original[0] <= original[1] {
        [
            512,
            (original[1] as f64 * 512.0 / original[0] as f64) as usize,
        ]
    } else {
        [
            (original[0] as f64 * 512.0 / original[1] as f64) as usize,
            512,
        ]
    };
    ModelInput::new(data, padded, resized, original, &device())
}

fn boxes(values: &[f32]) -> Vec<Box4> {
    values
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

fn read(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_into_vec_as::<f32>().unwrap()
}

#[test]
fn fpn_levels_match() {
    let Some(dir) = oracle_dir() else { return };
    let dir = dir.join("segmentation/synthetic_01");
    let model = segmentation_model();
    let input = oracle_input("segmentation", "synthetic_01", [512, 512]);
    let features = model.detector.features(input.tensor);

    for (level, file) in [(2, "fpn_2.npy"), (3, "fpn_3.npy")] {
        let (_, expected) = npy_f32(&dir.join(file));
        let got = read(features[level].clone());
        let rel = max_abs_diff(&got, &expected) / max_abs(&expected);
        println!("P{}: max |diff| / max |x| = {rel:.2e}", level + 2);
        assert!(rel <= 3e-5, "P{} rel diff {rel}", level + 2);
    }
    for (level, file) in [(0, "fpn_0_first8ch.npy"), (1, "fpn_1_first8ch.npy")] {
        let (_, expected) = npy_f32(&dir.join(file));
        let got = read(features[level].clone().narrow(1, 0, 8));
        let rel = max_abs_diff(&got, &expected) / max_abs(&expected);
        println!("P{} ch 0-7: max |diff| / max |x| = {rel:.2e}", level + 2);
        assert!(rel <= 3e-5, "P{} rel diff {rel}", level + 2);
    }
}

#[test]
fn rpn_head_matches() {
    let Some(dir) = oracle_dir() else { return };
    let dir = dir.join("segmentation/synthetic_01");
    let model = segmentation_model();
    let (shape, p4) = npy_f32(&dir.join("fpn_2.npy"));
    let (shape5, p5) = npy_f32(&dir.join("fpn_3.npy"));
    for (level, (shape, data)) in [(2, (shape, p4)), (3, (shape5, p5))] {
        let feature = Tensor::<4>::from_data(
            TensorData::new(data, [shape[0], shape[1], shape[2], shape[3]]),
            &device(),
        );
        let (objectness, deltas) = model.detector.modules.rpn_head.forward_raw(feature);
        let (_, exp_obj) = npy_f32(&dir.join(format!("rpn_head_objectness_level{level}.npy")));
        let (_, exp_del) = npy_f32(&dir.join(format!("rpn_head_bbox_deltas_level{level}.npy")));
        let d_obj = max_abs_diff(&read(objectness), &exp_obj);
        let d_del = max_abs_diff(&read(deltas), &exp_del);
        println!("level {level}: objectness {d_obj:.2e}, deltas {d_del:.2e}");
        assert!(d_obj <= 2e-4 && d_del <= 2e-4);
    }
}

#[test]
fn box_branch_matches_on_oracle_proposals() {
    let Some(dir) = oracle_dir() else { return };
    let model = segmentation_model();
    for (id, original) in [("synthetic_01", [512, 512]), ("real_02", [400, 439])] {
        let d = dir.join("segmentation").join(id);
        let input = oracle_input("segmentation", id, original);
        let features = model.detector.features(input.tensor.clone());
        let (_, proposals) = npy_f32(&d.join("rpn_proposals.npy"));
        let proposals = boxes(&proposals);
        let out = pollster::block_on(model.detector.box_branch(
            &features,
            &proposals,
            input.resized,
        ))
        .unwrap();
        let (_, logits) = npy_f32(&d.join("class_logits.npy"));
        let (_, regression) = npy_f32(&d.join("box_regression.npy"));
        let d_logits = max_abs_diff(&out.class_logits, &logits);
        let d_reg = max_abs_diff(&out.box_regression, &regression);
        println!("{id}: class_logits {d_logits:.2e}, box_regression {d_reg:.2e}");
        assert!(d_logits <= 1e-3 && d_reg <= 1e-3, "{id}");
    }
}

#[test]
fn roi_align_matches_first_proposals() {
    let Some(dir) = oracle_dir() else { return };
    let d = dir.join("segmentation/synthetic_01");
    let model = segmentation_model();
    let input = oracle_input("segmentation", "synthetic_01", [512, 512]);
    let features = model.detector.features(input.tensor);
    let (_, proposals) = npy_f32(&d.join("rpn_proposals.npy"));
    let proposals = boxes(&proposals[..40]);
    let (_, expected) = npy_f32(&d.join("box_roi_pool_first10.npy"));
    for mode in [RoiAlignMode::Device, RoiAlignMode::Host] {
        let pooled = pollster::block_on(multiscale_roi_align(
            &features,
            &proposals,
            [512, 512],
            7,
            2,
            mode,
        ))
        .unwrap();
        let got = read(pooled);
        let diff = max_abs_diff(&got, &expected);
        println!(
            "RoIAlign ({mode:?}) first 10: max |diff| = {diff:.2e} (max |x| {:.1})",
            max_abs(&expected)
        );
        assert!(diff <= 5e-3, "{mode:?}");
    }
}

#[test]
fn roi_align_paths_agree_on_all_proposals() {
    let Some(dir) = oracle_dir() else { return };
    let d = dir.join("segmentation/real_02");
    let model = segmentation_model();
    let input = oracle_input("segmentation", "real_02", [400, 439]);
    let features = model.detector.features(input.tensor.clone());
    let (_, proposals) = npy_f32(&d.join("rpn_proposals.npy"));
    let proposals = boxes(&proposals);
    let pool = |mode| {
        read(
            pollster::block_on(multiscale_roi_align(
                &features,
                &proposals,
                input.resized,
                14,
                2,
                mode,
            ))
            .unwrap(),
        )
    };
    let device = pool(RoiAlignMode::Device);
    let host = pool(RoiAlignMode::Host);
    let diff = max_abs_diff(&device, &host);
    println!("RoIAlign host vs device, 1000 proposals at 14x14: max |diff| = {diff:.2e}");
    assert!(diff <= 1e-3 * max_abs(&device).max(1.0));
}

/// Greedy matching of two box lists within `tol` px (Chebyshev): how many of `got` have a
/// partner in `expected`.
fn matched(got: &[Box4], expected: &[Box4], tol: f32) -> usize {
    let mut used = vec![false; expected.len()];
    let mut count = 0;
    for g in got {
        let hit = expected
            .iter()
            .enumerate()
            .position(|(j, e)| !used[j] && g.iter().zip(e).all(|(a, b)| (a - b).abs() <= tol));
        if let Some(j) = hit {
            used[j] = true;
            count += 1;
        }
    }
    count
}

#[test]
fn proposals_match_as_sets() {
    let Some(dir) = oracle_dir() else { return };
    let model = segmentation_model();
    for (id, original) in [("synthetic_01", [512, 512]), ("real_02", [400, 439])] {
        let d = dir.join("segmentation").join(id);
        let input = oracle_input("segmentation", id, original);
        let features = model.detector.features(input.tensor.clone());
        let proposals = pollster::block_on(model.detector.proposals(
            &features,
            input.padded,
            input.resized,
        ))
        .unwrap();
        let (_, expected) = npy_f32(&d.join("rpn_proposals.npy"));
        let (_, objectness) = npy_f32(&d.join("rpn_objectness.npy"));
        let expected = boxes(&expected);
        let n = matched(&proposals.boxes, &expected, 0.05);
        let d_obj = max_abs_diff(&proposals.objectness, &objectness);
        println!(
            "{id}: {} proposals, {n} matched of {}, objectness diff {d_obj:.2e}",
            proposals.boxes.len(),
            expected.len()
        );
        for i in 0..5 {
            println!(
                "  ours {:?} {}  oracle {:?} {}",
                proposals.boxes[i], proposals.objectness[i], expected[i], objectness[i]
            );
        }
        assert!(
            n + 1 >= expected.len(),
            "{id}: only {n} of {} proposals match",
            expected.len()
        );
    }
}

#[test]
fn classifier_ranked_boxes_match_on_oracle_proposals() {
    let Some(dir) = oracle_dir() else { return };
    let model = classification_model();
    // 512x512 inputs: the classifier's proposals equal the segmentation run's (oracle README §6),
    // and our pre-processing is bit-exact, so the PNG gives the oracle's input tensor.
    for (id, file) in [INPUTS[0], INPUTS[2]] {
        let d = dir.join("segmentation").join(id);
        let png = std::fs::read(dir.join("inputs").join(file)).unwrap();
        let image = ct_mask_net::imaging::decode_slice(&png).unwrap();
        let input = ct_mask_net::pipeline::classification_input(
            &image,
            &ct_mask_net::transform::TransformConfig::default(),
            &device(),
        );
        let features = model.detector.features(input.tensor.clone());
        let (_, proposals) = npy_f32(&d.join("rpn_proposals.npy"));
        let proposals = boxes(&proposals);
        let detections = pollster::block_on(model.detector.detect(
            &features,
            &proposals,
            input.resized,
            &model.config.detections,
        ))
        .unwrap();
        let (ranked, _) = ct_mask_net::classifier::ranked_boxes(&detections, 256);
        let c = dir.join("classification").join(id);
        let (_, expected) = npy_f32(&c.join("ranked_boxes.npy"));
        let (aligned, swaps) = align_to_oracle(id, &ranked, &expected);
        let diff = max_abs_diff(&aligned, &expected);
        println!("{id}: ranked rows within {diff:.2e} after {swaps} near-tie swap(s)");
        assert!(diff <= 1e-3);
    }
}

#[test]
fn module_s_matches_on_oracle_ranked_boxes() {
    let Some(dir) = oracle_dir() else { return };
    let model = classification_model();
    for (id, _) in INPUTS {
        let d = dir.join("classification").join(id);
        let (_, ranked) = npy_f32(&d.join("ranked_boxes.npy"));
        let input = Tensor::<3>::from_data(TensorData::new(ranked, [1, 256, 5]), &device());
        let out = model.classifier.forward_detailed(input);
        let read2 = |t: Tensor<2>| t.into_data().try_into_vec_as::<f32>().unwrap();
        let (_, h1) = npy_f32(&d.join("s_fc_scores_preact.npy"));
        let (_, h2) = npy_f32(&d.join("s_fc_scores_2_preact.npy"));
        let (_, logits) = npy_f32(&d.join("s_logits.npy"));
        let d1 = max_abs_diff(&read2(out.hidden1_preact), &h1);
        let d2 = max_abs_diff(&read2(out.hidden2_preact), &h2);
        let got = read2(out.logits);
        let dl = max_abs_diff(&got, &logits);
        println!("{id}: hidden1 {d1:.2e}, hidden2 {d2:.2e}, logits {dl:.2e}");
        assert!(d1 <= 1e-3 && d2 <= 1e-3 && dl <= 2e-3, "{id}");
        let argmax = |v: &[f32]| (0..3).max_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap();
        assert_eq!(argmax(&got), argmax(&logits), "{id}");
    }
}
