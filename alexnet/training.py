"""Estimator-style training on tf.compat.v1.train.MonitoredTrainingSession.

`train(data_dir, model_dir, params, ...)` is what Estimator.train plus
train_and_evaluate did in TF1:

  - `input_fn` feeds TFRecord batches from alexnet.datasets.tfrecord_reader
    (shuffled, optionally augmented, prefetched) into `model_fn`'s TRAIN graph;
  - hooks: CheckpointSaverHook (every save_checkpoints_secs or _steps into
    model_dir), SummarySaverHook (loss, accuracy, learning rate, input
    images), StepCounterHook (steps/s), LoggingTensorHook, StopAtStepHook,
    and a progress hook: a tqdm bar per epoch with images/s, one
    train_log.jsonl line per step, and at each epoch's end a checkpoint, a
    validation pass (its own graph and session, on that checkpoint) and the
    best checkpoint by validation top-1 kept in model_dir/best/ (with
    params' moving_average_decay, both are the weights' moving averages);
  - model_dir/model_config.json records the network so evaluation, export
    and prediction need no flags repeated.

Training resumes from the newest checkpoint in model_dir. Ctrl-C saves one at
the current step before exiting; a killed run (kill -9, power loss) loses at
most one checkpoint interval. Restarting with
different network settings or another dataset's class count is refused.
"""

import dataclasses
import json
import math
import os
import time

import tensorflow as tf
from tqdm import tqdm

from alexnet import checkpoints, evaluation, train_log
from alexnet.datasets import tfrecord_reader
from alexnet.core.errors import UserError
from alexnet.core.atomic_files import atomic_dir, atomic_write
from alexnet.model_fn import (CONFIG_NAME, MODEL_KEYS, ModeKeys,
                              load_model_config, model_config, model_fn,
                              save_model_config)
from alexnet.nets import alexnet as alexnet_lib


def session_config(num_threads=0):
  """Session options: `num_threads` op threads (0: all cores); GPU grows."""
  config = tf.compat.v1.ConfigProto(
      intra_op_parallelism_threads=num_threads,
      inter_op_parallelism_threads=num_threads,
      allow_soft_placement=True)
  config.gpu_options.allow_growth = True
  return config


def input_fn(data_dir, split, params, batch_size, is_training=False,
             augment=False, augment_color=False, num_epochs=1, seed=None):
  """(images, labels) tensors of one split, for model_fn."""
  dataset = tfrecord_reader.make_dataset(
      data_dir, split, params["image_size"], batch_size,
      is_training=is_training, augment=augment, augment_color=augment_color,
      crop_roi=params["crop_roi"],
      num_epochs=num_epochs, seed=seed, drop_remainder=is_training)
  images, labels = tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()
  return images, labels


def split_count(manifest, split):
  return manifest["splits"].get(split, {}).get("count", 0)


def check_dataset(manifest, data_dir, num_classes, model_dir):
  """UserError unless the dataset has the model's class count."""
  if manifest["num_classes"] != num_classes:
    raise UserError(
        f"{data_dir} has {manifest['num_classes']} classes but the model in "
        f"{model_dir} has {num_classes}: use that model's dataset or train a "
        "new --model_dir")


def check_model_dir(model_dir, params, manifest, data_dir):
  """UserError if model_dir was trained with other settings or classes."""
  if not os.path.exists(os.path.join(model_dir, CONFIG_NAME)):
    if checkpoints.latest(model_dir):
      raise UserError(f"{model_dir} has checkpoints but no {CONFIG_NAME}: "
                      "train into a new --model_dir")
    return
  saved = load_model_config(model_dir)
  check_dataset(manifest, data_dir, saved["num_classes"], model_dir)
  for key in MODEL_KEYS:
    if saved[key] != params[key]:
      raise UserError(
          f"{model_dir} was trained with --{key}={saved[key]}, not "
          f"{params[key]}: pass --{key}={saved[key]} to continue it, or use a "
          "new --model_dir")


