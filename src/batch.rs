//! The batch of slices the page works through: its rows, their sort order, and the CSV and
//! JSON exports. Plain Rust (the page's components only display it), tested natively.

use std::cmp::Ordering;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::engine::AnalysedSlice;
use crate::evaluation::{ConfusionMatrix, argmax};
use crate::finetune::{class_from_name, patient_from_name, stratified_split};
use crate::study::{SlicePlace, Study, StudySlice, StudySummary, locate, name_place};

/// Where a file of the batch stands.
#[derive(Debug, Clone, PartialEq)]
pub enum RowStatus {
    /// Waiting for its turn.
    Queued,
    /// Being decoded and analysed.
    Running,
    /// Analysed; the result is in [`Row::result`].
    Done,
    /// Could not be analysed; the message says why, in plain words.
    Failed(String),
}

/// One file of the batch.
#[derive(Debug, Clone)]
pub struct Row {
    /// Stable identifier (order of arrival).
    pub id: usize,
    /// The file's name.
    pub name: String,
    /// Where it stands.
    pub status: RowStatus,
    /// The result once [`RowStatus::Done`].
    pub result: Option<Arc<AnalysedSlice>>,
    /// The weights that produced the result (results of different weights may share a batch).
    pub weights: Option<String>,
    /// The slice's true class for fine-tuning and evaluation (0 normal, 1 pneumonia, 2
    /// COVID-19): from the file name when it carries one, or set by the user.
    pub label: Option<u8>,
    /// The user's choice of split for this slice (`Some(true)`: validation), overriding the
    /// seeded split.
    pub split_override: Option<bool>,
    /// The slice's study and place in it: from the name at first, from the DICOM header once
    /// the file has been read.
    pub place: Option<SlicePlace>,
}

impl Row {
    /// A queued row for file `name`, labelled from the name when it carries a class
    /// (`NCP_`, `CP_`, `Normal_`, ...).
    pub fn new(id: usize, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            id,
            label: class_from_name(&name).map(|c| c as u8),
            place: name_place(&name),
            name,
            status: RowStatus::Queued,
            result: None,
            weights: None,
            split_override: None,
        }
    }
}

/// Whether a file found inside a folder may be a CT slice: PNG, JPEG or DICOM by its extension,
/// or a name without one or with a numeric one, as DICOM files are often named (`IM0001`,
/// `1.2.840.113619.2.55.3.320`). Hidden files, `DICOMDIR` and other documents are not.
pub fn is_slice_name(name: &str) -> bool {
    let name = name.rsplit(['/', '\\']).next().unwrap_or(name);
    if name.is_empty() || name.starts_with('.') || name.eq_ignore_ascii_case("DICOMDIR") {
        return false;
    }
    match name.rsplit_once('.') {
        None => true,
        Some((_, ext)) => {
            let ext = ext.to_ascii_lowercase();
            matches!(
                ext.as_str(),
                "png" | "jpg" | "jpeg" | "dcm" | "dicom" | "ima"
            ) || (!ext.is_empty() && ext.bytes().all(|b| b.is_ascii_digit()))
        }
    }
}

/// The studies of the batch, in order of first arrival, each slice head first.
pub fn studies(rows: &[Row]) -> Vec<Study> {
    let mut by_arrival: Vec<&Row> = rows.iter().collect();
    by_arrival.sort_by_key(|r| r.id);
    crate::study::group(
        by_arrival
            .into_iter()
            .filter_map(|r| r.place.as_ref().map(|p| (r.id, p))),
    )
}

/// The roll-up of `study`'s analysed slices (`None` before any is analysed).
pub fn study_summary(rows: &[Row], study: &Study) -> Option<StudySummary> {
    let slices: Vec<StudySlice> = study
        .slices
        .iter()
        .enumerate()
        .filter_map(|(i, id)| {
            let row = rows.iter().find(|r| r.id == *id)?;
            let report = &row.result.as_ref()?.analysis.report;
            Some(StudySlice::from_report(*id, i + 1, report))
        })
        .collect();
    crate::study::summarise(&slices)
}

/// Share of the labelled slices the seeded split holds out for validation.
pub const VALIDATION_FRACTION: f64 = 0.2;

/// A labelled slice's place in fine-tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelledRow {
    /// The row's id.
    pub id: usize,
    /// Its class.
    pub label: u8,
    /// Whether it is held out for validation.
    pub validation: bool,
}

