"""Trains AlexNet on a GTSRB TFRecord dataset; resumes from model_dir.

  python tools/train.py --data_dir=data/tfrecords --model_dir=runs/alexnet \\
      --image_size=227 --batch_size=64 --epochs=20

Writes checkpoints, TensorBoard events (`tensorboard --logdir=MODEL_DIR`),
train_log.jsonl, best/ (best validation top-1), model_config.json, and at
the end export/ (inference graph + checkpoint for freeze_graph, SavedModel).
Run the same command again to continue an interrupted run.

Distributed (synchronous, TensorFlow's parameter-server runtime): start every
task of the cluster with the same flags plus its own --job_name and
--task_index (TF1's mnist_replica.py flags), or with TF_CONFIG set:

  python tools/train.py ... --ps_hosts=h0:2222 --worker_hosts=h1:2222,h2:2222 \
      --job_name=worker --task_index=0

Worker 0 is the chief: it alone writes MODEL_DIR (and exports); a step
averages --batch_size images from each worker. scripts/train_local_cluster.sh
starts such a cluster on 127.0.0.1; docs/distributed.md has the rest.

Quantization-aware training (tf.contrib.quantize's recipe): fine-tune a
trained float model with fake quantization for a few epochs,

  python tools/train.py --data_dir=data/tfrecords --model_dir=runs/qat \
      --init_checkpoint=runs/alexnet --quantize_delay=0 --epochs=2 \
      --learning_rate=1e-5 --image_size=227

then freeze its export and convert it with --inference_type=QUANTIZED_UINT8
(tools/convert.py): no representative data needed.

Mixed precision: --precision=bfloat16 runs each training step's math in
bfloat16 (grappler's oneDNN auto-mixed-precision rewrite, on CPUs with
AVX512_BF16 or AMX; refused elsewhere), on float32 weights: checkpoints,
exports and so every later step are float32 as usual.
"""

import os

from absl import app, flags

from alexnet.core import atomic_files
from alexnet.core.config import ClusterConfig, ModelConfig, TrainConfig
from alexnet.core.errors import exit_on_user_error
from alexnet.estimator import checkpoints
from alexnet.evaluation import plots
from alexnet.serving import export
from alexnet.training import cluster as cluster_lib
from alexnet.training import trainer
import tensorflow as tf  # after alexnet, which picks TensorFlow's kernels

from config_flags import config_from_flags, define_config_flags, parse_flags

# Taken from the dataset, not from flags; fake_quant from --quantize_delay.
_FROM_DATASET = ("num_classes", "class_names", "fake_quant")

flags.DEFINE_string("data_dir", None, "TFRecord dataset (build_tfrecord.py).")
flags.DEFINE_string("model_dir", None, "Checkpoints, logs and exports.")
define_config_flags(ModelConfig, skip=_FROM_DATASET)
define_config_flags(TrainConfig)
define_config_flags(ClusterConfig)
flags.DEFINE_boolean("export", True, "Export the best (else the latest) "
                     "checkpoint at the end.")
flags.mark_flags_as_required(["data_dir", "model_dir"])
FLAGS = flags.FLAGS


def _has_progress():
  latest = checkpoints.latest(FLAGS.model_dir)
  return bool(latest and checkpoints.global_step(latest))


def main(argv):
  del argv
  # Checkpoint saves and the logging hook's loss lines, printed once (not
  # again through absl's root handler).
  tf.compat.v1.logging.set_verbosity(tf.compat.v1.logging.INFO)
  tf.get_logger().propagate = False
  # Both checked (one line naming a bad flag) before anything is written.
  model = config_from_flags(ModelConfig, skip=_FROM_DATASET)
  train_config = config_from_flags(TrainConfig)
  cluster = cluster_lib.resolve(config_from_flags(ClusterConfig),
                                os.environ.get(cluster_lib.TF_CONFIG))
  if cluster and cluster.is_ps:
    cluster_lib.serve(cluster)
    return
  if cluster and not cluster.is_chief:
    # The chief alone writes the model_dir: this worker makes none.
    step = trainer.train(FLAGS.data_dir, FLAGS.model_dir, model,
                         train_config, cluster)
    print(f"trained to step {step} as {cluster.device}")
    return
  # A new run that fails before a step's checkpoint (the session's first is
  # step 0's) leaves no model_dir behind.
  with atomic_files.created_dir(FLAGS.model_dir, keep=_has_progress):
    step = trainer.train(FLAGS.data_dir, FLAGS.model_dir, model, train_config,
                         cluster)
  print(f"trained to step {step} in {FLAGS.model_dir}")
  plots.plot_training(FLAGS.model_dir, FLAGS.model_dir)
  if FLAGS.export:
    which = "best" if checkpoints.read_best(FLAGS.model_dir) else "latest"
    export_dir = export.export(FLAGS.model_dir, which)
    print(f"exported the {which} checkpoint to {export_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
