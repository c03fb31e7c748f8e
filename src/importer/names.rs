//! Weight-name canonicalisation.
//!
//! The canonical names are the ones the authors' checkpoints carry (torchvision 0.3). Modern
//! torchvision wraps the FPN convolutions and the mask-head convolutions in `Sequential`
//! blocks, and `nn.DataParallel` prefixes every name with `module.`; both are undone here.

/// Maps a state-dict key to the authors' (torchvision 0.3) name.
///
/// * a leading `module.` (DataParallel) is removed;
/// * `backbone.fpn.inner_blocks.N.0.{weight,bias}` becomes `backbone.fpn.inner_blocks.N.{..}`,
///   and the same for `layer_blocks`;
/// * `roi_heads.mask_head.K.0.{weight,bias}` becomes `roi_heads.mask_head.mask_fcn{K+1}.{..}`.
///
/// Any other name is returned unchanged.
pub fn canonical_name(name: &str) -> String {
    let name = name.strip_prefix("module.").unwrap_or(name);
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [
            "backbone",
            "fpn",
            blocks @ ("inner_blocks" | "layer_blocks"),
            n,
            "0",
            param,
        ] if is_index(n) && is_param(param) => {
            format!("backbone.fpn.{blocks}.{n}.{param}")
        }
        ["roi_heads", "mask_head", k, "0", param] if is_index(k) && is_param(param) => {
            match k.parse::<usize>() {
                Ok(k) => format!(
                    "roi_heads.mask_head.mask_fcn{}.{param}",
                    k.saturating_add(1)
                ),
                Err(_) => name.to_owned(),
            }
        }
        _ => name.to_owned(),
    }
}

/// Whether `text` names a convolution parameter.
fn is_param(text: &str) -> bool {
    matches!(text, "weight" | "bias")
}

/// Whether `text` is a plain decimal index such as `0` or `3`.
fn is_index(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::canonical_name;

    #[test]
    fn modern_and_parallel_names_map_to_the_authors_names() {
        let cases = [
            (
                "backbone.fpn.inner_blocks.2.0.weight",
                "backbone.fpn.inner_blocks.2.weight",
            ),
            (
                "backbone.fpn.layer_blocks.3.0.bias",
                "backbone.fpn.layer_blocks.3.bias",
            ),
            (
                "module.backbone.fpn.inner_blocks.0.0.bias",
                "backbone.fpn.inner_blocks.0.bias",
            ),
            (
                "roi_heads.mask_head.0.0.weight",
                "roi_heads.mask_head.mask_fcn1.weight",
            ),
            (
                "roi_heads.mask_head.3.0.bias",
                "roi_heads.mask_head.mask_fcn4.bias",
            ),
            ("module.s2new.fc_scores.weight", "s2new.fc_scores.weight"),
        ];
        for (modern, canonical) in cases {
            assert_eq!(canonical_name(modern), canonical, "{modern}");
        }
    }

    #[test]
    fn canonical_names_are_unchanged() {
        for name in [
            "backbone.fpn.inner_blocks.2.weight",
            "roi_heads.mask_head.mask_fcn1.weight",
            "backbone.body.layer1.0.bn1.running_mean",
            "roi_heads.mask_predictor.conv5_mask.weight",
            "backbone.fpn.inner_blocks.x.0.weight",
            "",
        ] {
            assert_eq!(canonical_name(name), name);
        }
    }
}
