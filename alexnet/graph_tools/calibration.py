"""The Graph Transform Tool README's calibration workflow, as one call.

A graph after quantize_nodes measures the range of every 32-bit result on
each run (RequantizationRange). The README replaces those measurements by
fixed ranges in three steps: insert_logging on the RequantizationRange ops,
run the logged copy on representative images with its stderr captured, and
freeze_requantization_ranges with that log. `calibrate` does the three;
`tools/transform.py --calibration_data=...` runs it after --transforms.
"""

import contextlib
import os
import sys

import tensorflow as tf
from tqdm import tqdm

from alexnet.core import atomic_files
from alexnet.core.errors import UserError
from alexnet.core.session import session_config
from alexnet.datasets import tfrecord_reader
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry
from alexnet.graph_tools.transforms import freeze_requantization_ranges

LOGGING = [("insert_logging", {
    "op": ["RequantizationRange"], "show_name": ["true"],
    "message": [freeze_requantization_ranges.MESSAGE]})]


@contextlib.contextmanager
def _stderr_to(path):
  """Sends file descriptor 2 (where TensorFlow's Print writes) to `path`;
  yields a stream on the previous stderr (for progress bars)."""
  sys.stderr.flush()
  saved = os.dup(2)
  target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
  try:
    os.dup2(target, 2)
    with os.fdopen(os.dup(saved), "w") as previous:
      yield previous
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)
    os.close(target)
    os.close(saved)


def log_ranges(graph_def, input_name, output_names, batches, log_path,
               tensors=None, total=None):
  """Runs the logged copy of `graph_def` (quantized, holding
  RequantizationRange ops) on each array of `batches` fed to `input_name`;
  writes their ranges to `log_path` (atomically). Returns the run count."""
  if not output_names:
    raise UserError("calibration runs the graph to its outputs: pass "
                    "--outputs=NAME[,NAME...]")
  if not any(n.op == "RequantizationRange" for n in graph_def.node):
    raise UserError("the graph has no RequantizationRange op to calibrate: "
                    "run quantize_nodes (without fallback_min/fallback_max) "
                    "in --transforms first")
  if tensors is None:
    logged = graph_def.__class__()
    logged.CopyFrom(graph_def)
  else:
    logged = tensors.attached_copy(graph_def)
  logged = registry.transform_graph(logged, [input_name], output_names,
                                    LOGGING)
  graph = graph_io.import_graph(logged, "the logged eight-bit graph")
  fetches = [graph.get_tensor_by_name(graph_utils.node_name(name) + ":0")
             for name in output_names]
  feed = graph.get_tensor_by_name(graph_utils.node_name(input_name) + ":0")
  runs = 0
  # One inter-op thread runs one Print at a time: concurrent ones interleave
  # their stderr writes (message, then newline), and a line holding two
  # records is read as none.
  config = session_config(inter_op_threads=1)
  with atomic_files.atomic_path(log_path) as tmp, \
      tf.compat.v1.Session(graph=graph, config=config) as session, \
      _stderr_to(tmp) as stderr:
    for batch in tqdm(batches, total=total, desc="calibrating", unit="run",
                      file=stderr):
      session.run(fetches, {feed: batch})
      runs += 1
  if not runs:
    raise UserError("no calibration images: give a split that holds some")
  return runs


def calibrate(graph_def, input_name, output_names, batches, log_path,
              tensors=None, total=None, min_percentile=None,
              max_percentile=None):
  """log_ranges, then freeze_requantization_ranges with the log: the graph
  with fixed requantization ranges (graph_def is consumed)."""
  log_ranges(graph_def, input_name, output_names, batches, log_path,
             tensors, total)
  params = {"min_max_log_file": [log_path]}
  for key, value in (("min_percentile", min_percentile),
                     ("max_percentile", max_percentile)):
    if value is not None:
      params[key] = [str(value)]
  return registry.transform_graph(
      graph_def, [input_name], output_names,
      [("freeze_requantization_ranges", params)], tensors)


def input_image_size(graph_def, input_name):
  """The square image size of the Placeholder `input_name` ([N, S, S, 3])."""
  node = graph_utils.node_map(graph_def).get(graph_utils.node_name(input_name))
  dims = [d.size for d in node.attr["shape"].shape.dim] if node else []
  if node is None or node.op != "Placeholder" or len(dims) != 4 or (
      dims[1] != dims[2] or dims[1] < 1):
    raise UserError(f"--inputs={input_name} is no image Placeholder "
                    "[N, S, S, 3]: calibration feeds it images")
  return dims[1]


def tfrecord_batches(data_dir, split, image_size, samples, crop_roi=False):
  """One image per run (as the README runs label_image once per image), as
  float32 [1, S, S, 3]."""
  tfrecord_reader.check_split(data_dir, split)
  for images, _ in tfrecord_reader.iterate_batches(
      data_dir, split, image_size, batch_size=1, limit=samples,
      crop_roi=crop_roi):
    yield images
