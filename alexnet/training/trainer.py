"""Estimator-style training on tf.compat.v1.train.MonitoredTrainingSession.

`train(data_dir, model_dir, model, train_config)` is what Estimator.train
plus train_and_evaluate did in TF1:

  - `input_fn` (alexnet.estimator.input_fn) feeds TFRecord batches
    (shuffled, optionally augmented and class-balanced, prefetched) into
    `model_fn`'s TRAIN graph (class_balance "loss": with class weights);
  - hooks: CheckpointSaverHook (every save_checkpoints_secs or _steps into
    model_dir), SummarySaverHook (loss, accuracy, learning rate, input
    images), StepCounterHook (steps/s), LoggingTensorHook, and
    alexnet.training.hooks.ProgressHook: the stop at max_steps, a tqdm bar
    per epoch with images/s, one train_log.jsonl line per step, and at each
    epoch's end a checkpoint, a validation pass (its own graph and session,
    on that checkpoint) and the best checkpoint by validation top-1 kept in
    model_dir/best/ (with moving_average_decay, both are the weights' moving
    averages); without a validation split best/ holds the last epoch;
  - model_dir/model_config.json records the ModelConfig so evaluation,
    export and prediction need no flags repeated;
  - TrainConfig.precision "bfloat16" sets the TRAIN session's grappler
    rewrite (alexnet.core.session): the graph, its variables and so the
    checkpoints stay float32.

Training resumes from the newest checkpoint in model_dir. Ctrl-C saves one at
the current step before exiting; a killed run (kill -9, power loss) loses at
most one checkpoint interval. Restarting with different network settings or
another dataset's class count is refused.

With a `cluster` (alexnet.training.cluster) this process is one worker of
synchronous data-parallel training: the variables live on the parameter
servers, each step averages one batch_size batch from every worker
(SyncReplicasOptimizer), each worker reads its own part of the training
shards, and only the chief writes model_dir (checkpoints, summaries, the
training log, validation, best/, in the same format as one process).
"""

import contextlib
import dataclasses
import json
import math
import os

import tensorflow as tf
from tqdm import tqdm

from alexnet.core.atomic_files import atomic_dir, atomic_write
from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.core.errors import UserError
from alexnet.core.session import check_precision, session_config
from alexnet.datasets import preprocessing
from alexnet.datasets import tfrecord_reader
from alexnet.estimator import checkpoints
from alexnet.estimator import model_dir as model_dir_lib
from alexnet.estimator import train_log
from alexnet.estimator.input_fn import input_fn
from alexnet.estimator.model_fn import ModeKeys, Params, Schedule, model_fn
from alexnet.evaluation import checkpoint_eval
from alexnet.nets import quantize
from alexnet.training import cluster as cluster_lib
from alexnet.training.hooks import ProgressHook


