//! The batch table's logic, natively: sort order and the CSV / JSON exports.

use std::sync::Arc;

use ct_mask_net::analysis::{LesionAreas, SliceAnalysis, SliceReport};
use ct_mask_net::batch::{
    Row, RowStatus, SortColumn, sort_rows, studies, studies_json, study_summary, to_csv, to_json,
};
use ct_mask_net::engine::AnalysedSlice;
use ct_mask_net::model::SlicePrediction;
use image::RgbImage;

/// A finished row whose S logits, lesion areas and time are given.
fn done(id: usize, name: &str, logits: [f32; 3], ggo: Option<f32>, ms: f64) -> Row {
    let report = SliceReport {
        image_size: [4, 4],
        prediction: SlicePrediction::from_logits(logits),
        detections: ggo.map(|_| Vec::new()),
        lesion_area_percent: ggo.map(|g| LesionAreas {
            ggo: g,
            consolidation: g / 2.0,
        }),
        classifier_input_padded: false,
        shared_detector_pass: true,
        timings_ms: Default::default(),
        notes: Vec::new(),
    };
    Row {
        id,
        name: name.into(),
        status: RowStatus::Done,
        result: Some(Arc::new(AnalysedSlice {
            image: RgbImage::new(4, 4),
            analysis: SliceAnalysis {
                report,
                ranked_boxes: vec![0.0; 256 * 5],
                masks: None,
            },
            total_ms: ms,
        })),
        weights: Some("placeholder".into()),
        ..Row::new(id, name)
    }
}

fn failed(id: usize, name: &str, message: &str) -> Row {
    Row {
        status: RowStatus::Failed(message.into()),
        ..Row::new(id, name)
    }
}

fn batch() -> Vec<Row> {
    vec![
        done(0, "b.png", [0.0, 0.0, 3.0], Some(2.0), 900.0),
        failed(1, "A.png", "The image file is empty"),
        done(2, "c.png", [3.0, 0.0, 0.0], Some(7.5), 300.0),
        done(3, "a, \"copy\".png", [0.0, 2.0, 1.0], None, 600.0),
        Row::new(4, "queued.png"),
    ]
}

fn ids(rows: &[Row]) -> Vec<usize> {
    rows.iter().map(|r| r.id).collect()
}

#[test]
fn rows_without_a_value_sort_last_in_both_directions() {
    let mut rows = batch();
    sort_rows(&mut rows, SortColumn::Covid, false);
    assert_eq!(
        ids(&rows),
        [0, 3, 2, 1, 4],
        "highest COVID-19 probability first"
    );
    sort_rows(&mut rows, SortColumn::Covid, true);
    assert_eq!(ids(&rows), [2, 3, 0, 1, 4]);

    // Row 3 has no lesion model: it sorts with the failed and queued rows.
    sort_rows(&mut rows, SortColumn::Ggo, false);
    assert_eq!(ids(&rows), [2, 0, 1, 3, 4]);
    sort_rows(&mut rows, SortColumn::Ggo, true);
    assert_eq!(ids(&rows), [0, 2, 1, 3, 4]);

    sort_rows(&mut rows, SortColumn::Time, true);
    assert_eq!(ids(&rows), [2, 3, 0, 1, 4]);
    sort_rows(&mut rows, SortColumn::Arrival, false);
    assert_eq!(ids(&rows), [4, 3, 2, 1, 0]);
}

#[test]
fn file_names_sort_without_case_and_classes_by_their_words() {
    let mut rows = batch();
    sort_rows(&mut rows, SortColumn::File, true);
    let names: Vec<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["a, \"copy\".png", "A.png", "b.png", "c.png", "queued.png"]
    );

    sort_rows(&mut rows, SortColumn::Class, true);
    // "COVID-19" < "common pneumonia" < "normal" (byte order), rows 1 and 4 have no class.
    assert_eq!(ids(&rows), [0, 3, 2, 1, 4]);
}

