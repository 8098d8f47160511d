"""AlexNet on GTSRB: the TF1 train → freeze → transform → TFLite workflow on TensorFlow 2.21.

The library holds no command-line parsing; `tools/` wraps it with absl flags.
"""

import os

__version__ = "0.1.0"

# TensorFlow turns its oneDNN kernels on by itself only on CPUs with AVX-512
# VNNI/BF16 or AMX; on AVX2-only CPUs they train AlexNet faster than the
# default Eigen kernels (BENCHMARKS.md, oneDNN section), so ask for them
# unless the user chose.
# Takes effect only before TensorFlow's first import: import alexnet first.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
