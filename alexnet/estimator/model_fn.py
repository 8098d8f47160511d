"""The Estimator-style model function: one graph per mode, built from params.

tf.estimator is gone from TensorFlow 2.21; this keeps its contract so the
training, evaluation and export code reads like the TF1 original:
`model_fn(features, labels, mode, params)` returns an `EstimatorSpec` whose
fields each mode fills:

  TRAIN    loss, train_op (Adam on the learning-rate schedule; also runs the
           batch-norm statistics updates and, with moving_average_decay,
           updates the network variables' moving averages; in a cluster
           Adam inside SyncReplicasOptimizer), predictions, scalars,
           training_hooks
  EVAL     loss, eval_metric_ops {name: (value, update_op)}, predictions
  PREDICT  predictions {"logits", "probabilities", "classes"} only

`features` is the float32 image batch [B, S, S, 3] in raw RGB 0..255 (for
PREDICT usually the `input` placeholder); `labels` are int64 class ids.
The prediction tensors carry the fixed node names of
alexnet.nets.alexnet, so an inference graph is simply the PREDICT graph.

With ModelConfig.fake_quant every mode's graph is rewritten by
alexnet.nets.quantize (quantization-aware training; TrainConfig's
quantize_delay in TRAIN mode).

`params` is a `Params`: the network's ModelConfig, the TrainConfig (its
optimization fields are read in TRAIN mode) and the run's step counts
(`Schedule`) and class weights (TRAIN's cross-entropy, with class_balance
"loss"), which the trainer derives from the dataset.
"""

import collections
import dataclasses
import typing

import tensorflow as tf

from alexnet.core.config import ModelConfig, TrainConfig
from alexnet.estimator import checkpoints
from alexnet.nets import alexnet as alexnet_lib
from alexnet.nets import nets_factory
from alexnet.nets import quantize


class ModeKeys:
  TRAIN = "train"
  EVAL = "eval"
  PREDICT = "infer"


# `scalars` (TRAIN only): the batch's loss (with weight decay), cross-entropy,
# accuracy and the learning rate, for
# the progress bar, the train log and the logging hook. `training_hooks`
# (TRAIN only): what the session must run beside train_op (the
# SyncReplicasOptimizer's hook in a cluster).
EstimatorSpec = collections.namedtuple(
    "EstimatorSpec",
    "mode predictions loss train_op eval_metric_ops scalars training_hooks",
    defaults=(None, ()))



@dataclasses.dataclass(frozen=True)
class Schedule:
  """A run's step counts, derived from the dataset size and TrainConfig."""
  total_steps: int = 1  # the end of the cosine schedule
  warmup_steps: int = 0  # linear ramp from 0 to the learning rate
  decay_steps: int = 1  # step schedule: multiply by decay_rate this often


@dataclasses.dataclass(frozen=True)
class Params:
  """model_fn's params: what the network is, how it trains, the steps, and
  in a cluster (alexnet.training.cluster) how many workers' gradients one
  step averages and whether this is the chief."""
  model: ModelConfig
  train: TrainConfig = TrainConfig()
  schedule: Schedule = Schedule()
  sync_replicas: int = 0  # 0: one process, no SyncReplicasOptimizer
  is_chief: bool = True
  # Sync tokens the chief queues when its session starts: 0 on a fresh
  # start; a restarted chief frees the workers still waiting for a token of
  # the step it never finished (their gradients of it are stale, dropped).
  sync_init_tokens: int = 0
  # TrainConfig.class_balance "loss": each class's weight on the training
  # cross-entropy (tfrecord_reader.class_weights); None: unweighted.
  class_weights: typing.Optional[typing.Tuple[float, ...]] = None


def learning_rate_fn(global_step, train, schedule):
  """The learning rate at `global_step` (TrainConfig's schedule, a Schedule's
  step counts) after an optional warm-up."""
  base = float(train.learning_rate)
  warmup = int(schedule.warmup_steps)
  step = tf.cast(global_step, tf.float32)
  # TrainConfig allows only these three.
  if train.lr_schedule == "constant":
    lr = tf.constant(base)
  elif train.lr_schedule == "cosine":
    decay_steps = max(int(schedule.total_steps) - warmup, 1)
    lr = tf.compat.v1.train.cosine_decay(
        base, tf.maximum(global_step - warmup, 0), decay_steps)
  else:
    lr = tf.compat.v1.train.exponential_decay(
        base, global_step, int(schedule.decay_steps),
        float(train.decay_rate), staircase=True)
  if warmup > 0:
    lr *= tf.minimum(1.0, (step + 1.0) / warmup)
  return lr


def _cross_entropy(labels, logits, num_classes, label_smoothing=0.0):
  """Per-example softmax cross-entropy, with optional label smoothing."""
  onehot = tf.one_hot(labels, num_classes)
  if label_smoothing:
    onehot = onehot * (1.0 - label_smoothing) + label_smoothing / num_classes
  return tf.nn.softmax_cross_entropy_with_logits(labels=onehot, logits=logits)


