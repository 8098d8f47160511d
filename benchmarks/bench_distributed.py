"""One process against 2 workers + 1 parameter server, at the same total batch.

  python benchmarks/bench_distributed.py --data_dir=/work/runs/gtsrb99/tfrecords \
      --image_size=99 --total_batch=64 --steps=12

Runs tools/train.py twice on 127.0.0.1 with the gtsrb-99 recipe's network
settings: once as one process at --total_batch, once as a cluster of one ps
and two workers at half of it each. From the chief's per-step log lines
(after --warmup steps) it takes the median step time, so images/s; from the
loopback interface's byte counter (/proc/net/dev, `lo`) between those steps
it takes the bytes exchanged per step, beside the model's parameter bytes
(each worker pulls every variable and pushes every gradient once a step).
Prints a markdown table, then the scaling model of BENCHMARKS.md from the
measured figures (--images_per_sec_227: the 227x227 one-process rate, from
BENCHMARKS.md's training-throughput section).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time

from alexnet.training import local_cluster

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_STEP_LINE = re.compile(r"step = (\d+)")
# AlexNet's parameters (alexnet/nets/alexnet.py, 43 classes): the five
# convolutions and fc7/fc8 do not depend on the input size, fc6 takes pool5.
_CONV_PARAMS = (11 * 11 * 3 * 96 + 96 + 5 * 5 * 96 * 256 + 256 +
                3 * 3 * 256 * 384 + 384 + 3 * 3 * 384 * 384 + 384 +
                3 * 3 * 384 * 256 + 256)
_FC_PARAMS = 4096 * 4096 + 4096 + 4096 * 43 + 43


def _pool5_side(size):
  side = (size - 11) // 4 + 1  # conv1, VALID, stride 4
  for _ in range(3):  # pool1, pool2, pool5: 3x3 stride 2, VALID
    side = (side - 3) // 2 + 1
  return side


def parameter_bytes(size):
  fc6 = _pool5_side(size) ** 2 * 256 * 4096 + 4096
  return 4 * (_CONV_PARAMS + fc6 + _FC_PARAMS)


def _loopback_bytes():
  with open("/proc/net/dev") as f:
    for line in f:
      name, _, counters = line.partition(":")
      if name.strip() == "lo":
        return int(counters.split()[0])  # received = sent on lo
  raise RuntimeError("no loopback interface in /proc/net/dev")


def _common(args, model_dir, batch):
  return [sys.executable, os.path.join(REPO_ROOT, "tools", "train.py"),
          f"--data_dir={args.data_dir}", f"--model_dir={model_dir}",
          f"--image_size={args.image_size}", f"--batch_size={batch}",
          f"--max_steps={args.steps}", "--log_every_n_steps=1",
          "--normalization=batch_norm", "--input_standardization=equalize",
          "--augment", "--augment_color", "--moving_average_decay=0.999",
          "--learning_rate=1e-3", "--noexport", "--seed=0",
          f"--num_threads={args.threads}"]


def _cpu_seconds(procs):
  """User + system CPU seconds so far of every process of the run."""
  total = 0
  for proc in procs:
    try:
      with open(f"/proc/{proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
      continue
    total += int(fields[11]) + int(fields[12])  # utime, stime
  return total / os.sysconf("SC_CLK_TCK")


def _watch(proc, procs, samples):
  """Records (time, step, loopback bytes, CPU seconds of all the run's
  processes) for each of the chief's step lines."""
  for line in proc.stdout:
    match = _STEP_LINE.search(line)
    if match and "loss" in line:
      samples.append((time.perf_counter(), int(match.group(1)),
                      _loopback_bytes(), _cpu_seconds(procs)))


def _train_only(data_dir, workdir):
  """The dataset's training split alone (links to its shards), so neither
  run spends time on a validation pass."""
  with open(os.path.join(data_dir, "manifest.json")) as f:
    manifest = json.load(f)
  manifest["splits"] = {"train": manifest["splits"]["train"]}
  out = os.path.join(workdir, "train_only")
  os.makedirs(out)
  for shard in manifest["splits"]["train"]["shards"]:
    os.symlink(os.path.abspath(os.path.join(data_dir, shard)),
               os.path.join(out, shard))
  with open(os.path.join(out, "manifest.json"), "w") as f:
    json.dump(manifest, f)
  return out


