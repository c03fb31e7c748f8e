//! Parity of the segmentation model's outputs with the authors' implementation: detections
//! (boxes, scores, labels), 28x28 mask logits and pasted masks (tolerances from
//! `../shared/oracle/README.md` §9).
//!
//! Detections whose scores are tied to within float32 noise may legitimately come out in another
//! order: the order depends on the last bits of the softmax, which no float32 re-implementation
//! reproduces exactly (the oracle's own float32 error on the scores is 1.1e-5). The comparison
//! therefore lets a row match another oracle row only inside a run of neighbouring oracle rows
//! whose scores differ by less than [`TIE_GAP`], and lets the last row differ only where its
//! score is within [`TIE_GAP`] of the oracle's last score (a near-tied cut at 100).

mod common;

use common::*;
use ct_mask_net::box_ops::Box4;
use ct_mask_net::imaging::decode_slice;
use ct_mask_net::mask_head::paste_mask;
use ct_mask_net::model::{ModelInput, SegmentationModel};
use ct_mask_net::pipeline::segmentation_input;
use ct_mask_net::roi_heads::Detections;
use ct_mask_net::transform::TransformConfig;

/// Box tolerance in pixels (Chebyshev).
const BOX_TOL: f32 = 0.05;
/// Score tolerance.
const SCORE_TOL: f32 = 1e-4;
/// Largest oracle score gap between neighbouring rows treated as a tie.
const TIE_GAP: f32 = 1e-4;
/// Relative (to max |x|) tolerance of mask logits.
const MASK_REL_TOL: f32 = 1e-4;