def _update_moving_averages(variables, decay, global_step, train_op):
  """`train_op`, then VARIABLE/ExponentialMovingAverage of each variable
  moved towards it.

  What tf.compat.v1.train.ExponentialMovingAverage(decay,
  num_updates=global_step).apply(variables) does, with the checkpoint names
  it uses; that class cannot be initialized beside reference variables in
  TF 2 (its averages' initial values read the variables through a cond that
  runs before they are initialized), so the averages start from the
  variables' own initial values here.
  """
  updates = []
  with tf.control_dependencies([train_op]):
    # Lower early on, so the averages do not cling to the initialization.
    step = tf.cast(global_step, tf.float32)  # After train_op's increment.
    decay = tf.minimum(decay, (1.0 + step) / (10.0 + step))
    for variable in variables:
      with tf.init_scope():
        average = tf.compat.v1.Variable(
            variable.initial_value,
            name=checkpoints.average_name(variable.op.name), trainable=False,
            use_resource=False)
      # Beside the average: in a cluster the update runs on its parameter
      # server instead of moving the weights to the chief and back.
      with tf.compat.v1.colocate_with(average):
        updates.append(tf.compat.v1.assign_sub(
            average, (1.0 - decay) * (average - variable)))
  return tf.group(*updates, name="update_moving_averages")


def model_fn(features, labels, mode, params):
  """Builds the graph for `mode`; see the module docstring."""
  model, train = params.model, params.train
  is_training = mode == ModeKeys.TRAIN
  network_fn = nets_factory.get_network_fn(
      model.network, model.num_classes, is_training=is_training,
      dropout_rate=train.dropout_rate, normalization=model.normalization,
      weight_decay=train.weight_decay,
      input_standardization=model.input_standardization,
      fc_units=model.fc_units, spatial_transformer=model.spatial_transformer)
  if is_training:
    # Made before the network's variables are counted: the fake-quant
    # rewrite reads it, and it is no network variable (never averaged).
    tf.compat.v1.train.get_or_create_global_step()
  # The network's variables are the global ones it adds (in creation order).
  first_variable = len(tf.compat.v1.global_variables())
  logits, _ = network_fn(features)
  if model.fake_quant:
    # Before the loss and the optimizer, as contrib.quantize required; the
    # activation ranges are network variables (averaged like the weights).
    logits = quantize.quantize_network(
        logits, is_training, max(train.quantize_delay, 0) if is_training
        else 0)
  network_variables = tf.compat.v1.global_variables()[first_variable:]
  predictions = alexnet_lib.inference_outputs(logits)
  if mode == ModeKeys.PREDICT:
    return EstimatorSpec(mode, predictions, None, None, None)

  num_classes = model.num_classes
  per_example = _cross_entropy(labels, logits, num_classes,
                               train.label_smoothing if is_training else 0.0)
  if is_training and params.class_weights is not None:
    # The logged cross-entropy is then the weighted one, which is minimized.
    per_example *= tf.gather(
        tf.constant(params.class_weights, tf.float32), labels)
  cross_entropy = tf.reduce_mean(per_example)
  regularization = tf.compat.v1.losses.get_regularization_losses()
  loss = tf.add_n([cross_entropy] + regularization, name="total_loss")

  if mode == ModeKeys.EVAL:
    # No top-5 here: tf.nn.in_top_k counts ties as hits; the evaluation's
    # top-5 comes from alexnet.evaluation.metrics, which counts them as misses.
    metrics = {
        "accuracy": tf.compat.v1.metrics.accuracy(
            labels, predictions["classes"]),
        "cross_entropy": tf.compat.v1.metrics.mean(
            _cross_entropy(labels, logits, num_classes)),
    }
    return EstimatorSpec(mode, predictions, loss, None, metrics)

  global_step = tf.compat.v1.train.get_or_create_global_step()
  learning_rate = learning_rate_fn(global_step, train, params.schedule)
  accuracy = tf.reduce_mean(
      tf.cast(tf.equal(predictions["classes"], labels), tf.float32))
  optimizer = tf.compat.v1.train.AdamOptimizer(learning_rate)
  hooks = ()
  if params.sync_replicas:
    # One step applies the mean of one gradient from each worker. No initial
    # tokens: a worker waits for each update, so none contributes twice.
    optimizer = tf.compat.v1.train.SyncReplicasOptimizer(
        optimizer, replicas_to_aggregate=params.sync_replicas,
        total_num_replicas=params.sync_replicas)
  # Batch-norm moving statistics are updated with every training step (in a
  # cluster by the chief alone, once per step as in one process).
  with tf.control_dependencies(
      tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
      if params.is_chief else []):
    train_op = optimizer.minimize(loss, global_step=global_step)
  if params.sync_replicas:
    hooks = (optimizer.make_session_run_hook(
        params.is_chief, num_tokens=params.sync_init_tokens),)
  # The chief's train_op ends after the step's update: it moves the averages
  # once per step.
  if train.moving_average_decay and params.is_chief:
    train_op = _update_moving_averages(
        network_variables, float(train.moving_average_decay), global_step,
        train_op)
  tf.compat.v1.summary.scalar("loss", loss)
  tf.compat.v1.summary.scalar("cross_entropy", cross_entropy)
  tf.compat.v1.summary.scalar("accuracy", accuracy)
  tf.compat.v1.summary.scalar("learning_rate", learning_rate)
  tf.compat.v1.summary.image("inputs", features / 255.0, max_outputs=3)
  return EstimatorSpec(mode, predictions, loss, train_op, None,
                       {"loss": loss, "cross_entropy": cross_entropy,
                        "accuracy": accuracy, "learning_rate": learning_rate},
                       hooks)