/// The labelled rows in order of arrival with their split: seeded and stratified by class
/// ([`VALIDATION_FRACTION`] of each class's patients: slices whose names identify the same
/// patient, see [`patient_from_name`], stay on one side, unless a class then gets no
/// validation slice: then slices are split one by one), then the user's per-row choices.
pub fn labelled_split(rows: &[Row], seed: u64) -> Vec<LabelledRow> {
    let mut labelled: Vec<&Row> = rows.iter().filter(|r| r.label.is_some()).collect();
    labelled.sort_by_key(|r| r.id);
    let classes: Vec<usize> = labelled
        .iter()
        .map(|r| r.label.unwrap_or(0) as usize)
        .collect();
    let patients: Vec<String> = labelled
        .iter()
        .map(|r| patient_from_name(&r.name).unwrap_or_else(|| format!("#{}", r.id)))
        .collect();
    let (_, by_patient) = stratified_split(&classes, Some(&patients), VALIDATION_FRACTION, seed);
    // Keep patients whole only when that still validates every class with two or more slices
    // (a class of one patient would otherwise have no validation slice at all).
    let validates = |class: usize| by_patient.iter().any(|&i| classes[i] == class);
    let count = |class: usize| classes.iter().filter(|&&c| c == class).count();
    let validation = if (0..3).all(|c| count(c) < 2 || validates(c)) {
        by_patient
    } else {
        stratified_split(&classes, None, VALIDATION_FRACTION, seed).1
    };
    labelled
        .iter()
        .enumerate()
        .map(|(i, r)| LabelledRow {
            id: r.id,
            label: r.label.unwrap_or(0),
            validation: r.split_override.unwrap_or(validation.contains(&i)),
        })
        .collect()
}

/// The confusion matrix of the answers in `rows` against their labels, counting only rows
/// analysed with `weights` (`validation_only`: only the validation split of `split`).
pub fn label_confusion(
    rows: &[Row],
    split: &[LabelledRow],
    weights: &str,
    validation_only: bool,
) -> ConfusionMatrix {
    let mut m = ConfusionMatrix::default();
    for l in split.iter().filter(|l| l.validation || !validation_only) {
        let Some(row) = rows.iter().find(|r| r.id == l.id) else {
            continue;
        };
        if let (Some(result), Some(w)) = (&row.result, &row.weights)
            && w == weights
        {
            m.add(
                l.label as usize,
                argmax(&result.analysis.report.prediction.s_logits),
            );
        }
    }
    m
}

/// Sortable columns of the batch table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    /// Order of arrival.
    Arrival,
    /// File name.
    File,
    /// Predicted class.
    Class,
    /// Probability of COVID-19.
    Covid,
    /// GGO area.
    Ggo,
    /// Consolidation area.
    Consolidation,
    /// Time taken.
    Time,
    /// Study, then the slice's place in it (head first).
    Study,
}

/// The page's words for a class key of [`crate::model::SlicePrediction`].
pub fn class_label(key: &str) -> &'static str {
    match key {
        "normal" => "normal",
        "pneumonia" => "common pneumonia",
        "covid" => "COVID-19",
        _ => "unknown",
    }
}

/// Sorts `rows` by `column`. Rows lacking that column's value (not analysed yet, failed, or no
/// lesion model) go last in either direction; ties keep the order of arrival.
pub fn sort_rows(rows: &mut [Row], column: SortColumn, ascending: bool) {
    let studies = if column == SortColumn::Study {
        studies(rows)
    } else {
        Vec::new()
    };
    rows.sort_by(|a, b| {
        let order = match (sort_key(a, column, &studies), sort_key(b, column, &studies)) {
            (Some(x), Some(y)) => {
                let order = x.cmp(&y);
                if ascending { order } else { order.reverse() }
            }
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        };
        order.then(a.id.cmp(&b.id))
    });
}

/// What a row is sorted by in `column`.
#[derive(Debug)]
enum SortKey {
    Number(f32),
    Text(String),
}

impl SortKey {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Self::Number(x), Self::Number(y)) => x.total_cmp(y),
            (Self::Text(x), Self::Text(y)) => x.cmp(y),
            (Self::Number(_), Self::Text(_)) => Ordering::Less,
            (Self::Text(_), Self::Number(_)) => Ordering::Greater,
        }
    }
}

