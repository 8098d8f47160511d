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
grep -o -m1 'avx512[a-z_]*\|amx[a-z_]*' /proc/cpuinfo >/dev/null \
  && echo "CPU has AVX-512/AMX" || echo "CPU has no AVX-512/AMX"
echo "| round | TF_ENABLE_ONEDNN_OPTS | images/s |"; echo "|---|---|---|"
for round in $(seq "$ROUNDS"); do
  for opts in 0 1; do
    ips=$(TF_ENABLE_ONEDNN_OPTS=$opts python benchmarks/bench_training.py \
      --data_dir="$DATA" --image_size="$SIZE" --steps="$STEPS" \
      --rows=memory 2>/dev/null | sed -n 's/^| graph+memory | \([0-9.]*\) .*/\1/p')
    echo "| $round | $opts | $ips |"
  done
done
