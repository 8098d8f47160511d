#!/usr/bin/env bash
# The whole pipeline on the built-in synthetic GTSRB (the README's first
# command), timed from a clean run folder: wall time, peak memory of the
# process, and each stage's seconds as the pipeline printed them.
#
# usage: benchmarks/bench_pipeline.sh [OUT] [extra tools/pipeline.py flags]
#   OUT  run folder, redone from scratch (default /tmp/bench_pipeline)
# Target (issue 6): under 10 minutes on 2 CPU cores, validation top-1 >= 95%,
# int8 within 1 point of float; report.md holds the accuracy figures.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-/tmp/bench_pipeline}
shift || true
LOG=$(mktemp)
start=$(date +%s.%N)
/usr/bin/time -f "%M" -o "$LOG.rss" python tools/pipeline.py \
  --output_dir="$OUT" --force "$@" > "$LOG" 2>&1 || {
  tail -20 "$LOG"; echo "pipeline failed; full log: $LOG"; exit 1; }
end=$(date +%s.%N)
echo "| stage | seconds |"; echo "|---|---|"
# Progress bars end in \r, not \n: split on both so every stage line shows.
tr '\r' '\n' < "$LOG" |
  sed -n 's/^\[[0-9]*\/[0-9]*\] \([a-z]*\): done in \([0-9.]*\) s$/| \1 | \2 |/p'
echo "| **whole pipeline (wall)** | **$(python -c "print(f'{$end - $start:.1f}')")** |"
echo; echo "peak RSS $(( $(cat "$LOG.rss") / 1024 )) MiB; report: $OUT/report.md"
