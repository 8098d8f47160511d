"""toco's QUANTIZED_UINT8 path: the quantization-aware tiny model (qat_graph,
tests/conftest.py) converted from its trained ranges, without representative
data, and the bad inputs of that path."""

import collections
import os
import subprocess
import sys

import numpy as np
import pytest

from alexnet.core.errors import UserError
from alexnet.datasets import tfrecord_reader
from alexnet.graph_tools import graph_io
from alexnet.lite import converter
from alexnet.lite import flatbuffer
from alexnet.lite import interpreter
from alexnet.runner import model_files
from alexnet.serving import export
from tests import builders

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def qat_chain(qat_model, tmp_path_factory):
  """scripts/convert.sh with its original arguments and QUANTIZED_UINT8 on
  the QAT model's export: {"frozen.pb", "model.tflite", "transformed.pb",
  "stdout"}."""
  export_dir = export.export(qat_model, "latest")
  tmp = tmp_path_factory.mktemp("qat_chain")
  out = {name: str(tmp / name) for name in
         ("frozen.pb", "model.tflite", "transformed.pb")}
  proc = subprocess.run(
      [os.path.join(REPO, "scripts", "convert.sh"),
       os.path.join(export_dir, export.INFERENCE_GRAPH),
       os.path.join(export_dir, export.CHECKPOINT), "true", out["frozen.pb"],
       "input", "probabilities", out["model.tflite"], "QUANTIZED_UINT8",
       "QUANTIZED_UINT8", out["transformed.pb"]],
      capture_output=True, text=True, timeout=900,
      env=dict(os.environ, INPUT_SHAPE="1,67,67,3", PYTHON=sys.executable))
  assert proc.returncode == 0, proc.stdout + proc.stderr
  return dict(out, stdout=proc.stdout)


def _images(tiny_gtsrb):
  """The tiny validation and test images, raw pixels."""
  size = builders.COLORS.image_size
  return np.concatenate([tfrecord_reader.load_split(
      tiny_gtsrb["tfrecords"], split, size)[0]
                         for split in ("validation", "test")])


@pytest.mark.slow  # the QAT fixture's training, four tools
def test_convert_sh_gives_an_int8_model_from_trained_ranges(qat_chain):
  assert "trained ranges, input mean 0 std 1" in qat_chain["stdout"]
  assert "default range" not in qat_chain["stdout"]
  lite = interpreter.load(qat_chain["model.tflite"])
  quantization = interpreter.io_quantization(lite)
  assert (quantization["input"]["dtype"],
          quantization["output"]["dtype"]) == ("uint8", "uint8")
  assert (quantization["input"]["scale"],
          quantization["input"]["zero_point"]) == (1.0, 0)
  with open(qat_chain["model.tflite"], "rb") as f:
    kernels = collections.Counter((op["op"], flatbuffer.kernel_type(op))
                                  for op in flatbuffer.list_ops(f.read()))
  assert kernels[("CONV_2D", "int8")] == 5
  assert kernels[("FULLY_CONNECTED", "int8")] == 3


@pytest.mark.slow
def test_int8_model_agrees_with_the_fake_quant_graph(qat_chain, tiny_gtsrb):
  images = _images(tiny_gtsrb)
  runner = model_files.FrozenGraphRunner(qat_chain["frozen.pb"])
  try:
    want = np.argmax(runner.predict(images), axis=1)
  finally:
    runner.close()
  got = np.argmax(interpreter.predict(
      interpreter.load(qat_chain["model.tflite"]), images), axis=1)
  assert len(images) == 15
  assert np.mean(got == want) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("flags, message", [
    ({"quantize": "dynamic"}, r"is fake-quantized .*--quantize=dynamic would "
     r"ignore its trained ranges; convert it with "
     r"--inference_type=QUANTIZED_UINT8"),
    ({"quantize": "float16"}, r"--quantize=float16 would ignore"),
    ({"inference_type": "QUANTIZED_UINT8", "mean_values": 127.5,
      "std_dev_values": 127.5},
     r"--mean_values=127.5 --std_dev_values=127.5 map the uint8 input to "
     r"\[-1, 1\], but input 'input' takes \[0, 255\]: pass "
     r"--mean_values=0 --std_dev_values=1"),
    ({"inference_type": "QUANTIZED_UINT8", "representative_data": "data"},
     r"carries trained ranges \(fake-quant ops\): drop --representative_data"),
])
def test_fake_quant_graph_bad_flags(qat_chain, tmp_path, flags, message):
  out = tmp_path / "model.tflite"
  with pytest.raises(UserError, match=message):
    converter.convert_frozen_graph(qat_chain["frozen.pb"], str(out), **flags)
  assert not out.exists()


