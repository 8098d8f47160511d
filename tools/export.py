"""Exports a trained model: inference graph + checkpoint, and a SavedModel.

  python tools/export.py --model_dir=runs/alexnet [--checkpoint=best|latest|PATH]

Writes MODEL_DIR/export/ (or --export_dir): inference_graph.pb/.pbtxt (input
`input`, outputs `logits`, `probabilities`, `classes`), model.ckpt and
saved_model/. Then e.g.
  freeze_graph --input_graph=MODEL_DIR/export/inference_graph.pb \\
      --input_binary=true --input_checkpoint=MODEL_DIR/export/model.ckpt \\
      --output_node_names=probabilities --output_graph=frozen.pb

Several model_dirs export their committee as one model (same input and
outputs; `probabilities` is the mean of the columns'):
  python tools/export.py --model_dir=runs/a,runs/b,runs/c \\
      --export_dir=runs/committee [--checkpoint=best|latest|PATH_A,PATH_B,PATH_C]
"""

from absl import app, flags

from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.serving import committee
from alexnet.serving import export

from config_flags import parse_flags

flags.DEFINE_list("model_dir", None, "Directory written by tools/train.py; "
                  "several, comma-separated: their committee as one model.")
flags.DEFINE_list("checkpoint", ["best"], "best, latest or a checkpoint "
                  "path (a committee: one path per --model_dir).")
flags.DEFINE_string("export_dir", None, "Where to write (default: "
                    "MODEL_DIR/export; a committee must name it).")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  model_dirs, checkpoint = FLAGS.model_dir, FLAGS.checkpoint
  if len(model_dirs) == 1:
    if len(checkpoint) != 1:
      raise UserError(f"--checkpoint={','.join(checkpoint)} names "
                      f"{len(checkpoint)} checkpoints for one --model_dir")
    export_dir = export.export(model_dirs[0], checkpoint[0],
                               FLAGS.export_dir)
  else:
    if model_dirs and not FLAGS.export_dir:
      raise UserError(f"--model_dir={','.join(model_dirs)} is a committee: "
                      "pass --export_dir=DIR to write it to")
    export_dir = committee.export_committee(
        model_dirs, FLAGS.export_dir,
        checkpoint[0] if len(checkpoint) == 1 else checkpoint)
  print(f"wrote {export_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
