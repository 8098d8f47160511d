"""Prints what a GraphDef holds, like TF's summarize_graph.

  python tools/summarize.py --in_graph=frozen.pb [--print_structure]

Likely inputs and outputs, op-type counts, parameter counts and bytes, and a
ready tools/transform.py command line for the graph.
"""

from absl import app
from absl import flags

from alexnet.core.errors import UserError
from alexnet.core.errors import exit_on_user_error
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import summarize

from config_flags import parse_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("in_graph", None, "GraphDef file (binary or text).")
flags.DEFINE_boolean("print_structure", False,
                     "Also print every node, its inputs and Const values.")


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected argument {argv[1]}: use --flag=value")
  if not FLAGS.in_graph:
    raise UserError("--in_graph is required")
  graph_def = graph_io.load_graph_def(FLAGS.in_graph)
  for line in summarize.summarize(graph_def, FLAGS.in_graph,
                                  FLAGS.print_structure):
    print(line)


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
