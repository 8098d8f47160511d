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

import json
import os

from absl import app, flags

from alexnet import checkpoints, evaluation, metrics, plots, train_log, training
from alexnet.datasets import tfrecord_reader
from alexnet.errors import UserError, exit_on_user_error
from alexnet.fileio import atomic_write
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


def _tensorflow_report(config, set_name):
  """The checkpoint's report on --test_dir or --data_dir/--split."""
  checkpoint_path = checkpoints.resolve(FLAGS.model_dir, FLAGS.checkpoint)
  if FLAGS.test_dir:
    rows = evaluation.read_gtsrb_test(FLAGS.test_dir)
    input_fn = evaluation.gtsrb_test_input_fn(FLAGS.test_dir, rows, config,
                                              FLAGS.batch_size)
    count = len(rows)
  else:
    manifest = tfrecord_reader.read_manifest(FLAGS.data_dir)
    training.check_dataset(manifest, FLAGS.data_dir, config["num_classes"],
                           FLAGS.model_dir)
    tfrecord_reader.shard_paths(FLAGS.data_dir, FLAGS.split, manifest)
    count = training.split_count(manifest, FLAGS.split)
    input_fn = lambda: training.input_fn(FLAGS.data_dir, FLAGS.split, config,
                                         FLAGS.batch_size)
  return evaluation.evaluate(
      checkpoint_path, config, input_fn, num_examples=count,
      desc=f"evaluate {set_name}",
      session_config=training.session_config(FLAGS.num_threads))


def _write_outputs(report, class_names, output_dir):
  os.makedirs(output_dir, exist_ok=True)
  text = metrics.format_report(report)
  atomic_write(os.path.join(output_dir, "report.json"),
               json.dumps(report, indent=2) + "\n")
  atomic_write(os.path.join(output_dir, "report.txt"), text + "\n")
  metrics.plot_confusion_matrix(report["confusion"], class_names,
                                os.path.join(output_dir, "confusion_matrix.png"))
  written = ["report.json", "report.txt", "confusion_matrix.png"]
  if os.path.exists(train_log.log_path(FLAGS.model_dir)):
    written += [os.path.basename(p)
                for p in plots.plot_training(FLAGS.model_dir, output_dir)]
  print(text)
  print(f"wrote {', '.join(written)} to {output_dir}")


def main(argv):
  del argv
  if not FLAGS.test_dir and not FLAGS.data_dir:
    raise UserError("pass --data_dir=TFRECORDS (with --split) or "
                    "--test_dir=.../Final_Test/Images")
  config = load_model_config(FLAGS.model_dir)
  set_name = "test_dir" if FLAGS.test_dir else FLAGS.split
  # A --model=FILE.tflite branch belongs here: any function returning a
  # metrics.classification_report for the same set.
  report = _tensorflow_report(config, set_name)
  output_dir = FLAGS.output_dir or os.path.join(FLAGS.model_dir,
                                                f"evaluation_{set_name}")
  _write_outputs(report, config["class_names"], output_dir)


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
