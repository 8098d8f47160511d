#!/usr/bin/env bash
# Distributed training on one machine: NUM_PS parameter servers and
# NUM_WORKERS workers of tools/train.py on 127.0.0.1, on free ports.
#
# usage: [NUM_WORKERS=2] [NUM_PS=1] scripts/train_local_cluster.sh TRAIN_FLAGS...
#
#   TRAIN_FLAGS  tools/train.py's flags, given to every task (--data_dir,
#                --model_dir, --batch_size per worker, ...); the script adds
#                --ps_hosts, --worker_hosts, --job_name and --task_index.
#
# Every line a task prints starts with its name: [ps0], [worker0] (the
# chief), [worker1], ... The script's own lines start with [cluster]: the
# hosts, each task's pid and the command that restarts it, so a task can be
# killed (kill -9) and restarted by hand to try the faults
# (docs/distributed.md). It ends when the chief finishes (the others end by
# themselves then; those left after GRACE_SECS, default 60, are stopped),
# when a task fails with an error, and on Ctrl-C, stopping every task. A task
# killed by a signal leaves the others waiting for its restart; the script
# then ends when its own tasks have ended (the parameter servers end once
# every worker, restarted ones included, has finished). PYTHON (default
# python3) is the interpreter.
set -uo pipefail

if [ "$#" -eq 0 ]; then
  sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
NUM_WORKERS=${NUM_WORKERS:-2} NUM_PS=${NUM_PS:-1} GRACE_SECS=${GRACE_SECS:-60}
for name in NUM_WORKERS NUM_PS GRACE_SECS; do
  if ! [[ ${!name} =~ ^[0-9]+$ ]] || [ "${!name}" -lt 1 ]; then
    echo "[cluster] $name=${!name} is not a positive integer" >&2
    exit 2
  fi
done
PYTHON=${PYTHON:-python3}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# This checkout's tools with this checkout's library.
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
HOSTS=$("$PYTHON" -c "import sys; from alexnet.training import local_cluster
print(local_cluster.host_flags(int(sys.argv[1]), int(sys.argv[2])))" \
  "$NUM_WORKERS" "$NUM_PS") || exit 1
read -r -a HOST_FLAGS <<< "$HOSTS"
COMMAND=("$PYTHON" "$ROOT/tools/train.py" "$@" "${HOST_FLAGS[@]}")
FIFOS=$(mktemp -d)
declare -A NAME_OF=()
TASKS=() PREFIXERS=()

echo "[cluster] $HOSTS"
echo "[cluster] each task: PYTHONPATH=$PYTHONPATH $(printf '%q ' "${COMMAND[@]}")--job_name=JOB --task_index=INDEX"

start() {  # NAME JOB INDEX
  # A fifo, not a pipe, so that both the task's pid and its prefixer's are
  # known; each carriage return (a progress bar's redraw) starts a new line.
  mkfifo "$FIFOS/$1"
  sed -u -e 's/\r*$//; s/^\r*//' -e "s/\r\{1,\}/\n[$1] /g; s/^/[$1] /" \
    < "$FIFOS/$1" &
  PREFIXERS+=($!)
  "${COMMAND[@]}" --job_name="$2" --task_index="$3" > "$FIFOS/$1" 2>&1 &
  TASKS+=($!)
  NAME_OF[$!]=$1
  echo "[cluster] [$1] is pid $! (--job_name=$2 --task_index=$3)"
}

alive() {
  local pid
  for pid in "${TASKS[@]}"; do
    if kill -0 "$pid" 2> /dev/null; then echo "$pid"; fi
  done
}

stop_all() {  # TERM (Python's default: exit at once), then KILL after 5 s.
  local pids
  pids=$(alive)
  if [ -n "$pids" ]; then
    echo "[cluster] stopping $(for p in $pids; do printf '[%s] ' "${NAME_OF[$p]}"; done)"
    kill -TERM $pids 2> /dev/null
    for _ in $(seq 50); do
      [ -z "$(alive)" ] && break
      sleep 0.1
    done
    pids=$(alive)
    [ -n "$pids" ] && kill -KILL $pids 2> /dev/null
  fi
  wait "${TASKS[@]}" "${PREFIXERS[@]}" 2> /dev/null
  rm -rf "$FIFOS"
}

trap 'echo "[cluster] interrupted"; stop_all; exit 130' INT
trap 'echo "[cluster] terminated"; stop_all; exit 143' TERM

for ((i = 0; i < NUM_PS; i++)); do start "ps$i" ps "$i"; done
for ((i = 0; i < NUM_WORKERS; i++)); do start "worker$i" worker "$i"; done
CHIEF=${TASKS[NUM_PS]}

waiting=("${TASKS[@]}")
status=0
while [ "${#waiting[@]}" -gt 0 ]; do
  done_pid=
  # (bash's own "Killed" line goes: the script says it below.)
  wait -n -p done_pid "${waiting[@]}" 2> /dev/null
  rc=$?
  [ -z "$done_pid" ] && continue
  name=${NAME_OF[$done_pid]}
  left=()
  for pid in "${waiting[@]}"; do
    [ "$pid" != "$done_pid" ] && left+=("$pid")
  done
  waiting=("${left[@]}")
  if [ "$rc" -gt 128 ]; then
    echo "[cluster] [$name] was killed (signal $((rc - 128))): the others wait for it; restart it with the command above"
  elif [ "$rc" -ne 0 ]; then
    echo "[cluster] [$name] failed (exit status $rc): stopping the cluster"
    status=$rc
    break
  elif [ "$done_pid" = "$CHIEF" ]; then
    echo "[cluster] the chief finished; waiting up to ${GRACE_SECS} s for the others"
    for _ in $(seq $((GRACE_SECS * 10))); do
      [ -z "$(alive)" ] && break
      sleep 0.1
    done
    break
  else
    echo "[cluster] [$name] finished"
  fi
done
stop_all
exit "$status"
