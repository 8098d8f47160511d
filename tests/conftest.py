"""Shared test set-up: CPU only, quiet TensorFlow, a way to run the tools, and
the tiny datasets, models and frozen graphs of tests/builders.py, each built
once per session for whichever folders use it."""

import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

import alexnet  # noqa: F401  (before any test imports TensorFlow: kernels)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

# It imports TensorFlow, which reads the settings above when imported.
from tests import builders  # pylint: disable=wrong-import-position

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class _ToolServer:
  """tests/fork_tools.py --serve, started at the first tool run: each tool
  runs in a child forked after one import of TensorFlow, with a command
  line's flags, exit status and output, in a fraction of a new process's
  start-up time."""

  def __init__(self):
    self._proc = None

  def run(self, name, args, timeout):
    if self._proc is None or self._proc.poll() is not None:
      scratch = tempfile.mkdtemp(prefix="tool_server_")
      atexit.register(shutil.rmtree, scratch, True)
      self._proc = subprocess.Popen(
          [sys.executable, os.path.join(REPO_ROOT, "tests", "fork_tools.py"),
           "--serve", scratch], cwd=REPO_ROOT, text=True,
          stdin=subprocess.PIPE, stdout=subprocess.PIPE)
      atexit.register(self._proc.kill)
    self._proc.stdin.write(json.dumps({"tool": name, "args": args,
                                       "cwd": REPO_ROOT,
                                       "timeout": timeout}) + "\n")
    self._proc.stdin.flush()
    answer = self._proc.stdout.readline()
    if not answer:
      pytest.fail(f"tests/fork_tools.py --serve ended running {name}")
    return json.loads(answer)


_TOOL_SERVER = _ToolServer()


def run_tool(name, *args, check=True, timeout=600):
  """Runs `python tools/NAME.py ARGS...` from the repo root (forked by
  _TOOL_SERVER); returns a subprocess.CompletedProcess.

  With check=True a non-zero exit fails the test and shows the tool's output.
  """
  args = [str(a) for a in args]
  cmd = [sys.executable, os.path.join(REPO_ROOT, "tools", name + ".py")]
  result = _TOOL_SERVER.run(name, args, timeout)
  proc = subprocess.CompletedProcess(cmd + args, result["rc"],
                                     result["stdout"], result["stderr"])
  if check and proc.returncode != 0:
    pytest.fail(f"{' '.join(proc.args)} exited {proc.returncode}:\n"
                f"{proc.stdout}\n{proc.stderr}")
  return proc


@pytest.fixture
def tool():
  return run_tool


# Fixtures that train a model or start a tool (a process that imports
# TensorFlow): a test that uses one, directly or through another fixture, is
# `slow`, so `pytest -m "not slow"` stays the quick loop of library tests.
SLOW_FIXTURES = frozenset({"tool", "tiny_model", "pattern_model",
                           "pattern_model_equalized", "pattern_graph",
                           "pattern_graph_equalized",
                           "pattern_model_transformed",
                           "pattern_graph_transformed"})


def pytest_collection_modifyitems(items):
  for item in items:
    if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())):
      item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def tiny_gtsrb(tmp_path_factory):
  """builders.COLORS built: {"train_images", "test_images", "tfrecords"}."""
  return builders.build_dataset(tmp_path_factory.mktemp("colors"),
                                builders.COLORS)


@pytest.fixture(scope="session")
def tiny_model(tiny_gtsrb, tmp_path_factory):
  """A model_dir trained on tiny_gtsrb as builders.COLORS says (2 epochs, 6
  steps), with best/."""
  return builders.train_model(tiny_gtsrb["tfrecords"],
                              str(tmp_path_factory.mktemp("model") / "run"),
                              builders.COLORS)


@pytest.fixture(scope="session")
def pattern_gtsrb(tmp_path_factory):
  """builders.PATTERNS built, as tiny_gtsrb (test_images None: no test
  split)."""
  return builders.build_dataset(tmp_path_factory.mktemp("patterns"),
                                builders.PATTERNS)


@pytest.fixture(scope="session")
def pattern_model(pattern_gtsrb, tmp_path_factory):
  """A model_dir of AlexNet-67 trained on pattern_gtsrb."""
  return builders.train_model(
      pattern_gtsrb["tfrecords"],
      str(tmp_path_factory.mktemp("pattern_net") / "model"), builders.PATTERNS)


def _pattern_variant(pattern_gtsrb, tmp_path_factory, name, **model):
  """pattern_model's network with ModelConfig `model` changes, trained in
  its own model_dir."""
  variant = builders.PATTERNS.replace(
      model=builders.PATTERNS.model.replace(**model))
  return builders.train_model(
      pattern_gtsrb["tfrecords"],
      str(tmp_path_factory.mktemp(f"pattern_net_{name}") / "model"), variant)


def _frozen_beside(model_dir):
  """The frozen graph of model_dir's latest checkpoint, beside it."""
  return builders.freeze_model(
      model_dir, os.path.join(os.path.dirname(model_dir), "frozen.pb"))


@pytest.fixture(scope="session")
def pattern_model_equalized(pattern_gtsrb, tmp_path_factory):
  """pattern_model's network with input_standardization="equalize"."""
  return _pattern_variant(pattern_gtsrb, tmp_path_factory, "equalized",
                          input_standardization="equalize")


@pytest.fixture(scope="session")
def pattern_model_transformed(pattern_gtsrb, tmp_path_factory):
  """pattern_model's network behind a spatial transformer."""
  return _pattern_variant(pattern_gtsrb, tmp_path_factory, "transformed",
                          spatial_transformer=True)


@pytest.fixture(scope="session")
def pattern_graph(pattern_model):
  """The frozen graph of pattern_model (its latest checkpoint)."""
  return _frozen_beside(pattern_model)


@pytest.fixture(scope="session")
def pattern_graph_equalized(pattern_model_equalized):
  """The frozen graph of pattern_model_equalized."""
  return _frozen_beside(pattern_model_equalized)


@pytest.fixture(scope="session")
def pattern_graph_transformed(pattern_model_transformed):
  """The frozen graph of pattern_model_transformed."""
  return _frozen_beside(pattern_model_transformed)


@pytest.fixture(scope="session")
def qat_model(tiny_gtsrb, tiny_model, tmp_path_factory):
  """tiny_model fine-tuned quantization-aware for 1 epoch (3 steps)."""
  return builders.train_model(
      tiny_gtsrb["tfrecords"], str(tmp_path_factory.mktemp("qat") / "run"),
      builders.quantization_aware(builders.COLORS, tiny_model))


@pytest.fixture(scope="session")
def qat_graph(qat_model, tmp_path_factory):
  """qat_model's latest checkpoint exported and frozen (fake-quant ops with
  constant ranges)."""
  return builders.freeze_model(
      qat_model, str(tmp_path_factory.mktemp("qat_graph") / "frozen.pb"))