def _without_output_range(graph_path, path, layer="fc8"):
  """The frozen QAT graph with `layer`'s activation fake quant bypassed."""
  graph_def = graph_io.load_graph_def(graph_path)
  fake_quant = [n for n in graph_def.node if n.name.startswith(
      f"alexnet/{layer}/act_quant/") and n.op == "FakeQuantWithMinMaxVars"][0]
  for node in graph_def.node:
    node.input[:] = [fake_quant.input[0] if i == fake_quant.name else i
                     for i in node.input]
  graph_def.node.remove(fake_quant)
  graph_io.save_graph_def(graph_def, path)
  return path


@pytest.mark.slow
def test_missing_range_is_named_and_default_ranges_fill_it(qat_chain,
                                                           tmp_path):
  graph = _without_output_range(qat_chain["frozen.pb"],
                                str(tmp_path / "partial.pb"))
  out = tmp_path / "model.tflite"
  with pytest.raises(UserError, match=(
      r"partial.pb: MatMul at node 'alexnet/fc8/MatMul' has no range on its "
      r"output: train it with tools/train.py --quantize_delay, or pass "
      r"--default_ranges_min and --default_ranges_max$")):
    converter.convert_frozen_graph(graph, str(out),
                                   inference_type="QUANTIZED_UINT8")
  assert not out.exists()
  info = converter.convert_frozen_graph(
      graph, str(out), inference_type="QUANTIZED_UINT8",
      default_ranges_min=-10, default_ranges_max=10)
  assert info["ranges"]["missing"] == [
      "MatMul at node 'alexnet/fc8/MatMul' has no range on its output"]
  kernels = {(op["op"], flatbuffer.kernel_type(op))
             for op in flatbuffer.list_ops(out.read_bytes())}
  assert ("FULLY_CONNECTED", "int8") in kernels


@pytest.mark.slow  # a tool run and a conversion
def test_float_graph_without_ranges_or_calibration(tool, small_graph,
                                                   tmp_path):
  out = tmp_path / "model.tflite"
  proc = tool("convert", f"--input_file={small_graph}",
              f"--output_file={out}", "--inference_type=QUANTIZED_UINT8",
              check=False)
  assert proc.returncode == 1
  assert proc.stderr.strip().splitlines()[-1].endswith(
      "--quantize=int8 needs --representative_data=TFRECORDS_DIR for "
      "calibration (or a quantization-aware graph, or "
      "--default_ranges_min/--default_ranges_max)")
  assert not out.exists()
  info = converter.convert_frozen_graph(
      small_graph, str(out), inference_type="QUANTIZED_UINT8",
      default_ranges_min=0, default_ranges_max=6)
  assert info["ranges"]["kind"] == "default"
  assert info["ranges"]["missing"] == [
      "MatMul at node 'MatMul' has no range on its input"]
  lite = interpreter.load(str(out))
  image = np.full((1, 8, 8, 3), 100.0, np.float32)
  probabilities = interpreter.predict(lite, image)
  assert probabilities.shape[0] == 1 and np.isfinite(probabilities).all()


@pytest.mark.slow  # two trainings and a conversion
def test_spatial_transformer_converts_from_trained_ranges(tiny_gtsrb,
                                                          tmp_path):
  """A quantization-aware network behind a spatial transformer: its sampler
  has no ranges and stays float (as calibrated int8 keeps it); the rest is
  int8 from the trained ranges and agrees with the fake-quant graph."""
  transformed = builders.COLORS.replace(
      model=builders.COLORS.model.replace(spatial_transformer=True))
  float_model = builders.train_model(tiny_gtsrb["tfrecords"],
                                     str(tmp_path / "float"), transformed)
  qat_model = builders.train_model(
      tiny_gtsrb["tfrecords"], str(tmp_path / "qat"),
      builders.quantization_aware(transformed, float_model))
  graph = builders.freeze_model(qat_model, str(tmp_path / "frozen.pb"))
  path = str(tmp_path / "model.tflite")
  info = converter.convert_frozen_graph(
      graph, path, quantize="int8", inference_input_type="QUANTIZED_UINT8")
  assert info["ranges"]["kind"] == "trained"
  assert info["ranges"]["missing"] == []
  with open(path, "rb") as f:
    kernels = collections.defaultdict(set)
    for op in flatbuffer.list_ops(f.read()):
      kernels[op["op"]].add(flatbuffer.kernel_type(op))
  assert kernels["FLOOR"] == {"float32"}
  assert kernels["CONV_2D"] == {"int8"}
  images = _images(tiny_gtsrb)
  runner = model_files.FrozenGraphRunner(graph)
  try:
    want = runner.predict(images)
  finally:
    runner.close()
  got = interpreter.predict(interpreter.load(path), images)
  assert (got.argmax(1) == want.argmax(1)).mean() >= 0.9
  np.testing.assert_allclose(got, want, atol=0.05)
