"""Importing alexnet asks TensorFlow for its oneDNN kernels, unless told not to."""

import os
import subprocess
import sys

import pytest

_PROBE = ("import alexnet, tensorflow as tf; "
          "from tensorflow.python.util import _pywrap_util_port as port; "
          "print(port.IsMklEnabled())")


def _probe(env_value):
  env = {k: v for k, v in os.environ.items() if k != "TF_ENABLE_ONEDNN_OPTS"}
  if env_value is not None:
    env["TF_ENABLE_ONEDNN_OPTS"] = env_value
  out = subprocess.run([sys.executable, "-c", _PROBE], env=env, check=True,
                       capture_output=True, text=True)
  return out.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("env_value, expected", [
    (None, "True"),   # unset: the package turns oneDNN on
    ("0", "False"),   # the user's choice wins
])
def test_onednn_follows_the_package_default_and_the_user(env_value, expected):
  assert _probe(env_value) == expected
