"""Evaluates a model directory and writes its report files (tools/evaluate.py).

  output_dir/report.json        metrics.classification_report + checkpoint, step
  output_dir/report.txt         metrics.format_report
  output_dir/confusion_matrix.png
  output_dir/loss_per_batch.png, loss_per_epoch.png, accuracy_per_epoch.png
                                from the model's train_log.jsonl, if any
"""

import contextlib
import json
import os

from alexnet.core.atomic_files import atomic_write
from alexnet.core.errors import UserError
from alexnet.core.session import session_config
from alexnet.datasets import gtsrb_layout
from alexnet.datasets import tfrecord_reader
from alexnet.estimator import checkpoints
from alexnet.estimator import input_fn as input_fn_lib
from alexnet.estimator import train_log
from alexnet.estimator.model_dir import load_model_config
from alexnet.evaluation import checkpoint_eval
from alexnet.evaluation import metrics
from alexnet.evaluation import plots

REPORT_JSON = "report.json"
REPORT_TXT = "report.txt"
CONFUSION_PNG = "confusion_matrix.png"


def default_output_dir(model_dir, split="validation", test_dir=None,
                       tta_views=0):
  """MODEL_DIR/evaluation_SPLIT (or _test_dir), with _ttaV for test-time
  views, so it never replaces the plain evaluation."""
  name = f"evaluation_{'test_dir' if test_dir else split}"
  return os.path.join(model_dir,
                      name + (f"_tta{tta_views}" if tta_views else ""))


def checkpoint_report(model_dir, data_dir=None, split="validation",
                      test_dir=None, checkpoint="best", batch_size=64,
                      num_threads=0, tta_views=0):
  """The report of model_dir's checkpoint on a TFRecord split or a test folder.

  Args:
    model_dir: written by training (model_config.json + checkpoints).
    data_dir, split: a TFRecord dataset and its split, or
    test_dir: a GTSRB Final_Test/Images folder with GT-final_test.csv.
    checkpoint: "best", "latest" or a checkpoint path prefix.
    batch_size: images per evaluation batch.
    num_threads: op threads (0: all cores).
    tta_views: 0, or test-time augmentation: each image's probabilities the
      mean of its first V preprocessing.TTA_VIEWS (the report says V).
  """
  checkpoint_path, model, input_fn, count, name = _evaluation_input(
      model_dir, data_dir, split, test_dir, checkpoint, batch_size,
      tta_views)
  with tfrecord_reader.reading(data_dir, split) if data_dir and not test_dir \
      else contextlib.nullcontext():
    report = checkpoint_eval.evaluate(
        checkpoint_path, model, input_fn, num_examples=count,
        desc=f"evaluate {name}", session_config=session_config(num_threads))
  if tta_views:
    report["tta_views"] = tta_views
  return report


def split_predictions(model_dir, data_dir, split, checkpoint="latest",
                      batch_size=64, num_threads=0):
  """(labels [N], probabilities [N, C], track ids [N]) of model_dir's
  checkpoint on a TFRecord split; the arguments as checkpoint_report's."""
  checkpoint_path, model, input_fn, count, name = _evaluation_input(
      model_dir, data_dir, split, None, checkpoint, batch_size)
  with tfrecord_reader.reading(data_dir, split):
    labels, probabilities, tracks, _ = checkpoint_eval.predictions(
        checkpoint_path, model, input_fn, num_examples=count,
        desc=f"predict {name}", session_config=session_config(num_threads))
  return labels, probabilities, tracks


def _evaluation_input(model_dir, data_dir, split, test_dir, checkpoint,
                      batch_size, tta_views=0):
  """(checkpoint path, model, input_fn with track ids, image count, name)
  of checkpoint_report's arguments."""
  if not test_dir and not data_dir:
    raise UserError("pass --data_dir=TFRECORDS (with --split) or "
                    "--test_dir=.../Final_Test/Images")
  model = load_model_config(model_dir)
  checkpoint_path = checkpoints.resolve(model_dir, checkpoint)
  if test_dir:
    rows = gtsrb_layout.read_test_folder(test_dir)
    input_fn = input_fn_lib.test_folder_input_fn(test_dir, rows, model,
                                                 batch_size, tta_views)
    return checkpoint_path, model, input_fn, len(rows), "test_dir"
  manifest = tfrecord_reader.check_split(data_dir, split, model.num_classes)
  input_fn = lambda: input_fn_lib.input_fn(data_dir, split, model,
                                           batch_size, with_tracks=True,
                                           tta_views=tta_views)
  return (checkpoint_path, model, input_fn,
          tfrecord_reader.split_count(manifest, split), split)


def write_report(report, class_names, output_dir, model_dir=None):
  """Writes the report files (and model_dir's training curves); their names."""
  os.makedirs(output_dir, exist_ok=True)
  atomic_write(os.path.join(output_dir, REPORT_JSON),
               json.dumps(report, indent=2) + "\n")
  atomic_write(os.path.join(output_dir, REPORT_TXT),
               metrics.format_report(report) + "\n")
  metrics.plot_confusion_matrix(report["confusion"], class_names,
                                os.path.join(output_dir, CONFUSION_PNG))
  written = [REPORT_JSON, REPORT_TXT, CONFUSION_PNG]
  if model_dir and os.path.exists(train_log.log_path(model_dir)):
    written += [os.path.basename(p)
                for p in plots.plot_training(model_dir, output_dir)]
  return written


def evaluate_model_dir(model_dir, data_dir=None, split="validation",
                       output_dir=None, test_dir=None, checkpoint="best",
                       batch_size=64, num_threads=0):
  """checkpoint_report + write_report; returns the report.

  output_dir defaults to MODEL_DIR/evaluation_SPLIT (or evaluation_test_dir).
  """
  report = checkpoint_report(model_dir, data_dir, split, test_dir, checkpoint,
                             batch_size, num_threads)
  output_dir = output_dir or default_output_dir(model_dir, split, test_dir)
  report["written"] = write_report(
      report, load_model_config(model_dir).class_names, output_dir,
      model_dir)
  return report
