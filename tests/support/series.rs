//! DICOM series written by the tests: small CT slices that carry a study, a series, a patient,
//! an instance number and a position, as a scanner's export of one scan does.

use dicom_core::{DataElement, PrimitiveValue, VR};
use dicom_dictionary_std::tags;
use dicom_object::{FileMetaTableBuilder, InMemDicomObject};

/// Where a written slice sits.
pub struct Placed<'a> {
    /// Study Instance UID.
    pub study: &'a str,
    /// Series Instance UID.
    pub series: &'a str,
    /// Patient ID.
    pub patient: &'a str,
    /// Image Position (Patient) z, mm.
    pub z: f64,
    /// Instance Number.
    pub instance: i32,
    /// Image Orientation (Patient): row then column direction cosines.
    pub orientation: [f64; 6],
}

/// Axial slices, rows along +x and columns along +y (normal +z).
pub const AXIAL: [f64; 6] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0];

/// A 64x64 CT slice (explicit VR little endian) at `at`, whose HU pattern depends on `z` so
/// that each slice differs.
pub fn slice_at(at: &Placed) -> Vec<u8> {
    let (w, h) = (64u16, 64u16);
    let mut obj = InMemDicomObject::new_empty();
    let mut put = |tag, vr, value: PrimitiveValue| obj.put(DataElement::new(tag, vr, value));
    put(
        tags::SOP_CLASS_UID,
        VR::UI,
        "1.2.840.10008.5.1.4.1.1.2".into(),
    );
    let sop = format!("1.2.826.0.1.3680043.2.1125.9.{}", at.instance);
    put(tags::SOP_INSTANCE_UID, VR::UI, sop.as_str().into());
    put(tags::MODALITY, VR::CS, "CT".into());
    put(tags::PATIENT_ID, VR::LO, at.patient.into());
    put(tags::STUDY_INSTANCE_UID, VR::UI, at.study.into());
    put(tags::SERIES_INSTANCE_UID, VR::UI, at.series.into());
    put(tags::STUDY_DATE, VR::DA, "20200305".into());
    put(tags::SERIES_NUMBER, VR::IS, "2".into());
    put(
        tags::INSTANCE_NUMBER,
        VR::IS,
        at.instance.to_string().as_str().into(),
    );
    let position = format!("-100\\-120\\{}", at.z);
    put(
        tags::IMAGE_POSITION_PATIENT,
        VR::DS,
        position.as_str().into(),
    );
    let cosines: Vec<String> = at.orientation.iter().map(|v| v.to_string()).collect();
    put(
        tags::IMAGE_ORIENTATION_PATIENT,
        VR::DS,
        cosines.join("\\").as_str().into(),
    );
    put(tags::ROWS, VR::US, PrimitiveValue::from(h));
    put(tags::COLUMNS, VR::US, PrimitiveValue::from(w));
    put(tags::SAMPLES_PER_PIXEL, VR::US, PrimitiveValue::from(1u16));
    put(
        tags::PHOTOMETRIC_INTERPRETATION,
        VR::CS,
        "MONOCHROME2".into(),
    );
    put(tags::BITS_ALLOCATED, VR::US, PrimitiveValue::from(16u16));
    put(tags::BITS_STORED, VR::US, PrimitiveValue::from(16u16));
    put(tags::HIGH_BIT, VR::US, PrimitiveValue::from(15u16));
    put(
        tags::PIXEL_REPRESENTATION,
        VR::US,
        PrimitiveValue::from(1u16),
    );
    put(tags::RESCALE_SLOPE, VR::DS, "1".into());
    put(tags::RESCALE_INTERCEPT, VR::DS, "-1024".into());
    let shift = at.z.abs() as i16 % 200;
    let pixels: Vec<i16> = (0..h as i16)
        .flat_map(|y| (0..w as i16).map(move |x| 200 + 12 * x + 3 * y + shift))
        .collect();
    put(tags::PIXEL_DATA, VR::OW, PrimitiveValue::I16(pixels.into()));
    let file = obj
        .with_meta(FileMetaTableBuilder::new().transfer_syntax("1.2.840.10008.1.2.1"))
        .unwrap();
    let mut bytes = Vec::new();
    file.write_all(&mut bytes).unwrap();
    bytes
}