class _ProgressHook(tf.compat.v1.train.SessionRunHook):
  """tqdm per epoch, a train-log line per step, end-of-epoch work."""

  def __init__(self, scalars, steps_per_epoch, max_steps, batch_size, log,
               on_epoch_end):
    self._scalars = scalars
    self._steps_per_epoch = steps_per_epoch
    self._max_steps = max_steps
    self._batch_size = batch_size
    self._log = log
    self._on_epoch_end = on_epoch_end
    self._bar = None
    self._step = None

  def after_create_session(self, session, coord):
    del coord
    self._step = int(session.run(tf.compat.v1.train.get_global_step()))
    self._open_bar()

  def _open_bar(self):
    epoch = self._step // self._steps_per_epoch + 1
    end = min(epoch * self._steps_per_epoch, self._max_steps)
    self._epoch_start = time.time()
    self._epoch_first_step = self._step
    self._bar = tqdm(total=(end - self._step) * self._batch_size,
                     desc=f"epoch {epoch}", unit="img", unit_scale=True,
                     dynamic_ncols=True)

  def before_run(self, run_context):
    return tf.compat.v1.train.SessionRunArgs(self._scalars)

  def after_run(self, run_context, run_values):
    # Each run is one step of this process: no need to read the global step.
    self._step += 1
    values = {k: float(v) for k, v in run_values.results.items()}
    epoch = (self._step - 1) // self._steps_per_epoch + 1
    self._log.write("batch", step=self._step, epoch=epoch, **values)
    self._bar.update(self._batch_size)
    if self._step % 10 == 0:
      self._bar.set_postfix(loss=f"{values['loss']:.3f}",
                            acc=f"{values['accuracy']:.3f}", refresh=False)
    if self._step % self._steps_per_epoch == 0 or self._step >= self._max_steps:
      self._bar.close()
      seconds = time.time() - self._epoch_start
      images = (self._step - self._epoch_first_step) * self._batch_size
      self._on_epoch_end(run_context.session, int(self._step),
                         images / max(seconds, 1e-9))
      if self._step < self._max_steps:
        self._open_bar()

  def end(self, session):
    del session
    if self._bar is not None:
      self._bar.close()


@dataclasses.dataclass(frozen=True)
class RunConfig:
  """How to train (not what): see `train`'s arguments."""
  batch_size: int = 64
  epochs: int = 20
  max_steps: int = None
  augment: bool = False
  augment_color: bool = False
  seed: int = None
  warmup_epochs: float = 0.0
  decay_epochs: float = 10.0
  save_checkpoints_secs: int = 600
  save_checkpoints_steps: int = None
  save_summary_steps: int = 100
  log_every_n_steps: int = 100
  keep_checkpoints: int = 3
  num_threads: int = 0


