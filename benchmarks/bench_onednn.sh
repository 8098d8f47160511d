#!/usr/bin/env bash
# TensorFlow's oneDNN kernels against its default Eigen kernels for AlexNet
# training, alternating in one run (TF_ENABLE_ONEDNN_OPTS is read once per
# process, so each row is its own bench_training.py process). TensorFlow
# turns oneDNN on by itself only on AVX-512 VNNI/BF16 or AMX CPUs; the
# alexnet package asks for it everywhere (alexnet/__init__.py), and this
# measures what that buys on the CPU at hand.
#
# usage: benchmarks/bench_onednn.sh TFRECORDS [IMAGE_SIZE] [STEPS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1 SIZE=${2:-67} STEPS=${3:-40} ROUNDS=${4:-2}
# What TensorFlow picks by itself on this CPU (alexnet not imported).
echo "TensorFlow's own default here, oneDNN on: $(env -u TF_ENABLE_ONEDNN_OPTS \
  python -c 'from tensorflow.python.util import _pywrap_util_port as p
print(p.IsMklEnabled())' 2>/dev/null)"
LOG=$(mktemp)
echo "| round | TF_ENABLE_ONEDNN_OPTS | images/s |"; echo "|---|---|---|"
for round in $(seq "$ROUNDS"); do
  for opts in 0 1; do
    ips=$(TF_ENABLE_ONEDNN_OPTS=$opts python benchmarks/bench_training.py \
      --data_dir="$DATA" --image_size="$SIZE" --steps="$STEPS" \
      --rows=memory 2>"$LOG" | sed -n 's/^| graph+memory | \([0-9.]*\) .*/\1/p') \
      || { tail -5 "$LOG"; echo "bench_training.py failed; log: $LOG"; exit 1; }
    echo "| $round | $opts | $ips |"
  done
done
