"""Our Graph Transform Tool against the C++ one on a frozen 227x227 AlexNet.

  python benchmarks/bench_transform.py [--frozen=/tmp/alexnet227_frozen.pb]
      [--reference_python=/work/venv-tf212/bin/python] [--repeats=1]
      [--checkpoint=runs/x/model.ckpt-N --image_size=67]
      [--small_repeats=20] [--no-per_transform] [--small_only]

Makes (once) a frozen random-init AlexNet at 227x227 (~234 MB) with the
network function and our freeze, then runs the original project's transform
list on it twice per repeat, side by side in fresh processes: ours
(alexnet.graph_tools) under this Python, and TensorFlow 2.12's compiled
transform_graph (tensorflow-cpu 2.12.0 wheel in a separate venv, see
tests/graph_tools/golden/make_golden.py). For each it prints wall seconds
(whole process, and load / transform / save phases), peak RSS, and peak RSS
above the process's footprint right after importing TensorFlow. Then, per
transform (--per_transform, the default), each registered transform on its
own on the frozen AlexNet (arguments from ALEXNET_ARGS) and every golden
case of tests/graph_tools/golden (small graphs made to exercise one
transform each): one worker process per tool runs them all, the jobs given
to the two alternately. AlexNet jobs run file to file (ours: load with a
TensorStore, transform, save atomically; C++: read, transform, write;
outputs on tmpfs); small graphs are timed over serialized bytes, the scope
of the C++ call (TransformGraphWithStringInputs: bytes in, bytes out; ours
parse_graph_def with its checks, transform_graph, SerializeToString). It
takes the best of --repeats (AlexNet) or --small_repeats (small graphs),
and reports seconds, ours / C++, and the peak RSS of each AlexNet job above
the worker's footprint after importing TensorFlow (VmHWM reset between jobs
through /proc/self/clear_refs). Finally it measures what
round_weights(num_steps=256) does to the gzipped size (gzip -6, the
default, and -9).
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import tqdm

from alexnet.graph_tools import registry

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Both workers print one JSON line of phase timings and RSS figures.
_RSS = """
def rss_mb():
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("VmRSS:"):
        return int(line.split()[1]) / 1024
"""

OURS = _RSS + """
import json, sys, time
start = time.time()
import tensorflow
from alexnet.graph_tools import graph_io, registry, tensor_store
imported, base = time.time(), rss_mb()
tensors = tensor_store.TensorStore()
graph = graph_io.load_graph_def(sys.argv[1], tensors=tensors)
loaded = time.time()
graph = registry.transform_graph(graph, ["input"], ["probabilities"],
                                 sys.argv[3], tensors)
transformed = time.time()
graph_io.save_graph_def(graph, sys.argv[2], tensors=tensors)
print(json.dumps(dict(import_s=imported - start, load_s=loaded - imported,
                      transform_s=transformed - loaded,
                      save_s=time.time() - transformed, base_rss_mb=base)))
"""

REFERENCE = _RSS + """
import json, sys, time
start = time.time()
from tensorflow.python.util import _pywrap_transform_graph
imported, base = time.time(), rss_mb()
with open(sys.argv[1], "rb") as f:
  data = f.read()
loaded = time.time()
out = _pywrap_transform_graph.TransformGraphWithStringInputs(
    data, "input", "probabilities", sys.argv[3])
transformed = time.time()
with open(sys.argv[2], "wb") as f:
  f.write(out)
print(json.dumps(dict(import_s=imported - start, load_s=loaded - imported,
                      transform_s=transformed - loaded,
                      save_s=time.time() - transformed, base_rss_mb=base)))
"""


# Per-transform jobs: both workers stay up and read one JSON job [graph,
# inputs, outputs, transforms, repeats, scope] per stdin line, run it (best
# of repeats) and answer one JSON line [seconds, peak RSS MB above the
# post-import footprint, error or null]. Scope "file": file to file into
# argv[1], each tool reading and writing as its command line does. Scope
# "bytes": the graph file is read once, untimed, and what is timed is the
# library call from serialized bytes to serialized bytes (the C++ tool's
# TransformGraphWithStringInputs; ours parse_graph_def, transform_graph and
# SerializeToString), the same scope on both sides. The jobs go to the two
# tools alternately, so that load from other jobs on a shared machine hits
# both alike.
_JOBS = _RSS + """
def hwm_mb():
  with open("/proc/self/status") as f:
    for line in f:
      if line.startswith("VmHWM:"):
        return int(line.split()[1]) / 1024

