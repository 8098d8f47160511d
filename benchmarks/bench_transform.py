"""Our Graph Transform Tool against the C++ one on a frozen 227x227 AlexNet.

  python benchmarks/bench_transform.py [--frozen=/tmp/alexnet227_frozen.pb]
      [--reference_python=/work/venv-tf212/bin/python] [--repeats=1]
      [--checkpoint=runs/x/model.ckpt-N --image_size=67]

Makes (once) a frozen random-init AlexNet at 227x227 (~234 MB) with the
network function and our freeze, then runs the original project's transform
list on it twice per repeat, side by side in fresh processes: ours
(alexnet.graph_tools) under this Python, and TensorFlow 2.12's compiled
transform_graph (tensorflow-cpu 2.12.0 wheel in a separate venv, see
tests/graph_tools/golden/make_golden.py). For each it prints wall seconds
(whole process, and load / transform / save phases), peak RSS, and peak RSS
above the process's footprint right after importing TensorFlow. Finally it
measures what round_weights(num_steps=256) does to the gzipped size
(gzip -6, the default, and -9).
"""

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

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
  args = parser.parse_args()
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
