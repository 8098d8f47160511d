"""Evaluates a trained model: loss, top-1, top-5, per-class accuracy.

  python tools/evaluate.py --data_dir=data/tfrecords --model_dir=runs/alexnet \\
      [--split=validation|test] [--checkpoint=best|latest|PATH] [--output_dir=DIR]
  # A GTSRB final-test folder (.ppm files + GT-final_test.csv) directly:
  python tools/evaluate.py --model_dir=runs/alexnet \\
      --test_dir=GTSRB/Final_Test/Images

  # Test-time augmentation: the mean of 5 fixed views of each image:
  python tools/evaluate.py --data_dir=data/tfrecords --model_dir=runs/alexnet \\
      --tta_views=5

  # A .tflite model (or a frozen .pb), with size, latency and agreement, on
  # a TFRecord split or a GTSRB final-test folder:
  python tools/evaluate.py --model=alexnet_int8.tflite --data_dir=data/tfrecords \\
      [--reference_model=frozen.pb] [--latency_runs=50]
  python tools/evaluate.py --model=alexnet_int8.tflite \\
      --test_dir=GTSRB/Final_Test/Images [--crop_roi]

Prints the report (per-class accuracy with sign names) and writes into
--output_dir (default MODEL_DIR/evaluation_SPLIT, with _ttaV for
--tta_views=V): report.json, report.txt,
confusion_matrix.png and the training curves (loss per batch and epoch,
validation accuracy per epoch) from the model's train_log.jsonl.
"""

from absl import app, flags

import json
import os

from alexnet.datasets import preprocessing
from alexnet.evaluation import metrics

from alexnet.evaluation import reports
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.core.atomic_files import atomic_write
from alexnet.runner import comparison
from alexnet.estimator.model_dir import load_model_config

from config_flags import define_integer, parse_flags

flags.DEFINE_string("model_dir", None, "Directory written by tools/train.py.")
flags.DEFINE_string("data_dir", None, "TFRecord dataset (build_tfrecord.py).")
flags.DEFINE_enum("split", "validation", ["train", "validation", "test"],
                  "Split of --data_dir to evaluate.")
flags.DEFINE_string("test_dir", None, "GTSRB Final_Test/Images folder with "
                    "GT-final_test.csv; used instead of --data_dir.")
flags.DEFINE_string("checkpoint", "best", "best, latest or a checkpoint path.")
flags.DEFINE_string("output_dir", None, "Where the report and plots go "
                    "(default: MODEL_DIR/evaluation_SPLIT).")
define_integer("batch_size", 64, "Images per batch.", low=1)
define_integer("num_threads", 0, "Op threads (0: all cores).", low=0)
define_integer("tta_views", 0, "With --model_dir: test-time augmentation, "
               "each image's probabilities the mean of this many fixed "
               "views (the image, then scaled 0.92 and 1.08, rotated +-5 "
               "degrees); 0: the image alone.", low=0,
               high=len(preprocessing.TTA_VIEWS))
flags.DEFINE_string("model", None, "A .tflite model or frozen .pb graph to "
                    "evaluate instead of --model_dir's checkpoint.")
flags.DEFINE_string("reference_model", None, "With --model: the float model "
                    "(frozen .pb or .tflite) to report top-1 agreement with.")
flags.DEFINE_boolean("crop_roi", False, "With --model: crop each image to the "
                     "sign's ROI when read (models trained with --crop_roi; "
                     "a model_dir knows it from its model_config.json).")
define_integer("latency_runs", 50, "With --model: timed runs per thread count "
               "at batch 1, after warm-up (0: no latency).", low=0)
FLAGS = flags.FLAGS


def _model_file_report():
  """Report of --model on --data_dir, plus size, agreement and latency."""
  if not FLAGS.data_dir and not FLAGS.test_dir:
    raise UserError("--model needs --data_dir=TFRECORDS (with --split) or "
                    "--test_dir=.../Final_Test/Images")
  source = {"test_dir": FLAGS.test_dir, "crop_roi": FLAGS.crop_roi}
  reference = None
  if FLAGS.reference_model:
    reference = comparison.evaluate_model(
        FLAGS.reference_model, FLAGS.data_dir, FLAGS.split, None,
        latency_runs=0, threads=(), limit=None, **source)["probabilities"]
  result = comparison.evaluate_model(FLAGS.model, FLAGS.data_dir, FLAGS.split,
                                     reference, FLAGS.latency_runs, (1, 2),
                                     None, **source)
  summary = {"model": FLAGS.model,
             "split": "test_dir" if FLAGS.test_dir else FLAGS.split,
             "size_bytes": result["size_bytes"],
             "gzip_bytes": result["gzip_bytes"],
             "agreement": result["agreement"],
             "latency_ms": result["latency"],
             "float_fallback_ops": result.get("float_fallback_ops", [])}
  return result["report"], summary


def _print_summary(summary):
  print(f"size {summary['size_bytes'] / 2**20:.2f} MiB, gzipped "
        f"{summary['gzip_bytes'] / 2**20:.2f} MiB")
  if summary["agreement"] is not None:
    print(f"top-1 agreement with {FLAGS.reference_model}: "
          f"{summary['agreement']:.2%}")
  for threads, stats in summary["latency_ms"].items():
    print(f"latency at batch 1, {threads} thread(s): median "
          f"{stats['median_ms']:.2f} ms, p90 {stats['p90_ms']:.2f} ms")
  if summary["float_fallback_ops"]:
    print("ops running float kernels in a quantized model: "
          + " ".join(summary["float_fallback_ops"]))


def _main_model_file():
  report, summary = _model_file_report()
  output_dir = FLAGS.output_dir or os.path.join(
      os.path.dirname(os.path.abspath(FLAGS.model)),
      f"evaluation_{os.path.splitext(os.path.basename(FLAGS.model))[0]}_"
      f"{summary['split']}")
  class_names = [c["name"] for c in report["per_class"]]
  written = reports.write_report(report, class_names, output_dir)
  atomic_write(os.path.join(output_dir, "model_summary.json"),
               json.dumps(summary, indent=2) + "\n")
  print(metrics.format_report(report))
  _print_summary(summary)
  print(f"wrote {', '.join(written + ['model_summary.json'])} to {output_dir}")


def main(argv):
  del argv
  if FLAGS.model:
    return _main_model_file()
  if not FLAGS.model_dir:
    raise UserError("pass --model_dir=DIR (a trained model) or "
                    "--model=FILE.tflite")
  report = reports.checkpoint_report(
      FLAGS.model_dir, FLAGS.data_dir, FLAGS.split, FLAGS.test_dir,
      FLAGS.checkpoint, FLAGS.batch_size, FLAGS.num_threads,
      FLAGS.tta_views)
  output_dir = FLAGS.output_dir or reports.default_output_dir(
      FLAGS.model_dir, FLAGS.split, FLAGS.test_dir, FLAGS.tta_views)
  written = reports.write_report(
      report, load_model_config(FLAGS.model_dir).class_names, output_dir,
      FLAGS.model_dir)
  print(metrics.format_report(report))
  print(f"wrote {', '.join(written)} to {output_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