/// The oracle's transformed input of `id` as a model input.
fn oracle_input(id: &str, original: [usize; 2]) -> ModelInput {
    let dir = oracle_dir().unwrap();
    let (shape, data) = npy_f32(
        &dir.join("segmentation")
            .join(id)
            .join("transformed_input.npy"),
    );
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

/// The PNG of `file` through the application's segmentation pre-processing.
fn png_input(file: &str) -> ModelInput {
    let dir = oracle_dir().unwrap();
    let image = decode_slice(&std::fs::read(dir.join("inputs").join(file)).unwrap()).unwrap();
    segmentation_input(&image, &TransformConfig::default(), &device())
}

/// The input of `id`: the oracle's transformed input where it is shipped, else the PNG (for the
/// 512x512 inputs the pre-processing is an identity, within 1e-6 of the oracle).
fn best_input(id: &str, file: &str) -> ModelInput {
    if id == "synthetic_01" || id == "real_02" {
        oracle_input(id, original_size(id))
    } else {
        png_input(file)
    }
}

fn original_size(id: &str) -> [usize; 2] {
    if id == "real_02" {
        [400, 439]
    } else {
        [512, 512]
    }
}

fn boxes(values: &[f32]) -> Vec<Box4> {
    values
        .chunks_exact(4)
        .map(|c| [c[0], c[1], c[2], c[3]])
        .collect()
}

fn box_diff(a: &Box4, b: &Box4) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The oracle's final detections of one input.
struct OracleDetections {
    /// Original-image coordinates.
    boxes: Vec<Box4>,
    /// Resized-image coordinates (the mask branch's RoIs).
    resized: Vec<Box4>,
    scores: Vec<f32>,
    labels: Vec<usize>,
}

fn oracle_detections(id: &str) -> OracleDetections {
    let d = oracle_dir().unwrap().join("segmentation").join(id);
    let (_, b) = npy_f32(&d.join("det_boxes.npy"));
    let (_, r) = npy_f32(&d.join("det_boxes_resized_coords.npy"));
    let (_, scores) = npy_f32(&d.join("det_scores.npy"));
    let (_, labels) = npy_i64(&d.join("det_labels.npy"));
    OracleDetections {
        boxes: boxes(&b),
        resized: boxes(&r),
        scores,
        labels: labels.into_iter().map(|l| l as usize).collect(),
    }
}

/// Figures of one detection comparison.
#[derive(Debug, Default)]
struct Comparison {
    /// Largest box difference (original coordinates) over matched rows.
    boxes: f32,
    /// Largest box difference in the resized frame.
    resized: f32,
    scores: f32,
    /// Rows matched to another oracle row of their near-tie run.
    permuted: usize,
    /// Whether the last row differs at a near-tied cut.
    last_differs: bool,
    /// The oracle row each of our rows matched.
    partner: Vec<Option<usize>>,
}

/// Compares our detections (`ours` in the resized frame, `ours_boxes` in original coordinates)
/// with the oracle's, row by row, allowing only near-tie permutations (see the module docs).
fn compare(
    what: &str,
    ours: &Detections,
    ours_boxes: &[Box4],
    oracle: &OracleDetections,
) -> Comparison {
    let n = oracle.scores.len();
    assert_eq!(
        ours.len(),
        n,
        "{what}: {} detections, oracle {n}",
        ours.len()
    );
    assert_eq!(ours_boxes.len(), n);
    // Near-tie runs of the oracle's rows.
    let mut group = vec![0usize; n];
    for k in 1..n {
        group[k] =
            group[k - 1] + usize::from((oracle.scores[k - 1] - oracle.scores[k]).abs() >= TIE_GAP);
    }
    let fits = |i: usize, j: usize| {
        box_diff(&ours_boxes[i], &oracle.boxes[j]) <= BOX_TOL
            && box_diff(&ours.boxes[i], &oracle.resized[j]) <= BOX_TOL
            && (ours.scores[i] - oracle.scores[j]).abs() <= SCORE_TOL
            && ours.labels[i] == oracle.labels[j]
    };
    let mut used = vec![false; n];
    let mut c = Comparison::default();
    for i in 0..n {
        let j = if !used[i] && fits(i, i) {
            Some(i)
        } else {
            (0..n).find(|&j| !used[j] && group[j] == group[i] && fits(i, j))
        };
        c.partner.push(j);
        match j {
            Some(j) => {
                used[j] = true;
                if j != i {
                    println!(
                        "  {what}: row {i} matches oracle row {j} (oracle scores {:.7} / {:.7})",
                        oracle.scores[i], oracle.scores[j]
                    );
                }
                c.permuted += usize::from(j != i);
                c.boxes = c.boxes.max(box_diff(&ours_boxes[i], &oracle.boxes[j]));
                c.resized = c.resized.max(box_diff(&ours.boxes[i], &oracle.resized[j]));
                c.scores = c.scores.max((ours.scores[i] - oracle.scores[j]).abs());
            }
            None if i == n - 1 && (ours.scores[i] - oracle.scores[i]).abs() < TIE_GAP => {
                c.last_differs = true;
            }
            None => {
                for k in i.saturating_sub(2)..(i + 4).min(n) {
                    println!(
                        "  {k}: ours {:?} {:.7} l{}  oracle {:?} {:.7} l{}",
                        ours_boxes[k],
                        ours.scores[k],
                        ours.labels[k],
                        oracle.boxes[k],
                        oracle.scores[k],
                        oracle.labels[k]
                    );
                }
                panic!("{what}: detection {i} has no partner among the oracle's near-tied rows");
            }
        }
    }
    c
}

fn report(what: &str, c: &Comparison) {
    println!(
        "{what}: boxes {:.2e} px (resized frame {:.2e}), scores {:.2e}, labels equal, \
         {} row(s) permuted within near-ties, last row differs: {}",
        c.boxes, c.resized, c.scores, c.permuted, c.last_differs
    );
}

/// Pixels on different sides of `cut` (the authors threshold the logits at 0.5).
fn flips(got: &[f32], expected: &[f32], cut: f32) -> usize {
    got.iter()
        .zip(expected)
        .filter(|(a, b)| (**a > cut) != (**b > cut))
        .count()
}

fn run(model: &SegmentationModel, input: &ModelInput) -> ct_mask_net::model::SegmentationResult {
    pollster::block_on(model.run(input)).unwrap()
}

#[test]
fn detections_match_from_the_png_and_the_transformed_input() {
    let Some(_) = oracle_dir() else { return };
    let model = segmentation_model();
    for (id, file) in INPUTS {
        let oracle = oracle_detections(id);
        let mut sources = vec![("png", png_input(file))];
        if id == "synthetic_01" || id == "real_02" {
            sources.push(("transformed_input.npy", oracle_input(id, original_size(id))));
        }
        for (source, input) in sources {
            let result = run(model, &input);
            assert_eq!(result.image_size, original_size(id));
            let what = format!("{id} from {source}");
            let c = compare(&what, &result.detections, &result.boxes, &oracle);
            report(&what, &c);
            check_masks(&what, id, &result, &c.partner);
        }
    }
}

/// The full run's mask logits (matched rows) against `det_mask_logits_28x28.npy`, and its
/// pasted top-3 masks against `det_masks_top3.npy` where shipped. A box that differs by float32
/// noise can move the truncated paste window by one pixel, so the pasted masks are checked by
/// the count of pixels on the other side of 0, which must stay tiny.
fn check_masks(
    what: &str,
    id: &str,
    result: &ct_mask_net::model::SegmentationResult,
    partner: &[Option<usize>],
) {
    let d = oracle_dir().unwrap().join("segmentation").join(id);
    let (_, expected) = npy_f32(&d.join("det_mask_logits_28x28.npy"));
    let m = 784;
    let mut diff = 0.0f32;
    for (i, j) in partner.iter().enumerate() {
        if let Some(j) = j {
            diff = diff.max(max_abs_diff(
                &result.mask_logits[i * m..(i + 1) * m],
                &expected[j * m..(j + 1) * m],
            ));
        }
    }
    let max = max_abs(&expected);
    let mut line = format!(
        "{what}: mask logits max |diff| {diff:.2e} (rel {:.2e})",
        diff / max
    );
    assert!(
        diff <= MASK_REL_TOL * max,
        "{what}: mask logits differ by {diff}"
    );
    let path = d.join("det_masks_top3.npy");
    if path.exists() {
        let (_, pasted) = npy_f32(&path);
        let [h, w] = result.image_size;
        for i in 0..3 {
            assert_eq!(partner[i], Some(i), "{what}: top-3 order differs");
            let got = result.pasted_mask(i);
            let exp = &pasted[i * h * w..(i + 1) * h * w];
            let sign = flips(&got, exp, 0.0);
            let authors = flips(&got, exp, 0.5);
            let positive = exp.iter().filter(|v| **v > 0.0).count();
            line += &format!(
                "; pasted {i}: max |diff| {:.2e}, {sign} of {positive} positive pixels flip \
                 (at the authors' cut 0.5: {authors})",
                max_abs_diff(&got, exp)
            );
            assert!(
                (sign + authors) * 1000 <= positive,
                "{what}: pasted mask {i} has {sign} pixels on the other side of 0"
            );
        }
    }
    println!("{line}");
}

#[test]
fn detections_match_on_oracle_proposals() {
    let Some(dir) = oracle_dir() else { return };
    let model = segmentation_model();
    for (id, file) in INPUTS {
        let input = best_input(id, file);
        let features = model.detector.features(input.tensor.clone());
        let (_, proposals) = npy_f32(&dir.join("segmentation").join(id).join("rpn_proposals.npy"));
        let detections = pollster::block_on(model.detector.detect(
            &features,
            &boxes(&proposals),
            input.resized,
            &model.config.detections,
        ))
        .unwrap();
        let original: Vec<Box4> = detections
            .boxes
            .iter()
            .map(|b| ct_mask_net::box_ops::rescale(b, input.resized, input.original))
            .collect();
        let what = format!(
            "{id} on oracle proposals ({:?} -> {:?})",
            input.resized, input.original
        );
        let c = compare(&what, &detections, &original, &oracle_detections(id));
        report(&what, &c);
    }
}

#[test]
fn mask_logits_match_on_oracle_detections() {
    let Some(dir) = oracle_dir() else { return };
    let model = segmentation_model();
    for (id, file) in INPUTS {
        let input = best_input(id, file);
        let features = model.detector.features(input.tensor.clone());
        let oracle = oracle_detections(id);
        let n = oracle.scores.len();
        let detections = Detections {
            boxes: oracle.resized.clone(),
            scores: oracle.scores.clone(),
            labels: oracle.labels.clone(),
            proposal_index: vec![0; n],
            raw_deltas: vec![[0.0; 4]; n],
        };
        let got =
            pollster::block_on(model.mask_logits(&features, &detections, input.resized)).unwrap();
        let (shape, expected) = npy_f32(
            &dir.join("segmentation")
                .join(id)
                .join("det_mask_logits_28x28.npy"),
        );
        assert_eq!(shape, vec![n, 1, 28, 28]);
        let diff = max_abs_diff(&got, &expected);
        let max = max_abs(&expected);
        let worst = (0..n)
            .max_by(|&a, &b| {
                let d = |i: usize| {
                    max_abs_diff(
                        &got[i * 784..(i + 1) * 784],
                        &expected[i * 784..(i + 1) * 784],
                    )
                };
                d(a).total_cmp(&d(b))
            })
            .unwrap();
        println!(
            "{id}: mask logits max |diff| {diff:.2e}, max |x| {max:.1}, rel {:.2e} (worst row {worst})",
            diff / max
        );
        assert!(
            diff <= MASK_REL_TOL * max,
            "{id}: mask logits differ by {diff}"
        );
    }
}

#[test]
fn pasted_masks_match() {
    let Some(dir) = oracle_dir() else { return };
    for id in ["synthetic_01", "real_02"] {
        let d = dir.join("segmentation").join(id);
        let oracle = oracle_detections(id);
        let (_, logits) = npy_f32(&d.join("det_mask_logits_28x28.npy"));
        let (shape, expected) = npy_f32(&d.join("det_masks_top3.npy"));
        let [h, w] = original_size(id);
        assert_eq!(shape, vec![3, 1, h, w]);
        for i in 0..3 {
            let got = paste_mask(
                &logits[i * 784..(i + 1) * 784],
                28,
                &oracle.boxes[i],
                [h, w],
            );
            let exp = &expected[i * h * w..(i + 1) * h * w];
            let diff = max_abs_diff(&got, exp);
            let max = max_abs(exp);
            let sign = flips(&got, exp, 0.0);
            let authors = flips(&got, exp, 0.5);
            let support = exp.iter().filter(|v| **v != 0.0).count();
            println!(
                "{id} mask {i}: max |diff| {diff:.2e}, max |x| {max:.1}, {sign} pixel(s) of \
                 differing sign ({authors} at the authors' cut 0.5), {support} nonzero oracle \
                 pixels, box {:?}",
                oracle.boxes[i]
            );
            assert!(
                diff <= MASK_REL_TOL * max,
                "{id} mask {i}: differs by {diff}"
            );
            assert_eq!(
                sign, 0,
                "{id} mask {i}: {sign} pixels on the other side of 0"
            );
        }
    }
}

#[test]
fn runs_are_deterministic() {
    let Some(_) = oracle_dir() else { return };
    let model = segmentation_model();
    let input = png_input(INPUTS[3].1);
    let a = run(model, &input);
    let b = run(model, &input);
    let bits = |r: &ct_mask_net::model::SegmentationResult| {
        let mut v: Vec<u32> = r.boxes.iter().flatten().map(|x| x.to_bits()).collect();
        v.extend(r.detections.scores.iter().map(|x| x.to_bits()));
        v.extend(r.mask_logits.iter().map(|x| x.to_bits()));
        v
    };
    assert_eq!(a.detections.labels, b.detections.labels);
    assert!(bits(&a) == bits(&b), "two runs differ");
    println!(
        "real_02: two runs bit-identical ({} detections, boxes, scores and mask logits)",
        a.detections.len()
    );
}