class _Trainer:
  """One training run: the TRAIN session and the end-of-epoch work."""

  def __init__(self, data_dir, model_dir, params, steps_per_epoch,
               max_steps, validation_count, log, cluster=None):
    self.cluster = cluster  # None: one process.
    self.data_dir = data_dir
    self.model_dir = model_dir
    self.params = params
    self.run = params.train
    self.steps_per_epoch = steps_per_epoch
    self.max_steps = max_steps
    self.validation_count = validation_count
    self.log = log
    self.saver = None  # The TRAIN graph's, once built.
    self.server = None  # In a cluster, once started.
    self.init_checkpoint = None  # A checkpoint to start from, if any.

  def session_config(self, precision="float32", inter_op_threads=None):
    """The options of this run's sessions: the TRAIN session's at the run's
    precision; validation and best/ read the float32 weights in float32,
    as the exported model will run."""
    return session_config(self.run.num_threads, precision, inter_op_threads)

  def train(self, start_step):
    """Builds the TRAIN graph and runs the monitored session to max_steps."""
    run, cluster = self.run, self.cluster
    with tf.Graph().as_default(), (
        tf.compat.v1.device(cluster_lib.device_setter(cluster)) if cluster
        else contextlib.nullcontext()):
      if run.seed is not None:
        tf.compat.v1.set_random_seed(run.seed)
      if cluster:
        # Each worker its own part, repeated until the global step ends it,
        # and its own (still repeatable) shuffle.
        shard, num_epochs = (cluster.worker_index, cluster.num_workers), None
        seed = (None if run.seed is None
                else run.seed + start_step + cluster.worker_index)
      else:
        # A resumed run reshuffles from a new, still repeatable, seed.
        shard = None
        num_epochs = math.ceil(
            (self.max_steps - start_step) / self.steps_per_epoch)
        seed = None if run.seed is None else run.seed + start_step
      images, labels = input_fn(
          self.data_dir, "train", self.params.model, run.batch_size,
          is_training=True, augment=run.augment,
          augment_color=run.augment_color, num_epochs=num_epochs, seed=seed,
          shard=shard, augment_extra=extra_augmentations(run),
          balance_classes=run.class_balance == "sampling")
      spec = model_fn(images, labels, ModeKeys.TRAIN, self.params)
      self.saver = tf.compat.v1.train.Saver(max_to_keep=run.keep_checkpoints,
                                            save_relative_paths=True)
      # Only when model_dir has no checkpoint yet (MonitoredTrainingSession).
      init_fn = (self._initializer(self.init_checkpoint)
                 if self.init_checkpoint else None)
      scaffold = tf.compat.v1.train.Scaffold(saver=self.saver,
                                             init_fn=init_fn)
      global_step = tf.compat.v1.train.get_global_step()
      if cluster and not cluster.is_chief:
        self._work(spec, scaffold, global_step)
        return
      # after_run goes in list order: the step's log line is written before
      # its checkpoint, so a kill between them leaves a log line past the
      # checkpoint (dropped on resume), never a checkpoint past the log.
      hooks = [
          ProgressHook(spec.scalars, self.steps_per_epoch, self.max_steps,
                        self.global_batch, self.log, self.end_epoch,
                        read_global_step=bool(cluster)),
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
          *spec.training_hooks,
      ]
      with tf.compat.v1.train.MonitoredTrainingSession(
          checkpoint_dir=self.model_dir, scaffold=scaffold, hooks=hooks,
          save_checkpoint_secs=None, save_checkpoint_steps=None,
          save_summaries_steps=None, save_summaries_secs=None,
          log_step_count_steps=None, **self._cluster_session_args()) as sess:
        try:
          while not sess.should_stop():
            sess.run(spec.train_op)
        except KeyboardInterrupt:
          # Ctrl-C: keep every finished step (kill -9 loses up to one
          # checkpoint interval). The raw session runs no hooks.
          sess.run_step_fn(self._save_now)
          raise

  def start_server(self):
    """This worker's server, once the parameter servers answer."""
    cluster_lib.wait_for_cluster(self.cluster)
    self.server = cluster_lib.start_server(self.cluster)

  @property
  def global_batch(self):
    """Images per step: batch_size from each worker."""
    return self.run.batch_size * (self.cluster.num_workers if self.cluster
                                  else 1)

  def _cluster_session_args(self):
    """MonitoredTrainingSession's master, role and options for this task."""
    # One inter-op thread: the step's ops run one after another anyway (each
    # on all the intra-op threads) and the input pipeline needs little;
    # a second one only contends for the cores (BENCHMARKS.md, issue 27:
    # 5-21% more images/s at 99x99, bfloat16, none lost at 227, float32).
    config = self.session_config(self.run.precision, inter_op_threads=1)
    if not self.cluster:
      return {"config": config}
    return {"master": self.server.target, "is_chief": self.cluster.is_chief,
            "config": cluster_lib.session_config(self.cluster, config),
            "max_wait_secs": self.cluster.timeout_secs,
            # The chief's sync thread may wait on a step that never comes.
            "stop_grace_period_secs": 1}

  def _work(self, spec, scaffold, global_step):
    """A worker that is not the chief: steps and progress, no outputs."""
    hooks = [
        cluster_lib.SameModelHook(
            tf.compat.v1.trainable_variables(),
            lambda: model_dir_lib.check_model_dir(self.model_dir,
                                                  self.params.model)),
        ProgressHook(spec.scalars, self.steps_per_epoch, self.max_steps,
                     self.global_batch, None, None, read_global_step=True),
        tf.compat.v1.train.LoggingTensorHook(
            {"step": global_step, **spec.scalars},
            every_n_iter=self.run.log_every_n_steps),
        *spec.training_hooks,
    ]
    args = self._cluster_session_args()
    cluster_lib.wait_for_chief(self.cluster, self.server, args["config"])
    with tf.compat.v1.train.MonitoredTrainingSession(
        scaffold=scaffold, hooks=hooks, **args) as sess:
      while not sess.should_stop():
        sess.run(spec.train_op)

  def _initializer(self, checkpoint_path):
    """A Scaffold init_fn restoring the model variables (those of the
    PREDICT graph, without optimizer state) that `checkpoint_path` holds;
    called in the TRAIN graph."""
    size = self.params.model.image_size
    with tf.Graph().as_default():
      model_fn(tf.compat.v1.placeholder(tf.float32, [None, size, size, 3]),
               None, ModeKeys.PREDICT, self.params)
      names = {v.op.name for v in tf.compat.v1.global_variables()}
    saved = checkpoints.Reader(checkpoint_path).shapes()
    missing = sorted(names - set(saved))
    missing = [n for n in missing if not quantize.is_range_variable(n)]
    if missing:
      raise UserError(f"--init_checkpoint={checkpoint_path} has no variable "
                      f"{missing[0]}: it is not from this network (check "
                      "--normalization)")

    variables = [v for v in tf.compat.v1.global_variables()
                 if v.op.name in names and v.op.name in saved]
    saver = checkpoints.restorer(checkpoint_path, variables)

    def init_fn(scaffold, session):
      del scaffold
      checkpoints.restore(session, checkpoint_path, saver=saver)
      tqdm.write(f"initialized {len(variables)} variables from "
                 f"{checkpoint_path}")

    return init_fn

  def _save_now(self, step_context):
    """A checkpoint at the current step (a MonitoredSession step_fn)."""
    self.saver.save(step_context.session,
                    os.path.join(self.model_dir, checkpoints.PREFIX),
                    global_step=tf.compat.v1.train.get_global_step())

  def end_epoch(self, session, step, epoch, images_per_sec=None):
    """Saves (given the session), validates, keeps the best, logs `epoch`,
    which ended at `step`.

    Without a session it validates the checkpoint already saved at `step`.
    """
    if session is not None:
      self.saver.save(session, os.path.join(self.model_dir, checkpoints.PREFIX),
                      global_step=step)
    checkpoint_path = checkpoints.latest(self.model_dir)
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
      report = checkpoint_eval.evaluate(
          checkpoint_path, self.params.model,
          lambda: input_fn(self.data_dir, "validation", self.params.model,
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
    else:
      # Nothing to choose by (the final model on every track): best/ keeps
      # the last epoch, the schedule's result.
      row["best"] = True
      self._keep_best(checkpoint_path, row)
    self.log.write("epoch", **row)

  def _keep_best(self, checkpoint_path, row):
    """Copies the checkpoint's model variables (no optimizer state) to best/."""
    size = self.params.model.image_size
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


def extra_augmentations(run):
  """The preprocessing.EXTRA_AUGMENTATIONS a TrainConfig turns on (its
  augment_NAME flags)."""
  return tuple(name for name in preprocessing.EXTRA_AUGMENTATIONS
               if getattr(run, f"augment_{name}"))


def _mean(values):
  values = list(values)
  return sum(values) / len(values) if values else None


def _check_quantization(model_dir, model):
  """UserError if model_dir holds a model quantized otherwise (a float one
  is fine-tuned quantization-aware into a new model_dir)."""
  if not os.path.exists(model_dir_lib.config_path(model_dir)):
    return
  saved = model_dir_lib.load_model_config(model_dir)
  if saved.fake_quant and not model.fake_quant:
    raise UserError(f"{model_dir} holds a quantization-aware model: continue "
                    "it with --quantize_delay")
  if model.fake_quant and not saved.fake_quant:
    raise UserError(f"{model_dir} holds a float model: fine-tune it "
                    "quantization-aware into a new --model_dir with "
                    f"--init_checkpoint={model_dir}")


def _init_checkpoint(path, model):
  """The checkpoint --init_checkpoint names: a model_dir's best (else
  latest) one, checked against `model`, or a checkpoint prefix."""
  if not os.path.isdir(path):
    return checkpoints.resolve(None, path)
  if os.path.exists(model_dir_lib.config_path(path)):
    difference = model_dir_lib.first_difference(
        model_dir_lib.load_model_config(path), model,
        ignore=("fake_quant", "class_names"))
    if difference:
      key, value, wanted = difference
      raise UserError(f"--init_checkpoint={path} was trained with "
                      f"--{key}={value}, not {wanted}: pass --{key}={value}")
  return checkpoints.resolve(
      path, "best" if checkpoints.read_best(path) else "latest")


def train(data_dir, model_dir, model, train_config=TrainConfig(),
          cluster=None):
  """Trains (or resumes training) a model in model_dir; see module docstring.

  Args:
    data_dir: TFRecord dataset directory (tools/build_tfrecord.py).
    model_dir: checkpoints, logs and model_config.json; created if needed.
    model: the ModelConfig; its num_classes and class_names are taken from
      the dataset.
    train_config: the TrainConfig (epochs or max_steps, batch size, the
      optimization, augmentation, checkpoint and log intervals).
    cluster: an alexnet.training.cluster.Cluster worker task, or None (one
      process). Steps and epochs then count global steps of batch_size
      images from each worker.

  Returns:
    The global step reached.
  """
  run = train_config
  check_precision(run.precision)
  workers = cluster.num_workers if cluster else 1
  manifest = tfrecord_reader.read_manifest(data_dir)
  train_count = tfrecord_reader.split_count(manifest, "train")
  if train_count == 0:
    raise UserError(f"{data_dir} has no training images: build it from the "
                    "GTSRB training set with tools/build_tfrecord.py")
  if train_count < run.batch_size * workers:
    each = f" from each of {workers} workers" if cluster else ""
    raise UserError(f"--batch_size={run.batch_size}{each} is larger than the "
                    f"{train_count} training images in {data_dir}: lower it")
  steps_per_epoch = train_count // (run.batch_size * workers)
  max_steps = (run.epochs * steps_per_epoch if run.max_steps is None
               else run.max_steps)
  model = model.replace(
      num_classes=manifest["num_classes"],
      class_names=tuple(tfrecord_reader.class_names(manifest)),
      fake_quant=run.quantize_delay >= 0)
  if run.quantize_delay >= max_steps:
    raise UserError(f"--quantize_delay={run.quantize_delay} is not below the "
                    f"run's {max_steps} steps, so no step would train "
                    "quantized: lower it (0 to fine-tune a float model) or "
                    "train longer")
  schedule = Schedule(
      total_steps=max_steps,
      warmup_steps=round(run.warmup_epochs * steps_per_epoch),
      decay_steps=max(1, round(run.decay_epochs * steps_per_epoch)))
  class_weights = None
  if run.class_balance != "none":
    # Read (and a manifest without per-class counts refused) before any work.
    weights = tfrecord_reader.class_weights(data_dir, "train", manifest)
    if run.class_balance == "loss":
      class_weights = tuple(float(w) for w in weights)
  params = Params(model, run, schedule, sync_replicas=workers if cluster
                  else 0, is_chief=not cluster or cluster.is_chief,
                  class_weights=class_weights)
  if cluster:
    shards = tfrecord_reader.shard_paths(data_dir, "train", manifest)
    part = tfrecord_reader.worker_shards(shards, cluster.worker_index, workers)
    print(f"{cluster}: " + (
        f"reads {len(part)} of the {len(shards)} training shards"
        if part is not None else
        f"{len(shards)} training shard(s) for {workers} workers: reads 1 "
        f"record in {workers} of each"), flush=True)
  if cluster and not cluster.is_chief:
    # The chief's model_dir, when this worker sees it; the variables on the
    # parameter servers are checked once the session is up.
    if os.path.isdir(model_dir):
      model_dir_lib.check_model_dir(model_dir, model)
    trainer = _Trainer(data_dir, model_dir, params, steps_per_epoch,
                       max_steps, 0, None, cluster)
    trainer.start_server()
    with tfrecord_reader.reading(data_dir, "train"):
      trainer.train(0)
    cluster_lib.finish(cluster, trainer.server)
    return max_steps
  os.makedirs(model_dir, exist_ok=True)
  _check_quantization(model_dir, model)
  model_dir_lib.check_model_dir(model_dir, model)
  model_dir_lib.save_model_config(model_dir, model)

  start = checkpoints.resume_point(model_dir)
  start_step = checkpoints.global_step(start) if start else 0
  if start and run.moving_average_decay and not checkpoints.averaged_names(
      start):
    raise UserError(f"{start} was trained without --moving_average_decay: "
                    "continue it without that flag, or train into a new "
                    "--model_dir")
  log_path = train_log.log_path(model_dir)
  train_log.truncate(log_path, start_step)
  with train_log.Writer(log_path) as log:
    trainer = _Trainer(data_dir, model_dir, params, steps_per_epoch,
                       max_steps,
                       tfrecord_reader.split_count(manifest, "validation"),
                       log, cluster)
    if cluster:
      trainer.start_server()
      cluster_lib.quiet_sync_thread()
      if cluster_lib.running(cluster, trainer.server):
        # A chief restarted into a running cluster: without a token each,
        # the workers that pushed a gradient of the step it never finished
        # would wait for ever. Not on a fresh cluster resuming a checkpoint,
        # where a spare token lets the chief contribute twice to one step.
        trainer.params = dataclasses.replace(
            trainer.params, sync_init_tokens=workers - 1)
    if run.init_checkpoint and not start:
      trainer.init_checkpoint = _init_checkpoint(run.init_checkpoint, model)
    # Killed between an epoch's last checkpoint and its log line: finish it.
    _, epochs_logged = train_log.read(log_path)
    with tfrecord_reader.reading(data_dir, "train", "validation"):
      if start_step and (start_step % steps_per_epoch == 0 or
                         start_step >= max_steps) and not any(
                             r["step"] == start_step for r in epochs_logged):
        trainer.end_epoch(None, start_step,
                          math.ceil(start_step / steps_per_epoch))
      if start_step < max_steps:
        trainer.train(start_step)
    if cluster:
      cluster_lib.finish(cluster, trainer.server)
  return max(start_step, max_steps)
