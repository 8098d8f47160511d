#!/usr/bin/env bash
# Real GTSRB, end to end: the exact commands behind BENCHMARKS.md's accuracy
# and TFLite tables. Each step is skipped when its output exists, so the
# script resumes after an interruption (training itself resumes from its
# latest checkpoint).
#
# usage: benchmarks/real_gtsrb.sh [ZIP] [OUT]
#   ZIP  GTSRB training archive, official layout
#        (default ../shared/gtsrb/GTSRB_Final_Training_Images_32px.zip)
#   OUT  run folder (default runs/real)
# Environment: SIZE (67), EPOCHS (12), NORMALIZATION (batch_norm), LR (1e-3),
# SEED (1, training), COLOR (false: with true, training also augments gamma
# and saturation), SMOOTHING (0: label smoothing), EMA (0: decay of the
# weights' moving averages), STANDARDIZATION (per_image: the network's input
# standardization; equalize adds histogram equalization), LATENCY_RUNS (50).
set -euo pipefail
cd "$(dirname "$0")/.."
ZIP=${1:-../shared/gtsrb/GTSRB_Final_Training_Images_32px.zip}
OUT=${2:-runs/real}
SIZE=${SIZE:-67} EPOCHS=${EPOCHS:-12} NORMALIZATION=${NORMALIZATION:-batch_norm}
LR=${LR:-1e-3} SEED=${SEED:-1} COLOR=${COLOR:-false} SMOOTHING=${SMOOTHING:-0}
EMA=${EMA:-0} STANDARDIZATION=${STANDARDIZATION:-per_image}
LATENCY_RUNS=${LATENCY_RUNS:-50}
step() { echo "== $* ($(date +%T))"; }

step "1 extract"
[ -e "$OUT/data/GTSRB" ] || python tools/download_gtsrb.py \
  --output_dir="$OUT/data" --archive="$ZIP"
IMAGES="$OUT/data/GTSRB/Final_Training/Images"

step "2-4 convert and TFRecords: full images (ROI cropped when read) and ROI crops"
[ -e "$OUT/converted" ] || python tools/convert_dataset.py \
  --input_dir="$IMAGES" --output_dir="$OUT/converted"
[ -e "$OUT/tfrecords" ] || python tools/build_tfrecord.py \
  --input_dir="$OUT/converted" --output_dir="$OUT/tfrecords" \
  --num_shards=8 --validation_fraction=0.2 --seed=0
# The same split (by track, same seed) with the crop done at conversion, for
# the tools that read images without a model config (TFLite calibration and
# evaluation).
[ -e "$OUT/converted_roi" ] || python tools/convert_dataset.py \
  --input_dir="$IMAGES" --output_dir="$OUT/converted_roi" --crop_roi
[ -e "$OUT/tfrecords_roi" ] || python tools/build_tfrecord.py \
  --input_dir="$OUT/converted_roi" --output_dir="$OUT/tfrecords_roi" \
  --num_shards=8 --validation_fraction=0.2 --seed=0

step "5-6 train"
python tools/train.py --data_dir="$OUT/tfrecords" --model_dir="$OUT/model" \
  --image_size="$SIZE" --batch_size=64 --epochs="$EPOCHS" \
  --normalization="$NORMALIZATION" --input_standardization="$STANDARDIZATION" \
  --augment --augment_color="$COLOR" \
  --crop_roi --label_smoothing="$SMOOTHING" --moving_average_decay="$EMA" \
  --learning_rate="$LR" --lr_schedule=cosine --warmup_epochs=1 \
  --seed="$SEED" --save_checkpoints_secs=300 --log_every_n_steps=200

step "7 evaluate (best checkpoint, validation tracks)"
python tools/evaluate.py --data_dir="$OUT/tfrecords" --model_dir="$OUT/model" \
  --split=validation --output_dir="$OUT/evaluation"

step "8 freeze, summarize, transform"
mkdir -p "$OUT/graphs" "$OUT/tflite"
python tools/freeze.py --input_graph="$OUT/model/export/inference_graph.pb" \
  --input_checkpoint="$OUT/model/export/model.ckpt" --input_binary=true \
  --output_graph="$OUT/graphs/frozen.pb" --output_node_names=probabilities
python tools/summarize.py --in_graph="$OUT/graphs/frozen.pb" \
  > "$OUT/graphs/summary.txt"
python tools/transform.py --in_graph="$OUT/graphs/frozen.pb" \
  --out_graph="$OUT/graphs/transformed.pb" --inputs=input \
  --outputs=probabilities --transforms="
    strip_unused_nodes(type=float, shape=\"1,$SIZE,$SIZE,3\")
    remove_nodes(op=Identity, op=CheckNumerics)
    fold_constants(ignore_errors=true) round_weights(num_steps=256)
    obfuscate_names sort_by_execution_order fold_old_batch_norms
    fold_batch_norms"

step "8.2 TensorFlow Lite, four ways, and int8 with conv1 kept float"
for V in none dynamic float16 int8 int8_float_conv1; do
  ARGS=(--quantize="${V%%_*}")  # int8_float_conv1 -> int8
  case $V in int8*) ARGS+=(--representative_data="$OUT/tfrecords_roi"
    --representative_samples=500 --inference_input_type=QUANTIZED_UINT8) ;;
  esac
  # XNNPACK's int8 conv1 is slower than its float one on x86 CPUs without
  # 8-bit dot products (BENCHMARKS.md, profile by layer).
  [ "$V" = int8_float_conv1 ] && ARGS+=(--float_layers=conv1)
  python tools/convert.py --input_file="$OUT/graphs/frozen.pb" \
    --output_file="$OUT/tflite/alexnet_$V.tflite" --input_arrays=input \
    --output_arrays=probabilities --input_shapes="1,$SIZE,$SIZE,3" \
    "${ARGS[@]}"
done

step "9 compare every variant on the validation tracks"
python tools/compare_models.py --data_dir="$OUT/tfrecords_roi" \
  --split=validation --latency_runs="$LATENCY_RUNS" --output_dir="$OUT" \
  --models="frozen=$OUT/graphs/frozen.pb,transformed=$OUT/graphs/transformed.pb,tflite_float=$OUT/tflite/alexnet_none.tflite,tflite_dynamic=$OUT/tflite/alexnet_dynamic.tflite,tflite_float16=$OUT/tflite/alexnet_float16.tflite,tflite_int8=$OUT/tflite/alexnet_int8.tflite,tflite_int8_float_conv1=$OUT/tflite/alexnet_int8_float_conv1.tflite"

step "9.1 the frozen graph's errors by track (which signs it misreads)"
python benchmarks/track_errors.py --graph="$OUT/graphs/frozen.pb" \
  --data_dir="$OUT/tfrecords_roi" --output="$OUT/track_errors.md"

step "10 TFLite latency, the variants timed in alternation (fair ratios)"
T="$OUT/tflite/alexnet"
python benchmarks/paired_latency.py --runs=200 --output="$OUT/latency_paired.md" \
  --models="float=${T}_none.tflite,dynamic=${T}_dynamic.tflite,float16=${T}_float16.tflite,int8=${T}_int8.tflite,int8_float_conv1=${T}_int8_float_conv1.tflite"
step "done: $OUT/comparison.md, $OUT/track_errors.md, $OUT/latency_paired.md"
