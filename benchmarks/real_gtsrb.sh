#!/usr/bin/env bash
# Real GTSRB, end to end, for BENCHMARKS.md: the pipeline (tools/pipeline.py
# --preset=gtsrb-99 with the settings below) plus the benchmark-only steps
# (errors by track, paired TFLite latency). Resumable: the pipeline skips
# complete stages and training resumes from its latest checkpoint.
#
# usage: benchmarks/real_gtsrb.sh [ZIP] [OUT] [PIPELINE FLAGS...]
#   ZIP  GTSRB training archive, official layout
#        (default ../shared/gtsrb/GTSRB_Final_Training_Images_32px.zip)
#   OUT  run folder (default runs/real)
# Environment (each the pipeline flag of the same setting, over the gtsrb-99
# preset's ROI crop, schedule, shards, split and int8 settings; the defaults
# are the earlier script's, so every BENCHMARKS.md row's command still runs
# the configuration it names): SIZE (67, --image_size), EPOCHS (12),
# NORMALIZATION (batch_norm), LR (1e-3), SEED (1, the training seed), COLOR
# (false, --augment_color), SMOOTHING (0, --label_smoothing), EMA (0,
# --moving_average_decay), STANDARDIZATION (per_image,
# --input_standardization), LATENCY_RUNS (50). The gtsrb-99 recipe is
# STANDARDIZATION=equalize COLOR=true EMA=0.999 SIZE=99 EPOCHS=12.
set -euo pipefail
cd "$(dirname "$0")/.."
ZIP=${1:-../shared/gtsrb/GTSRB_Final_Training_Images_32px.zip}
OUT=${2:-runs/real}
shift $(( $# < 2 ? $# : 2 ))
python tools/pipeline.py --data="$ZIP" --output_dir="$OUT" --preset=gtsrb-99 \
  --image_size="${SIZE:-67}" --epochs="${EPOCHS:-12}" \
  --normalization="${NORMALIZATION:-batch_norm}" --learning_rate="${LR:-1e-3}" \
  --train_seed="${SEED:-1}" --augment_color="${COLOR:-false}" \
  --label_smoothing="${SMOOTHING:-0}" --moving_average_decay="${EMA:-0}" \
  --input_standardization="${STANDARDIZATION:-per_image}" \
  --latency_runs="${LATENCY_RUNS:-50}" "$@"

echo "== errors by track of the frozen graph ($(date +%T))"
# The preset's TFRecords hold whole images; its models read the ROI crop.
python benchmarks/track_errors.py --graph="$OUT/graphs/frozen.pb" \
  --data_dir="$OUT/tfrecords" --crop_roi --output="$OUT/track_errors.md"

echo "== TFLite latency, the variants timed in alternation ($(date +%T))"
MODELS=$(ls "$OUT"/tflite/alexnet_*.tflite | while read -r M; do
  N=$(basename "$M" .tflite); printf '%s=%s,' "${N#alexnet_}" "$M"; done)
python benchmarks/paired_latency.py --runs=200 --output="$OUT/latency_paired.md" \
  --models="${MODELS%,}"
echo "== done: $OUT/report.md, $OUT/track_errors.md, $OUT/latency_paired.md"
