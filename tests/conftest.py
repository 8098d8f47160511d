"""Shared test set-up: CPU only, quiet TensorFlow, a way to run the tools."""

import os
import subprocess
import sys

import pytest

import alexnet  # noqa: F401  (before any test imports TensorFlow: kernels)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_tool(name, *args, check=True, timeout=600):
  """Runs `python tools/NAME.py ARGS...` from the repo root; returns the result.

  With check=True a non-zero exit fails the test and shows the tool's output.
  """
  cmd = [sys.executable, os.path.join(REPO_ROOT, "tools", name + ".py")]
  cmd += [str(a) for a in args]
  proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True,
                        timeout=timeout)
  if check and proc.returncode != 0:
    pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}:\n"
                f"{proc.stdout}\n{proc.stderr}")
  return proc


@pytest.fixture
def tool():
  return run_tool