class _Trainer:
  """One training run: the TRAIN session and the end-of-epoch work."""

  def __init__(self, data_dir, model_dir, params, run, steps_per_epoch,
               max_steps, validation_count, log):
    self.data_dir = data_dir
    self.model_dir = model_dir
    self.params = params
    self.run = run
    self.steps_per_epoch = steps_per_epoch
    self.max_steps = max_steps
    self.validation_count = validation_count
    self.log = log
    self.saver = None  # The TRAIN graph's, once built.

  def session_config(self):
    return session_config(self.run.num_threads)

  def train(self, start_step):
    """Builds the TRAIN graph and runs the monitored session to max_steps."""
    run = self.run
    with tf.Graph().as_default():
      if run.seed is not None:
        tf.compat.v1.set_random_seed(run.seed)
      # A resumed run reshuffles from a new, still repeatable, seed.
      images, labels = input_fn(
          self.data_dir, "train", self.params, run.batch_size,
          is_training=True, augment=run.augment,
          augment_color=run.augment_color,
          num_epochs=math.ceil(
              (self.max_steps - start_step) / self.steps_per_epoch),
          seed=None if run.seed is None else run.seed + start_step)
      spec = model_fn(images, labels, ModeKeys.TRAIN, self.params)
      self.saver = tf.compat.v1.train.Saver(max_to_keep=run.keep_checkpoints,
                                            save_relative_paths=True)
      scaffold = tf.compat.v1.train.Scaffold(saver=self.saver)
      global_step = tf.compat.v1.train.get_global_step()
      # after_run goes in list order: the step's log line is written before
      # its checkpoint, so a kill between them leaves a log line past the
      # checkpoint (dropped on resume), never a checkpoint past the log.
      hooks = [
          _ProgressHook(spec.scalars, self.steps_per_epoch, self.max_steps,
                        run.batch_size, self.log, self.end_epoch),
          tf.compat.v1.train.StopAtStepHook(last_step=self.max_steps),
          tf.compat.v1.train.CheckpointSaverHook(
              self.model_dir, scaffold=scaffold,
              save_secs=(None if run.save_checkpoints_steps
                         else run.save_checkpoints_secs),
              save_steps=run.save_checkpoints_steps),
          tf.compat.v1.train.SummarySaverHook(
              save_steps=run.save_summary_steps, output_dir=self.model_dir,
              scaffold=scaffold),
          tf.compat.v1.train.StepCounterHook(
              every_n_steps=run.log_every_n_steps, output_dir=self.model_dir),
          tf.compat.v1.train.LoggingTensorHook(
              {"step": global_step, **spec.scalars},
              every_n_iter=run.log_every_n_steps),
      ]
      with tf.compat.v1.train.MonitoredTrainingSession(
          checkpoint_dir=self.model_dir, scaffold=scaffold, hooks=hooks,
          save_checkpoint_secs=None, save_checkpoint_steps=None,
          save_summaries_steps=None, save_summaries_secs=None,
          log_step_count_steps=None,
          config=self.session_config()) as sess:
        try:
          while not sess.should_stop():
            sess.run(spec.train_op)
        except KeyboardInterrupt:
          # Ctrl-C: keep every finished step (kill -9 loses up to one
          # checkpoint interval). The raw session runs no hooks.
          sess.run_step_fn(self._save_now)
          raise

  def _save_now(self, step_context):
    """A checkpoint at the current step (a MonitoredSession step_fn)."""
    self.saver.save(step_context.session,
                    os.path.join(self.model_dir, checkpoints.PREFIX),
                    global_step=tf.compat.v1.train.get_global_step())

  def end_epoch(self, session, step, images_per_sec=None):
    """Saves (given the session), validates, keeps the best, logs the epoch.

    Without a session it validates the checkpoint already saved at `step`.
    """
    if session is not None:
      self.saver.save(session, os.path.join(self.model_dir, checkpoints.PREFIX),
                      global_step=step)
    checkpoint_path = checkpoints.latest(self.model_dir)
    epoch = math.ceil(step / self.steps_per_epoch)
    batches, _ = train_log.read(self.log.path)
    rows = [r for r in batches if r["epoch"] == epoch]
    row = {
        "step": step, "epoch": epoch,
        "train_loss": _mean(r["loss"] for r in rows),
        "train_cross_entropy": _mean(r["cross_entropy"] for r in rows),
        "train_accuracy": _mean(r["accuracy"] for r in rows),
        "val_loss": None, "val_top1": None, "val_top5": None,
        "images_per_sec": images_per_sec, "best": False,
    }
    if self.validation_count:
      report = evaluation.evaluate(
          checkpoint_path, self.params,
          lambda: input_fn(self.data_dir, "validation", self.params,
                           self.run.batch_size),
          num_examples=self.validation_count, desc=f"validate {epoch}",
          summary_dir=os.path.join(self.model_dir, "eval"),
          session_config=self.session_config())
      row.update(val_loss=report["loss"], val_top1=report["top1"],
                 val_top5=report["top5"])
      best = checkpoints.read_best(self.model_dir)
      # Higher top-1 wins; on a tie, lower validation loss.
      if best is None or (report["top1"], -report["loss"]) > (
          best["val_top1"], -best["val_loss"]):
        row["best"] = True
        self._keep_best(checkpoint_path, row)
      tqdm.write(f"epoch {epoch}: validation loss {report['loss']:.4f}, "
                 f"top-1 {100 * report['top1']:.2f}%, top-5 "
                 f"{100 * report['top5']:.2f}%" +
                 (" (best so far)" if row["best"] else ""))
    self.log.write("epoch", **row)

  def _keep_best(self, checkpoint_path, row):
    """Copies the checkpoint's model variables (no optimizer state) to best/."""
    size = self.params["image_size"]
    with tf.Graph().as_default():
      images = tf.compat.v1.placeholder(tf.float32, [None, size, size, 3])
      model_fn(images, None, ModeKeys.PREDICT, self.params)
      with tf.compat.v1.Session(config=self.session_config()) as sess:
        checkpoints.restore(sess, checkpoint_path)
        best_dir = os.path.join(self.model_dir, checkpoints.BEST_DIR)
        with atomic_dir(best_dir, overwrite=True) as tmp:
          checkpoints.save(sess, tmp, step=row["step"])
          atomic_write(os.path.join(tmp, checkpoints.BEST_JSON),
                       json.dumps(row, indent=2) + "\n")


