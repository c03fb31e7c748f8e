#!/usr/bin/env bash
# Reproduces the default weights (weights/ct-mask-net-default.safetensors) and the figures of
# weights/MODEL_CARD.md from the public data in ../shared/data, on the CPU.
#
#   ./scripts/train-default-weights.sh            # everything (hours on two cores)
#   STAGE=classifier SEGMENTATION=path/to/epoch-NNN.safetensors ./scripts/train-default-weights.sh
#                                                  # only module S, on a trained segmentation model
#
# Steps:
# 1. train-segmentation: ResNet-18 from scratch on the 50 MedSeg training slices, anchors
#    8-128 px, each slice at its own pixel size with a random 0.8-1.25 resize and left-right
#    mirror, Adam lr 1e-4, weight decay 1e-3 ($SEG_EPOCHS epochs, a checkpoint per epoch).
# 2. finetune --mode heads: a new module S on that detector. Patient-disjoint split by source:
#    train = COVID-CT-MD P001 (COVID-19), cap001 (CAP), normal001 (normal) + MedSeg train
#    (COVID-19); validation = the CNCB pneumonia patient + MedSeg test (COVID-19). No unseen
#    normal patient exists here, so the validation set has no normal slice.
# 3. the lesion threshold shown by default: the score from which the 50 training slices get as
#    many lesions as they have objects;
# 4. combine both models into one f16 file; evaluate that file: box and mask AP on the 48
#    MedSeg test slices, the classifier on the validation set (weights/metrics.json).
#
# Work files go to $WORK (default ~/.cache/ct-mask-net/default-weights); nothing from
# ../shared is copied into the repository (the class folders are symbolic links).
set -euo pipefail
cd "$(dirname "$0")/.."

SHARED="${SHARED:-../shared/data}"
WORK="${WORK:-$HOME/.cache/ct-mask-net/default-weights}"
SEG_EPOCHS="${SEG_EPOCHS:-30}"
S_EPOCHS="${S_EPOCHS:-60}"
S_LR="${S_LR:-1e-4}"
STAGE="${STAGE:-all}"
OUT="${OUT:-weights/ct-mask-net-default.safetensors}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ct-mask-net/target}"

for d in medseg_ggo_consolidation covid_ct_md_3class/png cncb_cp_sample/png; do
    [[ -d "$SHARED/$d" ]] || { echo "missing $SHARED/$d (see ../shared/data/MANIFEST.md)" >&2; exit 1; }
done
cargo build --release --locked --bin ct-mask-net
BIN="$CARGO_TARGET_DIR/release/ct-mask-net"
mkdir -p "$WORK"

if [[ $STAGE == all ]]; then
    "$BIN" train-segmentation --data "$SHARED/medseg_ggo_consolidation/train" \
        --out "$WORK/segmentation" --epochs "$SEG_EPOCHS" --anchor-sizes 8,16,32,64,128 \
        --scale native --scale-jitter 0.25 --lr 1e-4 --seed 0
    SEGMENTATION="$WORK/segmentation/last.safetensors"
fi
SEGMENTATION="${SEGMENTATION:?set SEGMENTATION to a segmentation checkpoint}"

# Class folders of links: train and a patient-disjoint validation set.
link_all() { # <target folder> <files...>
    local dir=$1
    shift
    mkdir -p "$dir"
    for f in "$@"; do ln -sf "$(realpath "$f")" "$dir/"; done
}
rm -rf "$WORK/s-train" "$WORK/s-val"
link_all "$WORK/s-train/covid" "$SHARED"/covid_ct_md_3class/png/COVID-19_*.png
link_all "$WORK/s-train/pneumonia" "$SHARED"/covid_ct_md_3class/png/CAP_*.png
link_all "$WORK/s-train/normal" "$SHARED"/covid_ct_md_3class/png/Normal_*.png
mkdir -p "$WORK/s-train/covid"
for f in "$SHARED"/medseg_ggo_consolidation/train/images/*.png; do
    ln -sf "$(realpath "$f")" "$WORK/s-train/covid/medseg-train-$(basename "$f")"
done
link_all "$WORK/s-val/pneumonia" "$SHARED"/cncb_cp_sample/png/*.png
mkdir -p "$WORK/s-val/covid"
for f in "$SHARED"/medseg_ggo_consolidation/test/images/*.png; do
    ln -sf "$(realpath "$f")" "$WORK/s-val/covid/medseg-test-$(basename "$f")"
done

"$BIN" finetune --mode heads --weights "$SEGMENTATION" --train "$WORK/s-train" \
    --val "$WORK/s-val" --epochs "$S_EPOCHS" --lr "$S_LR" --batch 8 --seed 0 \
    --out "$WORK/classifier.safetensors" | tee "$WORK/finetune.log"

# The lesion threshold of the page and predict: the score from which the training slices get
# as many lesions as they have objects.
"$BIN" evaluate-segmentation --json --weights "$SEGMENTATION" \
    "$SHARED/medseg_ggo_consolidation/train" >"$WORK/train-eval.json"
MIN_SCORE=$(grep -o '"count_matched_score":[0-9.eE+-]*' "$WORK/train-eval.json" | cut -d: -f2)
MIN_SCORE=$(printf '%.2f' "${MIN_SCORE:-0.5}")
echo "lesion threshold: $MIN_SCORE"

"$BIN" combine --segmentation "$SEGMENTATION" --classifier "$WORK/classifier.safetensors" \
    --f16 --out "$OUT" --lesion-min-score "$MIN_SCORE" \
    --description "Default demonstration weights (ResNet-18 trained here on public data; not a diagnostic device)"
"$BIN" evaluate-segmentation --json --weights "$OUT" "$SHARED/medseg_ggo_consolidation/test" \
    >"$WORK/default-eval.json"
"$BIN" evaluate --json --weights "$OUT" "$WORK/s-val" >"$WORK/default-classifier-eval.json"
# The figures of the shipped file (f16), which tests/default_weights.rs checks.
printf '{"resnet_depth":18,"anchor_sizes":[8.0,16.0,32.0,64.0,128.0],"segmentation":%s,"classifier_validation":%s}\n' \
    "$(cat "$WORK/default-eval.json")" "$(cat "$WORK/default-classifier-eval.json")" >weights/metrics.json
echo "wrote $OUT and weights/metrics.json; logs in $WORK"
