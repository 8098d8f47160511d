"""Evaluates a trained model: loss, top-1, top-5, per-class accuracy.

  python tools/evaluate.py --data_dir=data/tfrecords --model_dir=runs/alexnet \\
      [--split=validation|test] [--checkpoint=best|latest|PATH] [--output_dir=DIR]
  # A GTSRB final-test folder (.ppm files + GT-final_test.csv) directly:
  python tools/evaluate.py --model_dir=runs/alexnet \\
      --test_dir=GTSRB/Final_Test/Images

Prints the report (per-class accuracy with sign names) and writes into
--output_dir (default MODEL_DIR/evaluation_SPLIT): report.json, report.txt,
confusion_matrix.png and the training curves (loss per batch and epoch,
validation accuracy per epoch) from the model's train_log.jsonl.
"""

from absl import app, flags

from alexnet import metrics, model_evaluation
from alexnet.errors import exit_on_user_error
from alexnet.model_fn import load_model_config

flags.DEFINE_string("model_dir", None, "Directory written by tools/train.py.")
flags.DEFINE_string("data_dir", None, "TFRecord dataset (build_tfrecord.py).")
flags.DEFINE_enum("split", "validation", ["train", "validation", "test"],
                  "Split of --data_dir to evaluate.")
flags.DEFINE_string("test_dir", None, "GTSRB Final_Test/Images folder with "
                    "GT-final_test.csv; used instead of --data_dir.")
flags.DEFINE_string("checkpoint", "best", "best, latest or a checkpoint path.")
flags.DEFINE_string("output_dir", None, "Where the report and plots go "
                    "(default: MODEL_DIR/evaluation_SPLIT).")
flags.DEFINE_integer("batch_size", 64, "Images per batch.")
flags.DEFINE_integer("num_threads", 0, "Op threads (0: all cores).")
flags.mark_flag_as_required("model_dir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # A --model=FILE.tflite branch belongs here: any function returning a
  # metrics.classification_report for the same set can replace this call.
  report = model_evaluation.checkpoint_report(
      FLAGS.model_dir, FLAGS.data_dir, FLAGS.split, FLAGS.test_dir,
      FLAGS.checkpoint, FLAGS.batch_size, FLAGS.num_threads)
  output_dir = FLAGS.output_dir or model_evaluation.default_output_dir(
      FLAGS.model_dir, FLAGS.split, FLAGS.test_dir)
  written = model_evaluation.write_report(
      report, load_model_config(FLAGS.model_dir)["class_names"], output_dir,
      FLAGS.model_dir)
  print(metrics.format_report(report))
  print(f"wrote {', '.join(written)} to {output_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