def run_jobs(file_to_file, bytes_to_bytes):
  import functools, gc
  base = rss_mb()
  print("ready", flush=True)
  for line in sys.stdin:
    graph, inputs, outputs, transforms, repeats, scope = json.loads(line)
    best, error = None, None
    if scope == "bytes":
      with open(graph, "rb") as f:
        run = functools.partial(bytes_to_bytes, f.read())
    else:
      run = functools.partial(file_to_file, graph, sys.argv[1])
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
      f.write("5")  # resets VmHWM, the peak RSS, to the current RSS
    for _ in range(repeats):
      start = time.perf_counter()
      try:
        run(inputs, outputs, transforms)
      except Exception as e:  # the reference fails on some cases
        error = str(e).strip().splitlines()[0][:200] if str(e) else repr(e)
        break
      seconds = time.perf_counter() - start
      best = seconds if best is None else min(best, seconds)
    print(json.dumps([best, hwm_mb() - base, error]), flush=True)
"""

OURS_JOBS = _JOBS + """
import json, sys, time
import tensorflow
from alexnet.graph_tools import graph_io, registry, tensor_store

def file_to_file(graph, out, inputs, outputs, transforms):
  tensors = tensor_store.TensorStore()
  graph_def = graph_io.load_graph_def(graph, tensors=tensors)
  graph_def = registry.transform_graph(
      graph_def, inputs.split(","), outputs.split(","), transforms, tensors)
  graph_io.save_graph_def(graph_def, out, tensors=tensors)

def bytes_to_bytes(data, inputs, outputs, transforms):
  return registry.transform_graph(
      graph_io.parse_graph_def(data), inputs.split(","), outputs.split(","),
      transforms).SerializeToString()

run_jobs(file_to_file, bytes_to_bytes)
"""

REFERENCE_JOBS = _JOBS + """
import json, sys, time
from tensorflow.python.util import _pywrap_transform_graph

def bytes_to_bytes(data, inputs, outputs, transforms):
  return _pywrap_transform_graph.TransformGraphWithStringInputs(
      data, inputs, outputs, transforms)

def file_to_file(graph, out, inputs, outputs, transforms):
  with open(graph, "rb") as f:
    data = f.read()
  result = bytes_to_bytes(data, inputs, outputs, transforms)
  with open(out, "wb") as f:
    f.write(result)

