"""Importing alexnet asks TensorFlow for its oneDNN kernels, unless told not to."""

import os
import subprocess
import sys

import pytest

# Prints the variable as alexnet left it, then whether TensorFlow obeyed: the
# first part fails anywhere if the default goes; the second shows the effect
# (on AVX-512 VNNI or AMX CPUs TensorFlow would be on without us).
_PROBE = ("import os, alexnet, tensorflow as tf; "
          "from tensorflow.python.util import _pywrap_util_port as port; "
          "print(os.environ['TF_ENABLE_ONEDNN_OPTS'], port.IsMklEnabled())")


def _probe(env_value):
  env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
  if env_value is not None:
    env["TF_ENABLE_ONEDNN_OPTS"] = env_value
  out = subprocess.run([sys.executable, "-c", _PROBE], env=env, check=True,
                       capture_output=True, text=True)
  return out.stdout.strip().splitlines()[-1]


@pytest.mark.slow
@pytest.mark.parametrize("env_value, expected", [
    (None, "1 True"),   # unset: the package turns oneDNN on
    ("0", "0 False"),   # the user's choice wins
])
def test_onednn_follows_the_package_default_and_the_user(env_value, expected):
  assert _probe(env_value) == expected
