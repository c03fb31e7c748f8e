//! Reading labelled segmentation slices (`images/<name>.png` with `masks/<name>.png`, mask
//! values 0 background, 1 GGO, 2 consolidation: the layout of `../shared/data`'s MedSeg split)
//! and turning them into training examples.

use std::path::{Path, PathBuf};

use burn::prelude::Device;
use image::RgbImage;

use super::instances::{LabelMask, instances};
use super::step::TrainingExample;
use super::targets::GroundTruth;
use crate::model::ModelInput;
use crate::transform::{TransformConfig, preprocess};

/// What can go wrong reading a labelled set.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file is not a readable image.
    #[error("{path} is not a readable image: {message}")]
    Decode {
        /// The path.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// An image and its mask differ in size.
    #[error("{path}: the mask is {mask:?} pixels but the image is {image:?}")]
    SizeMismatch {
        /// The mask's path.
        path: PathBuf,
        /// `[H, W]` of the mask.
        mask: [usize; 2],
        /// `[H, W]` of the image.
        image: [usize; 2],
    },
    /// The folder holds no labelled slice.
    #[error("{0} holds no image with a mask (expected images/<name>.png and masks/<name>.png)")]
    Empty(PathBuf),
}

/// A slice with its lesion mask.
#[derive(Debug, Clone)]
pub struct LabelledSlice {
    /// File name.
    pub name: String,
    /// The slice.
    pub image: RgbImage,
    /// Its labels.
    pub mask: LabelMask,
}

fn decode(path: &Path) -> Result<image::DynamicImage, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    image::load_from_memory(&bytes).map_err(|e| DataError::Decode {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Every `images/*.png` of `dir` that has a `masks/` file of the same name, sorted by name.
pub fn read_labelled_dir(dir: &Path) -> Result<Vec<LabelledSlice>, DataError> {
    let images = dir.join("images");
    let entries = std::fs::read_dir(&images).map_err(|source| DataError::Io {
        path: images.clone(),
        source,
    })?;
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.to_ascii_lowercase().ends_with(".png"))
        .filter(|n| dir.join("masks").join(n).is_file())
        .collect();
    names.sort_by_key(|n| {
        let stem = n.trim_end_matches(".png");
        (stem.parse::<u64>().unwrap_or(u64::MAX), n.clone())
    });
    if names.is_empty() {
        return Err(DataError::Empty(dir.to_path_buf()));
    }
    names
        .into_iter()
        .map(|name| {
            let image = decode(&images.join(&name))?.to_rgb8();
            let mask_path = dir.join("masks").join(&name);
            let mask = decode(&mask_path)?.to_luma8();
            let size = [image.height() as usize, image.width() as usize];
            let mask_size = [mask.height() as usize, mask.width() as usize];
            if size != mask_size {
                return Err(DataError::SizeMismatch {
                    path: mask_path,
                    mask: mask_size,
                    image: size,
                });
            }
            Ok(LabelledSlice {
                name,
                image,
                mask: LabelMask {
                    size,
                    labels: mask.into_raw(),
                },
            })
        })
        .collect()
}

/// The training example of `slice` (mirrored left to right when `flip`), pre-processed by
/// `transform`, with regions under `min_pixels` pixels dropped.
pub fn training_example(
    slice: &LabelledSlice,
    flip: bool,
    transform: &TransformConfig,
    min_pixels: usize,
    device: &Device,
) -> TrainingExample {
    let (image, mask) = if flip {
        (
            image::imageops::flip_horizontal(&slice.image),
            slice.mask.flipped(),
        )
    } else {
        (slice.image.clone(), slice.mask.clone())
    };
    let pre = preprocess(&image, transform);
    let found = instances(&mask, 2, min_pixels);
    let truth = GroundTruth::new(found, mask.size, pre.scale);
    TrainingExample {
        input: ModelInput::new(pre.data, pre.padded, pre.resized, pre.original, device),
        truth,
    }
}