#[test]
fn the_csv_export_has_a_header_and_one_quoted_line_per_row() {
    let csv = to_csv(&batch());
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 1 + 5);
    assert_eq!(
        lines[0],
        "file,predicted_class,p_normal,p_pneumonia,p_covid,ggo_percent,consolidation_percent,\
         error,weights,study,slice,slices,notes"
    );
    assert!(lines[1].starts_with("b.png,covid,"), "{}", lines[1]);
    let fields: Vec<&str> = lines[1].split(',').collect();
    let p: Vec<f32> = fields[2..5].iter().map(|f| f.parse().unwrap()).collect();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5, "{p:?}");
    assert!(p[2] > 0.9);
    assert_eq!(fields[5].parse::<f64>().unwrap(), 2.0);
    assert_eq!(fields[6].parse::<f64>().unwrap(), 1.0);
    assert_eq!(lines[2], "A.png,,,,,,,The image file is empty,,,,,");
    // A name with a comma and quotes is quoted, quotes doubled; no lesion model: empty areas.
    assert!(
        lines[4].starts_with("\"a, \"\"copy\"\".png\",pneumonia,"),
        "{}",
        lines[4]
    );
    assert!(lines[4].ends_with(",,,,placeholder,,,,"), "{}", lines[4]);
    assert_eq!(lines[5], "queued.png,,,,,,,not analysed yet,,,,,");
}

#[test]
fn the_json_export_has_one_record_per_row() {
    let json: serde_json::Value = serde_json::from_str(&to_json(&batch())).unwrap();
    let records = json.as_array().unwrap();
    assert_eq!(records.len(), 5);
    assert_eq!(records[0]["file"], "b.png");
    assert_eq!(records[0]["predicted_class"], "covid");
    assert_eq!(records[2]["ggo_percent"], 7.5);
    assert_eq!(records[1]["error"], "The image file is empty");
    assert!(records[3]["ggo_percent"].is_null());
    assert_eq!(records[4]["error"], "not analysed yet");
}

#[test]
fn labels_come_from_names_and_the_split_is_stratified_seeded_and_overridable() {
    use ct_mask_net::batch::{label_confusion, labelled_split};

    let mut rows: Vec<Row> = (0..10)
        .map(|i| {
            let name = match i % 3 {
                0 => format!("NCP_{i}.png"),
                1 => format!("CP_{i}.png"),
                _ => format!("Normal_{i}.png"),
            };
            done(i, &name, [0.0, 0.0, 1.0], None, 1.0)
        })
        .collect();
    rows.push(done(10, "scan.png", [1.0, 0.0, 0.0], None, 1.0));
    assert_eq!(rows[0].label, Some(2));
    assert_eq!(rows[1].label, Some(1));
    assert_eq!(rows[2].label, Some(0));
    assert_eq!(rows[10].label, None);

    let split = labelled_split(&rows, 4);
    assert_eq!(split.len(), 10);
    // One validation slice per class (20% of 3 or 4, at least one).
    for class in 0..3u8 {
        let val = split
            .iter()
            .filter(|l| l.label == class && l.validation)
            .count();
        assert_eq!(val, 1, "class {class}");
    }
    assert_eq!(labelled_split(&rows, 4), split);

    // The user's choice wins.
    let first_val = split.iter().find(|l| l.validation).unwrap().id;
    rows[first_val].split_override = Some(false);
    let changed = labelled_split(&rows, 4);
    assert!(
        !changed
            .iter()
            .find(|l| l.id == first_val)
            .unwrap()
            .validation
    );

    // Every analysed row predicts COVID-19: right on the NCP_ rows only.
    let all = label_confusion(&rows, &changed, "placeholder", false);
    assert_eq!(all.total(), 10);
    assert_eq!(all.counts[2][2], 4);
    assert_eq!(all.counts[0][2] + all.counts[1][2], 6);
    assert_eq!(
        label_confusion(&rows, &changed, "other weights", false).total(),
        0
    );
    assert_eq!(
        label_confusion(&rows, &changed, "placeholder", true).total(),
        2
    );
}

