"""AlexNet on GTSRB: the TF1 train → freeze → transform → TFLite workflow on TensorFlow 2.21.

The library holds no command-line parsing; `tools/` wraps it with absl flags.
"""

__version__ = "0.1.0"
