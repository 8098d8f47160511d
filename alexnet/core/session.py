"""The tf.compat.v1 Session options every stage uses, and whether this CPU
can train in bfloat16."""

import tensorflow as tf
from tensorflow.core.protobuf import rewriter_config_pb2
from tensorflow.python.util import _pywrap_util_port

from alexnet.core.errors import UserError

CPUINFO = "/proc/cpuinfo"
# /proc/cpuinfo's names of the instructions oneDNN runs bfloat16 on natively;
# with neither it emulates bfloat16 in float32, slower than float32 itself.
BFLOAT16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def session_config(num_threads=0, precision="float32", inter_op_threads=None):
  """Session options: `num_threads` op threads (0: all cores; the intra-op
  pool is the process's, sized by its first session), as many inter-op
  threads unless `inter_op_threads` says (then in a pool of the session's
  own); ops without a kernel on the chosen device fall back to
  another (soft placement); GPU memory grows as needed instead of being
  taken whole. With `precision` "bfloat16",
  grappler's oneDNN auto-mixed-precision rewrite runs the graph's math in
  bfloat16 at each run: the graph, its variables and so its checkpoints
  stay float32 (check_precision first)."""
  config = tf.compat.v1.ConfigProto(
      intra_op_parallelism_threads=num_threads,
      inter_op_parallelism_threads=(num_threads if inter_op_threads is None
                                    else inter_op_threads),
      allow_soft_placement=True,
      # The process-wide inter-op pool is sized by the first session and
      # ignores later sessions' counts: a count asked for needs its own.
      use_per_session_threads=inter_op_threads is not None)
  config.gpu_options.allow_growth = True
  if precision == "bfloat16":
    rewrites = config.graph_options.rewrite_options
    rewrites.auto_mixed_precision_onednn_bfloat16 = (
        rewriter_config_pb2.RewriterConfig.ON)
  return config


def bfloat16_problem(cpu_flags, onednn_enabled):
  """Why bfloat16 training cannot run here, or None: `cpu_flags` is the
  "flags" line of /proc/cpuinfo (space-separated names), `onednn_enabled`
  whether TensorFlow's oneDNN kernels are on (the rewrite is theirs)."""
  if not onednn_enabled:
    return ("TensorFlow's oneDNN kernels are off (TF_ENABLE_ONEDNN_OPTS=0), "
            "and the bfloat16 rewrite is theirs: unset it")
  if not set(cpu_flags.split()) & set(BFLOAT16_CPU_FLAGS):
    return ("this CPU has no native bfloat16 (neither "
            f"{' nor '.join(BFLOAT16_CPU_FLAGS)} in {CPUINFO}): oneDNN would "
            "emulate it, slower than float32; train with --precision=float32")
  return None


def cpu_flags():
  """The first "flags" line of /proc/cpuinfo ("" where there is none)."""
  try:
    with open(CPUINFO) as f:
      for line in f:
        key, _, value = line.partition(":")
        if key.strip() == "flags":
          return value
  except OSError:
    pass
  return ""


def check_precision(precision):
  """UserError naming the reason if this machine cannot train at
  `precision` (a TrainConfig.precision)."""
  if precision != "bfloat16":
    return
  problem = bfloat16_problem(cpu_flags(), _pywrap_util_port.IsMklEnabled())
  if problem:
    raise UserError(f"--precision=bfloat16 refused: {problem}")