def _mean(values):
  values = list(values)
  return sum(values) / len(values) if values else None


def train(data_dir, model_dir, params, **options):
  """Trains (or resumes training) a model in model_dir; see module docstring.

  Args:
    data_dir: TFRecord dataset directory (tools/build_tfrecord.py).
    model_dir: checkpoints, logs and model_config.json; created if needed.
    params: model_fn params (model_fn.DEFAULT_PARAMS keys); num_classes is
      taken from the dataset. Schedule step counts are derived here.
    **options: RunConfig fields:
      batch_size: images per step.
      epochs: passes over the training split (unless max_steps is set).
      max_steps: total global steps to reach, if given.
      augment: random geometric and photometric augmentation.
      augment_color: with augment, also random gamma and saturation.
      seed: makes shuffling, augmentation and initialization repeatable.
      warmup_epochs: linear learning-rate warm-up length.
      decay_epochs: step schedule: epochs between decays.
      save_checkpoints_secs / save_checkpoints_steps: checkpoint interval
        (steps win when given).
      save_summary_steps: TensorBoard summary interval.
      log_every_n_steps: interval of the logged loss line and steps/s.
      keep_checkpoints: how many recent training checkpoints to keep.
      num_threads: op threads; 0 uses all cores.

  Returns:
    The global step reached.
  """
  run = RunConfig(**options)
  if params["image_size"] < alexnet_lib.MIN_IMAGE_SIZE:
    raise UserError(f"--image_size={params['image_size']} is below AlexNet's "
                    f"minimum of {alexnet_lib.MIN_IMAGE_SIZE}")
  decay = params.get("moving_average_decay", 0.0)
  if not 0.0 <= decay < 1.0:
    raise UserError(f"--moving_average_decay={decay} is not in [0, 1): use "
                    "e.g. 0.999, or 0 for no moving averages")
  manifest = tfrecord_reader.read_manifest(data_dir)
  train_count = split_count(manifest, "train")
  if train_count == 0:
    raise UserError(f"{data_dir} has no training images: build it from the "
                    "GTSRB training set with tools/build_tfrecord.py")
  if train_count < run.batch_size:
    raise UserError(f"--batch_size={run.batch_size} is larger than the "
                    f"{train_count} training images in {data_dir}: lower it")
  steps_per_epoch = train_count // run.batch_size
  max_steps = (run.epochs * steps_per_epoch if run.max_steps is None
               else run.max_steps)
  params = {**params, "num_classes": manifest["num_classes"],
            "total_steps": max_steps,
            "warmup_steps": round(run.warmup_epochs * steps_per_epoch),
            "decay_steps": max(1, round(run.decay_epochs * steps_per_epoch))}
  class_names = manifest.get("class_names") or [
      str(i) for i in range(manifest["num_classes"])]
  os.makedirs(model_dir, exist_ok=True)
  check_model_dir(model_dir, params, manifest, data_dir)
  save_model_config(model_dir, model_config(params, class_names))
  params = {**params, "class_names": class_names}

  start = checkpoints.latest(model_dir)
  start_step = checkpoints.global_step(start) if start else 0
  if start and decay and not checkpoints.averaged_names(start):
    raise UserError(f"{start} was trained without --moving_average_decay: "
                    "continue it without that flag, or train into a new "
                    "--model_dir")
  log_path = train_log.log_path(model_dir)
  train_log.truncate(log_path, start_step)
  with train_log.Writer(log_path) as log:
    trainer = _Trainer(data_dir, model_dir, params, run, steps_per_epoch,
                       max_steps, split_count(manifest, "validation"), log)
    # Killed between an epoch's last checkpoint and its log line: finish it.
    _, epochs_logged = train_log.read(log_path)
    if start_step and (start_step % steps_per_epoch == 0 or
                       start_step >= max_steps) and not any(
                           r["step"] == start_step for r in epochs_logged):
      trainer.end_epoch(None, start_step)
    if start_step < max_steps:
      trainer.train(start_step)
  return max(start_step, max_steps)
