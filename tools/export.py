"""Exports a trained model: inference graph + checkpoint, and a SavedModel.

  python tools/export.py --model_dir=runs/alexnet [--checkpoint=best|latest|PATH]

Writes MODEL_DIR/export/: inference_graph.pb/.pbtxt (input `input`, outputs
`logits`, `probabilities`, `classes`), model.ckpt and saved_model/. Then e.g.
  freeze_graph --input_graph=MODEL_DIR/export/inference_graph.pb \\
      --input_binary=true --input_checkpoint=MODEL_DIR/export/model.ckpt \\
      --output_node_names=probabilities --output_graph=frozen.pb
"""

from absl import app, flags

from alexnet.serving import export
from alexnet.core.errors import exit_on_user_error

from config_flags import parse_flags

flags.DEFINE_string("model_dir", None, "Directory written by tools/train.py.")
flags.DEFINE_string("checkpoint", "best", "best, latest or a checkpoint path.")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  export_dir = export.export(FLAGS.model_dir, FLAGS.checkpoint)
  print(f"wrote {export_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
