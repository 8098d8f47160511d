"""Freezes a graph: checkpoint values become Consts, like TF's freeze_graph.

  python tools/freeze.py --input_graph=export/graph.pb \
    --input_checkpoint=export/model.ckpt --input_binary=true \
    --output_graph=frozen.pb --output_node_names=probabilities,classes

  python tools/freeze.py --input_saved_model_dir=export/saved_model \
    --saved_model_tags=serve --output_graph=frozen.pb \
    --output_node_names=probabilities

  python tools/freeze.py --input_meta_graph=export/model.ckpt.meta \
    --input_binary=true --input_checkpoint=export/model.ckpt \
    --output_graph=frozen.pb --output_node_names=probabilities
"""

from absl import app
from absl import flags
from absl import logging

from alexnet.core.errors import UserError
from alexnet.core.errors import exit_on_user_error
from alexnet.graph_tools import freeze

from config_flags import define_integer, parse_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("input_graph", "", "GraphDef file to freeze.")
flags.DEFINE_string("input_meta_graph", "",
                    "MetaGraphDef file (e.g. model.ckpt.meta) to freeze "
                    "instead: its graph, restored by its saver.")
flags.DEFINE_string("input_saved_model_dir", "",
                    "TF1 SavedModel (saved_model.pb or .pbtxt) to freeze "
                    "instead: its graph, variables, saver and init op.")
flags.DEFINE_string("saved_model_tags", "serve",
                    "Comma-separated tags of the SavedModel MetaGraph; empty "
                    "for the MetaGraph without tags.")
flags.DEFINE_string("input_saver", "",
                    "SaverDef file whose restore op in --input_graph says "
                    "which checkpoint entry (and slice) each variable takes.")
flags.DEFINE_boolean("input_binary", False,
                     "Whether the graph, meta graph and saver files are "
                     "binary (else text).")
flags.DEFINE_string("input_checkpoint", "", "Checkpoint prefix (V1 or V2).")
define_integer("checkpoint_version", 2, "1 or 2; as in freeze_graph.py both "
               "formats are read whatever it says.", low=1, high=2)
flags.DEFINE_string("output_graph", None, "Frozen GraphDef to write.")
flags.DEFINE_string("output_node_names", "",
                    "Comma-separated output node names.")
flags.DEFINE_boolean("clear_devices", True, "Drop device placements.")
flags.DEFINE_string("variable_names_whitelist", "",
                    "Comma-separated variables to freeze (default all).")
flags.DEFINE_string("variable_names_denylist", "",
                    "Comma-separated variables not to freeze.")
flags.DEFINE_string("variable_names_blacklist", "",
                    "TF 1.x name of --variable_names_denylist.")
flags.DEFINE_string("initializer_nodes", "",
                    "Comma-separated nodes to run after restoring; the "
                    "variable values they leave are frozen.")
# TensorFlow's freeze_graph.py still takes both and ignores them ("Deprecated,
# unused by updated loading code"); so do we, and say so once.
_IGNORED_HELP = ("Ignored, as TensorFlow's freeze_graph.py ignores it (it is "
                 "deprecated there): variables are read from "
                 "--input_checkpoint by name, or as the saver of "
                 "--input_saver, --input_meta_graph or the SavedModel says. "
                 "Giving it prints one warning.")
_IGNORED_FLAGS = ("restore_op_name", "filename_tensor_name")
flags.DEFINE_string("restore_op_name", "save/restore_all", _IGNORED_HELP)
flags.DEFINE_string("filename_tensor_name", "save/Const:0", _IGNORED_HELP)


def _names(text):
  return [n.strip() for n in text.split(",") if n.strip()]


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected argument {argv[1]}: use --flag=value")
  if not FLAGS.output_graph:
    raise UserError("--output_graph is required")
  ignored = [f"--{flag}" for flag in _IGNORED_FLAGS if FLAGS[flag].present]
  if ignored:
    logging.warning("%s ignored, as TensorFlow's freeze_graph.py ignores "
                    "(deprecated there): the restore comes from "
                    "--input_checkpoint and the graph's saver",
                    " and ".join(ignored))
  denylist = (_names(FLAGS.variable_names_denylist) +
              _names(FLAGS.variable_names_blacklist))
  frozen = freeze.freeze_graph(
      input_graph=FLAGS.input_graph,
      input_checkpoint=FLAGS.input_checkpoint,
      output_graph=FLAGS.output_graph,
      output_node_names=_names(FLAGS.output_node_names),
      input_binary=FLAGS.input_binary,
      clear_devices=FLAGS.clear_devices,
      variable_names_whitelist=_names(FLAGS.variable_names_whitelist) or None,
      variable_names_blacklist=denylist or None,
      input_saved_model_dir=FLAGS.input_saved_model_dir,
      saved_model_tags=_names(FLAGS.saved_model_tags),
      initializer_nodes=_names(FLAGS.initializer_nodes),
      input_meta_graph=FLAGS.input_meta_graph,
      input_saver=FLAGS.input_saver,
      checkpoint_version=FLAGS.checkpoint_version)
  consts = sum(1 for n in frozen.node if n.op == "Const")
  print(f"wrote {FLAGS.output_graph}: {len(frozen.node)} nodes, "
        f"{consts} Consts")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