run_jobs(file_to_file, bytes_to_bytes)
"""

# Arguments each transform gets on the frozen AlexNet (LRN), as in
# tests/graph_tools/test_alexnet_transforms.py (strip_unused_nodes gets the
# input shape); the others take none.
ALEXNET_ARGS = {
    "fold_constants": "ignore_errors=true",
    "remove_attribute": "attribute_name=_class",
    "remove_nodes": "op=Identity, op=CheckNumerics",
    "rename_attribute": ("old_attribute_name=_class, "
                         "new_attribute_name=_colocation"),
    "rename_node": ("old_node_name=alexnet/conv1/weights, "
                    "new_node_name=conv1_weights"),
    "rename_op": "old_op_name=RealDiv, new_op_name=Div",
    "round_weights": "num_steps=256",
    "set_device": 'device="/device:CPU:0"',
}
GOLDEN = os.path.join(REPO, "tests", "graph_tools", "golden")


def per_transform_jobs(frozen, image_size, repeats, small_repeats):
  """(label, job) for each transform on `frozen` (unless None) and each
  golden case."""
  jobs = []
  shape = f'type=float, shape="1,{image_size},{image_size},3"'
  for name in registry.TRANSFORM_NAMES if frozen else ():
    args = shape if name == "strip_unused_nodes" else ALEXNET_ARGS.get(name)
    transforms = f"{name}({args})" if args else name
    jobs.append((f"AlexNet: {transforms}",
                 [frozen, "input", "probabilities", transforms, repeats,
                  "file"]))
  with open(os.path.join(GOLDEN, "reference.json")) as f:
    cases = json.load(f)["cases"]
  for case, spec in sorted(cases.items()):
    if "error" in spec:
      continue
    graph = os.path.join(GOLDEN, spec["graph"] + ".input.pb")
    # As in make_golden.py: {golden} is that folder (the range logs).
    transforms = spec["transforms"].replace("{golden}", GOLDEN)
    jobs.append((f"{case}: {spec['transforms']}",
                 [graph, spec["inputs"], spec["outputs"], transforms,
                  small_repeats, "bytes"]))
  return jobs


def run_per_transform(jobs, workers, out_dir):
  """Prints one row per job: each tool's seconds, ours / C++, peak MB."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
             PYTHONPATH=REPO)
  procs = []
  # Outputs go to memory where there is a tmpfs: renaming a file over another
  # (ours writes atomically) costs milliseconds on the VM's disk, more than
  # most transforms of a small graph take.
  out_dir = "/dev/shm" if os.path.isdir("/dev/shm") else out_dir
  for name, python, code in workers:
    out = os.path.join(out_dir, f"bench_transform_{name.split()[0]}.pb")
    proc = subprocess.Popen([python, "-c", code, out], cwd=REPO, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    if proc.stdout.readline().strip() != "ready":
      sys.exit(f"{python} did not start")
    procs.append(proc)
  results = [[] for _ in procs]
  for _, job in tqdm.tqdm(jobs, desc="per transform", unit="job"):
    for proc, answers in zip(procs, results):
      proc.stdin.write(json.dumps(job) + "\n")
      proc.stdin.flush()
      answer = proc.stdout.readline()
      if not answer:
        sys.exit(f"a worker died on {job}")
      answers.append(json.loads(answer))
  for proc in procs:
    proc.stdin.close()
    proc.wait()
  for name, _, _ in workers:
    path = os.path.join(out_dir, f"bench_transform_{name.split()[0]}.pb")
    if os.path.exists(path):
      os.remove(path)
  print("| job | ours ms | C++ ms | ours / C++ | ours peak MB above import "
        "| C++ peak MB above import |")
  print("| --- | ---: | ---: | ---: | ---: | ---: |")
  ratios = {}
  for (label, job), ours, ref in zip(jobs, results[0], results[-1]):
    def cell(r):
      return f"{r[0] * 1e3:.3f}" if r[2] is None else f"error: {r[2][:60]}"
    ratio = None
    if len(results) > 1 and ours[2] is None and ref[2] is None and ref[0]:
      ratio = ratios[label] = ours[0] / ref[0]
    # Only the frozen graph's jobs are big enough for a peak to mean
    # anything (VmHWM is reset to the current RSS, what earlier jobs left).
    big = label.startswith("AlexNet:")
    print(f"| `{label}` | {cell(ours)} | "
          f"{cell(ref) if len(results) > 1 else '–'} | "
          f"{'–' if ratio is None else f'{ratio:.2f}'} | "
          f"{f'{ours[1]:.0f}' if big else '–'} | "
          f"{f'{ref[1]:.0f}' if big and len(results) > 1 else '–'} |")
  for group, prefix in (("AlexNet", True), ("small graphs", False)):
    mine = {k: v for k, v in ratios.items()
            if k.startswith("AlexNet:") == prefix}
    if mine:
      worst = max(mine, key=mine.get)
      slower = sum(1 for v in mine.values() if v > 1)
      print(f"{group}: {slower} of {len(mine)} jobs slower than C++; "
            f"largest ours / C++ {mine[worst]:.2f} ({worst})")
  peaks = [ours[1] for (label, _), ours in zip(jobs, results[0])
           if label.startswith("AlexNet:")]
  if peaks:
    print(f"AlexNet: ours peaks at most {max(peaks):.0f} MB above the "
          "post-import footprint")


def make_frozen(path, image_size=227, checkpoint=None):
  """Builds and freezes an AlexNet into `path`: random init, or the values of
  a training checkpoint (LRN variant, as train.py's default)."""
  import tensorflow as tf
  from alexnet.graph_tools import freeze
  from alexnet.graph_tools import graph_io
  from alexnet.nets import alexnet
  with tempfile.TemporaryDirectory() as tmp:
    graph = tf.Graph()
    with graph.as_default():
      logits, _ = alexnet.alexnet(alexnet.input_placeholder(image_size))
      alexnet.inference_outputs(logits)
      saver = tf.compat.v1.train.Saver()
      with tf.compat.v1.Session() as session:
        session.run(tf.compat.v1.global_variables_initializer())
        checkpoint = checkpoint or saver.save(
            session, os.path.join(tmp, "model.ckpt"))
    frozen = freeze.freeze_graph_def(graph.as_graph_def(), checkpoint,
                                     ["probabilities", "classes"])
    graph_io.save_graph_def(frozen, path)


def run_worker(python, code, args):
  """Runs `code` in a fresh `python`; returns (phases, wall s, peak RSS MB)."""
  env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
             PYTHONPATH=REPO)
  start = time.time()
  proc = subprocess.Popen([python, "-c", code] + args, cwd=REPO, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  stdout = proc.stdout.read()
  stderr = proc.stderr.read()
  _, status, usage = os.wait4(proc.pid, 0)
  proc.returncode = os.waitstatus_to_exitcode(status)
  wall = time.time() - start
  if proc.returncode != 0:
    sys.exit(f"{python} failed:\n{stderr.decode()[-2000:]}")
  phases = json.loads(stdout.decode().strip().splitlines()[-1])
  return phases, wall, usage.ru_maxrss / 1024


def gzip_size(path, level):
  with open(path, "rb") as f:
    return len(gzip.compress(f.read(), compresslevel=level))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--frozen", default="/tmp/alexnet227_frozen.pb")
  parser.add_argument("--reference_python",
                      default="/work/venv-tf212/bin/python")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--checkpoint", default=None,
                      help="freeze these trained values instead of random "
                      "init (when --frozen does not exist yet)")
  parser.add_argument("--image_size", type=int, default=227)
  parser.add_argument("--per_transform", action=argparse.BooleanOptionalAction,
                      default=True,
                      help="also time each transform on its own (AlexNet "
                      "and the golden graphs)")
  parser.add_argument("--small_repeats", type=int, default=20,
                      help="repeats per golden (small graph) case")
  parser.add_argument("--small_only", action="store_true",
                      help="only the golden cases, side by side (no frozen "
                      "AlexNet needed)")
  args = parser.parse_args()
  if args.small_only:
    workers = [("ours (Python)", sys.executable, OURS_JOBS)]
    if os.path.exists(args.reference_python):
      workers.append(("C++ (TF 2.12)", args.reference_python, REFERENCE_JOBS))
    run_per_transform(per_transform_jobs(None, args.image_size, args.repeats,
                                         args.small_repeats),
                      workers, tempfile.gettempdir())
    return
  if not os.path.exists(args.frozen):
    print(f"making {args.frozen} (AlexNet {args.image_size}x"
          f"{args.image_size}, {args.checkpoint or 'random init'}, frozen)")
    make_frozen(args.frozen, args.image_size, args.checkpoint)
  size_mb = os.path.getsize(args.frozen) / 2**20
  print(f"frozen graph: {args.frozen}, {size_mb:.1f} MB")
  out_dir = tempfile.mkdtemp(prefix="bench_transform_")
  workers = [("ours (Python)", sys.executable, OURS)]
  if os.path.exists(args.reference_python):
    workers.append(("C++ (TF 2.12)", args.reference_python, REFERENCE))
  else:
    print(f"no reference: {args.reference_python} is missing")
  print(f"{'tool':<15} {'wall s':>7} {'load s':>7} {'transf s':>8} "
        f"{'save s':>7} {'peak MB':>8} {'xgraph':>6} {'above TF MB':>11}")
  for repeat in range(args.repeats):
    for name, python, code in workers:
      out = os.path.join(out_dir, f"{name.split()[0]}_{repeat}.pb")
      phases, wall, peak = run_worker(python, code,
                                      [args.frozen, out, registry.ORIGINAL_TRANSFORMS])
      print(f"{name:<15} {wall:7.2f} {phases['load_s']:7.2f} "
            f"{phases['transform_s']:8.2f} {phases['save_s']:7.2f} "
            f"{peak:8.0f} {peak / size_mb:6.2f} "
            f"{peak - phases['base_rss_mb']:11.0f}")
  if args.per_transform:
    jobs = per_transform_jobs(args.frozen, args.image_size, args.repeats,
                              args.small_repeats)
    run_per_transform(jobs, [(name, python, {OURS: OURS_JOBS,
                                             REFERENCE: REFERENCE_JOBS}[code])
                             for name, python, code in workers], out_dir)
  rounded = os.path.join(out_dir, "rounded.pb")
  run_worker(sys.executable, OURS,
             [args.frozen, rounded, "round_weights(num_steps=256)"])
  for level in (6, 9):
    before, after = gzip_size(args.frozen, level), gzip_size(rounded, level)
    print(f"gzip -{level}: original {before / 2**20:.1f} MB, "
          f"round_weights(256) {after / 2**20:.1f} MB: "
          f"{100 * (1 - after / before):.1f}% smaller")
  print(f"outputs left in {out_dir}")


if __name__ == "__main__":
  main()