/// Slices named after their patient stay on one side of the split; with one patient in a
/// class the split falls back to single slices so that every class is still validated.
#[test]
fn the_split_keeps_patients_whole_when_it_can() {
    use ct_mask_net::batch::labelled_split;
    use ct_mask_net::finetune::patient_from_name;

    // Five COVID patients with four slices each, five normal patients with two.
    let mut rows = Vec::new();
    for p in 0..5 {
        for k in 0..4 {
            let id = rows.len();
            rows.push(done(
                id,
                &format!("NCP_{p}_100_{k:04}.png"),
                [0.0, 0.0, 1.0],
                None,
                1.0,
            ));
        }
        for k in 0..2 {
            let id = rows.len();
            rows.push(done(
                id,
                &format!("Normal_{p}_7_{k:04}.png"),
                [0.0, 0.0, 1.0],
                None,
                1.0,
            ));
        }
    }
    for seed in 0..6 {
        let split = labelled_split(&rows, seed);
        let mut val_patients = std::collections::BTreeMap::<String, (usize, usize)>::new();
        for l in &split {
            let patient = patient_from_name(&rows[l.id].name).unwrap();
            let e = val_patients.entry(patient).or_default();
            if l.validation {
                e.0 += 1;
            } else {
                e.1 += 1;
            }
        }
        assert!(
            val_patients.values().all(|(v, t)| *v == 0 || *t == 0),
            "seed {seed}: a patient is on both sides: {val_patients:?}"
        );
        for class in [0u8, 2] {
            assert!(split.iter().any(|l| l.label == class && l.validation));
        }
    }

    // One pneumonia patient with three slices: the split goes slice by slice.
    for k in 0..3 {
        let id = rows.len();
        rows.push(done(
            id,
            &format!("CP_9_1_{k:04}.png"),
            [0.0, 0.0, 1.0],
            None,
            1.0,
        ));
    }
    let split = labelled_split(&rows, 0);
    assert!(split.iter().any(|l| l.label == 1 && l.validation));
    assert!(split.iter().any(|l| l.label == 1 && !l.validation));
}

/// Slices of two scans named COVIDx-CT style, arriving out of order, and a slice of none.
fn two_studies() -> Vec<Row> {
    vec![
        done(0, "NCP_7_100_0030.png", [0.0, 0.0, 2.0], Some(4.0), 10.0),
        done(1, "CP_3_200_0005.png", [0.0, 2.0, 0.0], Some(0.0), 10.0),
        done(2, "NCP_7_100_0010.png", [0.0, 0.0, 1.0], Some(1.0), 10.0),
        done(3, "slice.png", [1.0, 0.0, 0.0], None, 10.0),
        failed(4, "NCP_7_100_0020.png", "The image file is empty"),
    ]
}

#[test]
fn rows_of_one_scan_form_a_study_in_slice_order() {
    let rows = two_studies();
    let found = studies(&rows);
    assert_eq!(found.len(), 2);
    assert_eq!(found[0].label, "NCP patient 7, scan 100");
    assert_eq!(found[0].slices, vec![2, 4, 0]);
    assert_eq!(found[1].slices, vec![1]);

    // The failed slice keeps its place but counts in no roll-up.
    let summary = study_summary(&rows, &found[0]).unwrap();
    assert_eq!(summary.slices, 2);
    assert_eq!(summary.predicted_class, "covid");
    assert_eq!(summary.most_covid[0].slice, 3);
    let burden: Vec<(usize, f32)> = summary
        .lesion_burden
        .iter()
        .map(|b| (b.slice, b.ggo))
        .collect();
    assert_eq!(burden, vec![(1, 1.0), (3, 4.0)]);
    assert_eq!(summary.largest_lesion_slice, Some(3));

    let mut sorted = rows.clone();
    sort_rows(&mut sorted, SortColumn::Study, true);
    // "cp ..." before "ncp ...", slices in order, the row without a study last.
    assert_eq!(ids(&sorted), [1, 2, 4, 0, 3]);
}

#[test]
fn exports_carry_the_study_and_the_slice() {
    let rows = two_studies();
    let csv = to_csv(&rows);
    let lines: Vec<&str> = csv.lines().collect();
    assert!(
        lines[1].ends_with(",\"NCP patient 7, scan 100\",3,3,"),
        "{}",
        lines[1]
    );
    assert!(lines[4].ends_with("placeholder,,,,"), "{}", lines[4]);

    let json: serde_json::Value = serde_json::from_str(&to_json(&rows)).unwrap();
    assert_eq!(json[2]["study"], "NCP patient 7, scan 100");
    assert_eq!(json[2]["slice"], 1);
    assert_eq!(json[2]["slices"], 3);
    assert!(json[3].get("study").is_none());

    let per_study: serde_json::Value = serde_json::from_str(&studies_json(&rows)).unwrap();
    let list = per_study.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0]["files"],
        serde_json::json!([
            "NCP_7_100_0010.png",
            "NCP_7_100_0020.png",
            "NCP_7_100_0030.png"
        ])
    );
    assert_eq!(list[0]["summary"]["predicted_class"], "covid");
    assert_eq!(list[1]["summary"]["slices"], 1);
}
