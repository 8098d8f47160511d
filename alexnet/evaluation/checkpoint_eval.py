"""Evaluation of a checkpoint: model_fn's EVAL graph over a labeled set.

The set comes from an input_fn (alexnet.estimator.input_fn): TFRecords or a
GTSRB final-test folder.
"""

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from alexnet.core.errors import UserError
from alexnet.estimator import checkpoints
from alexnet.estimator.model_fn import ModeKeys, Params, model_fn
from alexnet.evaluation import metrics


def predictions(checkpoint_path, model, input_fn, num_examples=None,
                desc="evaluate", session_config=None):
  """(labels [N], probabilities [N, C], tracks [N] or None, streaming
  metrics {name: value}) of the EVAL graph on all of input_fn's batches;
  the arguments as `evaluate`'s."""
  probabilities, labels, tracks = [], [], []
  with tf.Graph().as_default():
    images, label_tensor, *track_tensor = input_fn()
    if images.shape.rank == 5:
      # Test-time views [B, V, S, S, 3]: the network sees the B*V images,
      # and an image's probabilities are the mean of its views'. No
      # streaming metrics: they would count views, not images.
      views = images.shape[1]
      spec = model_fn(tf.reshape(images, [-1] + images.shape[2:].as_list()),
                      None, ModeKeys.PREDICT, Params(model))
      probability_tensor = tf.reduce_mean(tf.reshape(
          spec.predictions["probabilities"], [-1, views, model.num_classes]),
                                          axis=1)
      values, updates = {}, []
    else:
      spec = model_fn(images, label_tensor, ModeKeys.EVAL, Params(model))
      probability_tensor = spec.predictions["probabilities"]
      values = {k: v for k, (v, _) in spec.eval_metric_ops.items()}
      updates = [u for _, u in spec.eval_metric_ops.values()]
    fetches = [probability_tensor, label_tensor, updates, track_tensor]
    with tf.compat.v1.Session(config=session_config) as sess:
      sess.run(tf.compat.v1.local_variables_initializer())
      checkpoints.restore(sess, checkpoint_path)
      with tqdm(total=num_examples, desc=desc, unit="img",
                dynamic_ncols=True, leave=False) as bar:
        while True:
          try:
            p, y, _, track = sess.run(fetches)
          except tf.errors.OutOfRangeError:
            break
          probabilities.append(p)
          labels.append(y)
          tracks.extend(track)
          bar.update(len(y))
      streaming = sess.run(values)
  if not labels:
    raise UserError(f"{desc}: the evaluation set holds no images")
  return (np.concatenate(labels), np.concatenate(probabilities),
          np.concatenate(tracks) if tracks else None, streaming)


def evaluate(checkpoint_path, model, input_fn, num_examples=None,
             desc="evaluate", summary_dir=None, session_config=None):
  """Runs the EVAL graph of a ModelConfig on all of input_fn's batches.

  Args:
    checkpoint_path: the checkpoint to restore.
    model: the ModelConfig (model_config.json), with its class names.
    input_fn: builds (images, labels) tensors in the current graph, or
      (images, labels, track ids) for top-1's interval by track; they must
      end (OutOfRange) after one pass.
    num_examples: for the progress bar's total, if known.
    desc: progress bar label.
    summary_dir: if given, the streaming metrics and the report's top-5 are
      written there as TensorBoard summaries at the checkpoint's step.
    session_config: tf.compat.v1.ConfigProto.

  Returns:
    metrics.classification_report(...) plus "checkpoint" and "step".
  """
  labels, probabilities, tracks, streaming = predictions(
      checkpoint_path, model, input_fn, num_examples, desc, session_config)
  report = metrics.classification_report(labels, probabilities,
                                         model.class_names, tracks)
  step = checkpoints.global_step(checkpoint_path)
  report.update(checkpoint=checkpoint_path, step=step)
  if summary_dir:
    # top-5 as the report counts it (ties against the label, see metrics).
    _write_summaries(summary_dir, dict(streaming, top5=report["top5"]),
                     step or 0)
  return report


def _write_summaries(summary_dir, values, step):
  summary = tf.compat.v1.Summary(value=[
      tf.compat.v1.Summary.Value(tag=f"validation/{k}", simple_value=float(v))
      for k, v in sorted(values.items())])
  with tf.Graph().as_default():  # FileWriter refuses eager mode.
    # One file per evaluation, named by the second it opens: two within a
    # second (a fast model's epochs) would share the name, and the second
    # would overwrite the first without the step in the suffix.
    writer = tf.compat.v1.summary.FileWriter(
        summary_dir, filename_suffix=f".step-{step}")
    writer.add_summary(summary, step)
    writer.close()
