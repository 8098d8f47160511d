"""Rewrites a GraphDef with a list of transforms, like TF's transform_graph.

  python tools/transform.py --in_graph=frozen.pb --out_graph=opt.pb \
    --inputs=input --outputs=probabilities \
    --transforms='strip_unused_nodes(type=float, shape="1,227,227,3")
      remove_nodes(op=Identity, op=CheckNumerics) fold_constants(ignore_errors=true)'

--report prints what each transform did (nodes, bytes, seconds) as a table.
--calibration_data=TFRECORDS_DIR then runs the README's calibration workflow
on the result of --transforms (which must end in quantize_nodes): the
RequantizationRange ranges logged on --calibration_samples images are
frozen into the graph (the log is kept in --min_max_log_file).
See docs/graph_transforms.md for every transform and its arguments.
"""

import os


from absl import app
from absl import flags

from alexnet.core.config import ConvertConfig
from alexnet.core.errors import UserError
from alexnet.core.errors import exit_on_user_error
from alexnet.graph_tools import calibration
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry
from alexnet.graph_tools import tensor_store
from alexnet.graph_tools import transform_parser

from config_flags import define_integer, parse_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("in_graph", None, "Input GraphDef (binary or text).")
flags.DEFINE_string("out_graph", None, "Output GraphDef file.")
flags.DEFINE_string("inputs", "", "Comma-separated input node names.")
flags.DEFINE_string("outputs", "", "Comma-separated output node names.")
flags.DEFINE_string("transforms", None,
                    "Transforms to run, e.g. 'strip_unused_nodes "
                    "remove_nodes(op=Identity)'. Available: "
                    + ", ".join(registry.TRANSFORM_NAMES))
flags.DEFINE_boolean("output_as_text", False,
                     "Write the graph in text protobuf format.")
flags.DEFINE_boolean("report", False,
                     "Print a table of each transform's node counts, "
                     "serialized sizes and time.")
_CALIBRATION = ConvertConfig.__dataclass_fields__
flags.DEFINE_string("calibration_data", None,
                    "TFRecords directory: after --transforms, freeze the "
                    "requantization ranges logged on its images.")
flags.DEFINE_enum("calibration_split",
                  _CALIBRATION["representative_split"].default,
                  ["train", "validation", "test"],
                  "Split of --calibration_data to calibrate on.")
define_integer("calibration_samples",
               _CALIBRATION["representative_samples"].default,
               "Calibration images (one run each).", low=1)
flags.DEFINE_boolean("crop_roi", False, "Crop the calibration images to the "
                     "sign's ROI when read (models trained with --crop_roi).")
flags.DEFINE_string("min_max_log_file", None, "Where to keep the logged "
                    "ranges (default: OUT_GRAPH.ranges.log).")
flags.DEFINE_float("min_percentile", None, "freeze_requantization_ranges' "
                   "min_percentile for the calibration (default: its 5).")
flags.DEFINE_float("max_percentile", None, "freeze_requantization_ranges' "
                   "max_percentile for the calibration (default: its 5).")


def _names(text):
  return [name for name in text.split(",") if name]


def _calibrate(graph_def, tensors):
  inputs = _names(FLAGS.inputs)
  if len(inputs) != 1:
    raise UserError("--calibration_data needs one --inputs node, the images")
  size = calibration.input_image_size(graph_def, inputs[0])
  log_path = FLAGS.min_max_log_file or FLAGS.out_graph + ".ranges.log"
  batches = calibration.tfrecord_batches(
      FLAGS.calibration_data, FLAGS.calibration_split, size,
      FLAGS.calibration_samples, FLAGS.crop_roi)
  graph_def = calibration.calibrate(
      graph_def, inputs[0], _names(FLAGS.outputs), batches, log_path, tensors,
      total=FLAGS.calibration_samples, min_percentile=FLAGS.min_percentile,
      max_percentile=FLAGS.max_percentile)
  print(f"froze the ranges logged in {log_path}")
  return graph_def


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected argument {argv[1]}: use --flag=value")
  for flag in ("in_graph", "out_graph", "transforms"):
    if not getattr(FLAGS, flag):
      raise UserError(f"--{flag} is required")
  out_dir = os.path.dirname(os.path.abspath(FLAGS.out_graph))
  if not os.path.isdir(out_dir):
    raise UserError(f"output directory {out_dir} does not exist: create it")
  # Syntax and names are checked before the (possibly large) graph is read.
  transforms = transform_parser.parse_transforms(FLAGS.transforms)
  if not transforms:
    raise UserError("--transforms is empty: give at least one transform")
  registry.check_arguments(transforms)
  # Large weights stay outside the protobuf message (see tensor_store).
  tensors = tensor_store.TensorStore()
  graph_def = graph_io.load_graph_def(FLAGS.in_graph, tensors=tensors)
  stats = [] if FLAGS.report else None
  graph_def = registry.transform_graph(graph_def, _names(FLAGS.inputs),
                                       _names(FLAGS.outputs), transforms,
                                       tensors, progress=True, stats=stats)
  if FLAGS.calibration_data:
    graph_def = _calibrate(graph_def, tensors)
  # Never write a graph that convert or compare could not load.
  graph_io.import_graph(graph_def, f"{FLAGS.in_graph} after --transforms")
  graph_io.save_graph_def(graph_def, FLAGS.out_graph,
                          as_text=FLAGS.output_as_text, tensors=tensors)
  print(f"wrote {FLAGS.out_graph} ({len(graph_def.node)} nodes)")
  if stats is not None:
    print(registry.format_report(stats))


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