fn sort_key(row: &Row, column: SortColumn, studies: &[Study]) -> Option<SortKey> {
    let result = || row.result.as_ref();
    let report = || result().map(|r| &r.analysis.report);
    let areas = || report().and_then(|r| r.lesion_area_percent);
    Some(match column {
        SortColumn::Arrival => SortKey::Number(row.id as f32),
        SortColumn::File => SortKey::Text(row.name.to_lowercase()),
        SortColumn::Class => {
            SortKey::Text(class_label(report()?.prediction.predicted_class).to_string())
        }
        SortColumn::Covid => SortKey::Number(report()?.prediction.class_probabilities.covid),
        SortColumn::Ggo => SortKey::Number(areas()?.ggo),
        SortColumn::Consolidation => SortKey::Number(areas()?.consolidation),
        SortColumn::Time => SortKey::Number(result()?.total_ms as f32),
        SortColumn::Study => {
            let (study, index, _) = locate(studies, row.id)?;
            SortKey::Text(format!("{}\u{0}{index:06}", study.label.to_lowercase()))
        }
    })
}

/// CSV header, matching [`csv_line`].
const CSV_HEADER: &str = "file,predicted_class,p_normal,p_pneumonia,p_covid,ggo_percent,\
                          consolidation_percent,error,weights,study,slice,slices,notes";

/// One record per row: the numbers, or the error (or why there is no result yet), and the
/// row's study and place in it.
fn record(row: &Row, studies: &[Study]) -> Value {
    let mut value = json!({ "file": row.name, "weights": row.weights });
    if let Some((study, index, count)) = locate(studies, row.id) {
        value["study"] = json!(study.label);
        value["slice"] = json!(index);
        value["slices"] = json!(count);
    }
    match (&row.status, &row.result) {
        (RowStatus::Done, Some(result)) => {
            let report = &result.analysis.report;
            let p = report.prediction.class_probabilities;
            value["predicted_class"] = json!(report.prediction.predicted_class);
            value["p_normal"] = json!(p.normal);
            value["p_pneumonia"] = json!(p.pneumonia);
            value["p_covid"] = json!(p.covid);
            let areas = report.lesion_area_percent;
            value["ggo_percent"] = json!(areas.map(|a| a.ggo));
            value["consolidation_percent"] = json!(areas.map(|a| a.consolidation));
            if !report.notes.is_empty() {
                value["notes"] = json!(report.notes.join(" "));
            }
        }
        (RowStatus::Failed(message), _) => value["error"] = json!(message),
        _ => value["error"] = json!("not analysed yet"),
    }
    value
}

/// The rows as a JSON array of records, in the order given.
pub fn to_json(rows: &[Row]) -> String {
    let studies = studies(rows);
    let records: Vec<Value> = rows.iter().map(|r| record(r, &studies)).collect();
    serde_json::to_string_pretty(&records).unwrap_or_default()
}

/// One record per study: its label, its files head first, and the roll-up of their answers
/// (`null` before any is analysed).
pub fn studies_json(rows: &[Row]) -> String {
    let records: Vec<Value> = studies(rows)
        .iter()
        .map(|study| {
            let files: Vec<&str> = study
                .slices
                .iter()
                .filter_map(|id| rows.iter().find(|r| r.id == *id).map(|r| r.name.as_str()))
                .collect();
            json!({
                "study": study.label,
                "files": files,
                "summary": study_summary(rows, study),
            })
        })
        .collect();
    serde_json::to_string_pretty(&records).unwrap_or_default()
}

/// The rows as CSV (header [`CSV_HEADER`]), in the order given.
pub fn to_csv(rows: &[Row]) -> String {
    let studies = studies(rows);
    let mut text = String::from(CSV_HEADER);
    text.push('\n');
    for row in rows {
        text.push_str(&csv_line(&record(row, &studies)));
        text.push('\n');
    }
    text
}

fn csv_line(record: &Value) -> String {
    [
        "file",
        "predicted_class",
        "p_normal",
        "p_pneumonia",
        "p_covid",
        "ggo_percent",
        "consolidation_percent",
        "error",
        "weights",
        "study",
        "slice",
        "slices",
        "notes",
    ]
    .iter()
    .map(|key| match &record[*key] {
        Value::Null => String::new(),
        Value::String(s) => csv_field(s),
        other => other.to_string(),
    })
    .collect::<Vec<_>>()
    .join(",")
}

/// Quotes a field when it holds a comma, quote or line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
