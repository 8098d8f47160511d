#!/usr/bin/env bash
# Freeze -> summarize -> transform -> TensorFlow Lite, the original project's chain.
#
# usage: scripts/convert.sh INPUT_GRAPH CHECKPOINT INPUT_BINARY FROZEN_OUT \
#          INPUT_NAMES OUTPUT_NAMES TFLITE_OUT INPUT_TYPE INFERENCE_TYPE \
#          TRANSFORMED_OUT
#
#   INPUT_GRAPH     inference GraphDef (e.g. runs/alexnet/export/graph.pb)
#   CHECKPOINT      checkpoint prefix (e.g. runs/alexnet/export/model.ckpt)
#   INPUT_BINARY    true if INPUT_GRAPH is binary, false if text
#   FROZEN_OUT      frozen graph to write
#   INPUT_NAMES     input node(s), e.g. input
#   OUTPUT_NAMES    output node(s), e.g. probabilities
#   TFLITE_OUT      .tflite to write
#   INPUT_TYPE      FLOAT | QUANTIZED_UINT8 | INT8 (--inference_input_type)
#   INFERENCE_TYPE  FLOAT | QUANTIZED_UINT8 | INT8 (--inference_type)
#   TRANSFORMED_OUT transformed graph to write
#
# With INFERENCE_TYPE=QUANTIZED_UINT8 a quantization-aware model (tools/train.py
# --quantize_delay) converts from its trained ranges, with no representative
# data, as toco did; a float graph needs tools/convert.py's calibration flags.
# INPUT_SHAPE (default 1,227,227,3) sets the input shape for the transforms
# and the converter; PYTHON (default python) the interpreter. obfuscate_names
# keeps the --inputs/--outputs names, so the converter still finds them.
set -euo pipefail

if [ "$#" -ne 10 ]; then
  sed -n '3,16p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
INPUT_GRAPH=$1 CHECKPOINT=$2 INPUT_BINARY=$3 FROZEN=$4 INPUTS=$5 OUTPUTS=$6
TFLITE=$7 INPUT_TYPE=$8 INFERENCE_TYPE=$9 TRANSFORMED=${10}
INPUT_SHAPE=${INPUT_SHAPE:-1,227,227,3}
PYTHON=${PYTHON:-python}
TOOLS="$(cd "$(dirname "$0")/.." && pwd)/tools"

echo "== freeze -> $FROZEN"
"$PYTHON" "$TOOLS/freeze.py" --input_graph="$INPUT_GRAPH" \
  --input_checkpoint="$CHECKPOINT" --input_binary="$INPUT_BINARY" \
  --output_graph="$FROZEN" --output_node_names="$OUTPUTS"

echo "== summarize $FROZEN"
"$PYTHON" "$TOOLS/summarize.py" --in_graph="$FROZEN"

echo "== transform -> $TRANSFORMED"
"$PYTHON" "$TOOLS/transform.py" --in_graph="$FROZEN" \
  --out_graph="$TRANSFORMED" --inputs="$INPUTS" --outputs="$OUTPUTS" \
  --transforms="strip_unused_nodes(type=float, shape=\"$INPUT_SHAPE\")
    remove_nodes(op=Identity, op=CheckNumerics)
    fold_constants(ignore_errors=true)
    round_weights(num_steps=256)
    obfuscate_names
    sort_by_execution_order
    fold_old_batch_norms
    fold_batch_norms"

if [ ! -f "$TOOLS/convert.py" ]; then
  echo "tools/convert.py does not exist yet: stopping after transform" >&2
  exit 0
fi
echo "== convert -> $TFLITE"
"$PYTHON" "$TOOLS/convert.py" --input_file="$TRANSFORMED" \
  --output_file="$TFLITE" --input_arrays="$INPUTS" \
  --output_arrays="$OUTPUTS" --input_shapes="$INPUT_SHAPE" \
  --inference_type="$INFERENCE_TYPE" --inference_input_type="$INPUT_TYPE"