def run(args, distributed):
  """{"images_per_sec", "bytes_per_step", "step_seconds"} of one setting."""
  workdir = tempfile.mkdtemp(prefix="bench_distributed_")
  args = argparse.Namespace(**{**vars(args),
                               "data_dir": _train_only(args.data_dir, workdir)})
  procs, samples = [], []
  try:
    if distributed:
      local = local_cluster.local_hosts(2)
      hosts = [f"--{name}={','.join(value)}" for name, value in local.items()]
      batch = args.total_batch // 2
      tasks = [("ps", 0), ("worker", 1), ("worker", 0)]
    else:
      hosts, batch, tasks = [], args.total_batch, [(None, 0)]
    for job, index in tasks:
      chief = job != "ps" and index == 0
      command = _common(args, os.path.join(
          workdir, "worker1" if job == "worker" and index else "chief"), batch)
      if job:
        command += hosts + [f"--job_name={job}", f"--task_index={index}"]
      proc = subprocess.Popen(
          command, cwd=REPO_ROOT, text=True,
          stdout=subprocess.PIPE if chief else subprocess.DEVNULL,
          stderr=subprocess.STDOUT if chief else subprocess.DEVNULL)
      procs.append(proc)
      if chief:
        watcher = threading.Thread(target=_watch, args=(proc, procs, samples))
        watcher.start()
    for proc in procs:
      proc.wait(timeout=args.timeout)
    watcher.join()
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
  # Steps after the warm-up, before the last (its checkpoint).
  timed = [s for s in samples if args.warmup <= s[1] < args.steps - 1]
  if len(timed) < 3:
    raise SystemExit(f"only {len(timed)} timed steps: raise --steps")
  intervals = [b[0] - a[0] for a, b in zip(timed, timed[1:])]
  step_seconds = statistics.median(intervals)
  steps = timed[-1][1] - timed[0][1]
  bytes_per_step = (timed[-1][2] - timed[0][2]) / steps
  cpu_per_step = (timed[-1][3] - timed[0][3]) / steps
  return {"images_per_sec": args.total_batch / step_seconds,
          "step_seconds": step_seconds, "bytes_per_step": bytes_per_step,
          "cpu_seconds_per_step": cpu_per_step,
          "intervals": [round(i, 3) for i in intervals],
          "steps_logged": [s[1] for s in samples]}


def scaling_rows(images_per_sec_99, overhead_99, images_per_sec_227, batch,
                 epochs, train_images):
  """Modelled step time and 12-epoch time for N workers (one 2-core machine
  each, like this one) at per-worker `batch`, for link speeds in Gbit/s.

  step(N) = compute + overhead + traffic: compute = batch / (one process's
  images/s); overhead = the measured runtime cost on top of it; traffic =
  2 x parameter bytes P through each worker's link, and N times that
  through the parameter servers' links, here one ps per worker machine (the
  variables split evenly), so that the busiest link carries 2 x P bytes.
  With a single ps its link carries 2 x N x P and bounds the speed-up. The
  overhead, measured at 99x99, is taken to grow with P at 227x227.
  """
  rows = []
  for size, rate in ((99, images_per_sec_99), (227, images_per_sec_227)):
    params = parameter_bytes(size)
    overhead = overhead_99 * params / parameter_bytes(99)
    for gbit in (1, 10, 25):
      link = gbit * 1e9 / 8
      for n in (1, 2, 4, 8, 16, 32, 64):
        compute = batch / rate
        spread = compute + overhead + 2 * params / link
        one_ps = compute + overhead + 2 * params * n / link
        minutes = epochs * train_images / (n * batch / spread) / 60
        rows.append((size, gbit, n, spread, one_ps, minutes))
  return rows


def main():
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--data_dir", required=True)
  parser.add_argument("--image_size", type=int, default=99)
  parser.add_argument("--total_batch", type=int, default=64)
  parser.add_argument("--steps", type=int, default=12)
  parser.add_argument("--warmup", type=int, default=3)
  parser.add_argument("--threads", type=int, default=0)
  parser.add_argument("--timeout", type=int, default=1800)
  parser.add_argument("--images_per_sec_227", type=float, default=28.5)
  args = parser.parse_args()

  one = run(args, distributed=False)
  two = run(args, distributed=True)
  # Images/s from the CPU time: what the step costs on 2 unshared cores.
  for row in (one, two):
    row["images_per_cpu_sec_2_cores"] = (
        2 * args.total_batch / row["cpu_seconds_per_step"])
  params = parameter_bytes(args.image_size)
  print(json.dumps({"one_process": one, "two_workers_one_ps": two,
                    "parameter_bytes": params}, indent=2))
  print(f"\n| setting (total batch {args.total_batch}, {args.image_size}×"
        f"{args.image_size}) | s/step | images/s | MB exchanged/step | CPU s/step "
        "|")
  print("|---|---|---|---|---|")
  for name, row in (("1 process", one), ("2 workers + 1 ps", two)):
    print(f"| {name} | {row['step_seconds']:.3f} | "
          f"{row['images_per_sec']:.1f} | {row['bytes_per_step'] / 1e6:.1f} "
          f"| {row['cpu_seconds_per_step']:.2f} |")
  print(f"\nparameters: {params / 1e6:.1f} MB; 2 workers x (pull + push) = "
        f"{4 * params / 1e6:.1f} MB per step")

  # On a shared machine more processes get more of the CPU, so wall time
  # flatters the cluster; the CPU time a step costs does not. The runtime's
  # overhead is the cluster's extra CPU per step, as wall time on 2 cores.
  overhead = max(0.0, two["cpu_seconds_per_step"] -
                 one["cpu_seconds_per_step"]) / 2
  with open(os.path.join(args.data_dir, "manifest.json")) as f:
    train_images = json.load(f)["splits"]["train"]["count"]
  print(f"\nscaling model (per-worker batch {args.total_batch}, overhead "
        f"{overhead:.3f} s/step, {train_images} training images, 12 epochs)")
  print("\n| size | Gbit/s | workers | s/step (ps per machine) | s/step (1 ps) "
        "| 12 epochs, min |")
  print("|---|---|---|---|---|---|")
  for size, gbit, n, spread, one_ps, minutes in scaling_rows(
      one["images_per_cpu_sec_2_cores"], overhead, args.images_per_sec_227,
      args.total_batch, 12, train_images):
    print(f"| {size} | {gbit} | {n} | {spread:.2f} | {one_ps:.2f} | "
          f"{minutes:.1f} |")


if __name__ == "__main__":
  main()
