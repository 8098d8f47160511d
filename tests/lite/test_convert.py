"""Each quantization mode converts the tiny trained AlexNet and LiteRT runs it."""

import collections

import numpy as np
import pytest
import tensorflow as tf

from alexnet.evaluation import metrics
from alexnet.lite import converter
from alexnet.runner import model_files
from alexnet.lite import flatbuffer
from alexnet.graph_tools import graph_io
from alexnet.lite import lower_lrn
from alexnet.lite import interpreter
from alexnet.datasets.signnames import NUM_CLASSES, SIGN_NAMES

# The per-image standardization, kept float32 inside the int8 models.
STANDARDIZATION_OPS = {"MEAN", "SUB", "SQUARED_DIFFERENCE", "SQRT", "MAXIMUM",
                       "DIV"}


def _frozen_predict(graph_path, images):
  runner = model_files.FrozenGraphRunner(graph_path)
  try:
    return runner.predict(images)
  finally:
    runner.close()


@pytest.fixture(scope="module")
def frozen_probabilities(tiny, validation):
  return _frozen_predict(tiny["graph"], validation[0])


def test_each_variant_runs_and_matches_the_frozen_graph(
    variant, converted, validation, frozen_probabilities):
  images, labels = validation
  probs = interpreter.predict(interpreter.load(converted[variant]["path"]),
                              images)
  assert probs.shape == (len(labels), NUM_CLASSES)
  # Dequantized int8 softmax steps are 1/256, so rows sum to 1 within that.
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)
  assert metrics.top1_agreement(frozen_probabilities, probs) >= 0.95
  assert metrics.classification_report(labels, probs, SIGN_NAMES)["top1"] >= (
      metrics.classification_report(labels, frozen_probabilities,
                                     SIGN_NAMES)["top1"] - 0.05)


def test_quantized_variants_are_smaller(converted):
  size = {name: info["size_bytes"] for name, info in converted.items()}
  # int8 weights: a quarter of float32 plus metadata; float16: a half.
  for name in ("dynamic", "int8_uint8_io", "int8_int8_io"):
    assert size[name] <= 0.26 * size["float"], name
  assert size["float16"] <= 0.51 * size["float"]


def test_int8_agrees_with_float_tflite(converted, validation):
  images, _ = validation
  float_probs = interpreter.predict(
      interpreter.load(converted["float"]["path"]), images)
  int8_probs = interpreter.predict(
      interpreter.load(converted["int8_int8_io"]["path"]), images)
  assert metrics.top1_agreement(float_probs, int8_probs) >= 0.95


@pytest.mark.parametrize("name,dtype,zero_point", [
    ("int8_uint8_io", np.uint8, 0), ("int8_int8_io", np.int8, -128)])
def test_integer_input_takes_raw_pixels(name, dtype, zero_point, converted,
                                        validation):
  """Scale 1 and the zero point map q to pixel values 0..255 exactly, so a
  phone feeds camera bytes (int8: minus 128) without any arithmetic."""
  info = converted[name]
  assert info["input"]["dtype"] == np.dtype(dtype).name
  assert info["output"]["dtype"] == np.dtype(dtype).name
  assert info["input"]["scale"] == 1.0
  assert info["input"]["zero_point"] == zero_point
  images, _ = validation
  model = interpreter.load(info["path"])
  inp, out = model.get_input_details()[0], model.get_output_details()[0]
  pixels = np.round(images).astype(np.int32)
  for image, raw in zip(images[:4], pixels[:4]):
    model.set_tensor(inp["index"], (raw[None] + zero_point).astype(dtype))
    model.invoke()
    by_hand = model.get_tensor(out["index"])
    np.testing.assert_allclose(
        interpreter.dequantize_output(by_hand, out),
        interpreter.predict(model, image[None]), atol=1e-6)


@pytest.mark.parametrize("name", ["int8_uint8_io", "int8_int8_io"])
def test_int8_handles_dark_and_uniform_images(name, converted, validation):
  """Quantized, the standardization's variance of a dark, low-contrast image
  rounds to 0 and TFLite's int8 DIV fails on the zero divisor; kept float,
  a dimmed image (which standardizes like the original) is classified as the
  float model classifies it."""
  images, _ = validation
  dimmed = np.round(images * 0.06)  # pixel values 0..15
  uniform = np.stack([np.zeros_like(images[0]), np.full_like(images[0], 255)])
  int8_model = interpreter.load(converted[name]["path"])
  probs = interpreter.predict(int8_model, np.concatenate([dimmed, uniform]))
  np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=0.02)
  float_probs = interpreter.predict(
      interpreter.load(converted["float"]["path"]), dimmed)
  assert metrics.top1_agreement(float_probs, probs[:len(dimmed)]) >= 0.9


def test_int8_reports_lrn_float_fallback(converted):
  """LRN has no integer kernel: the converter keeps it in float."""
  info = converted["int8_uint8_io"]
  assert set(info["float_fallback_ops"]) == (
      STANDARDIZATION_OPS | {"LOCAL_RESPONSE_NORMALIZATION"})
  assert info["lowered_lrn"] == []
  assert "CONV_2D:int8" in info["ops"]
  assert "FULLY_CONNECTED:int8" in info["ops"]
  assert converted["float"]["float_fallback_ops"] == []
  assert "FULLY_CONNECTED:hybrid" in converted["dynamic"]["ops"]


def test_lowered_lrn_leaves_no_float_op_but_the_standardization(converted):
  info = converted["int8_int8_io"]
  assert [n.rsplit("/", 1)[-1] for n in info["lowered_lrn"]] == ["lrn1", "lrn2"]
  assert set(info["float_fallback_ops"]) == STANDARDIZATION_OPS
  assert "LOCAL_RESPONSE_NORMALIZATION" not in info["ops"]
  assert "RSQRT:int8" in info["ops"]


def test_lowered_lrn_matches_lrn_in_float(tiny, validation):
  """The rewrite computes the same function as the LRN op it replaces."""
  graph_def = graph_io.load_graph_def(tiny["graph"])
  lowered, names = lower_lrn.lower_lrn(graph_def)
  assert names and not any(n.op == "LRN" for n in lowered.node)
  images = validation[0][:4]
  outputs = []
  for g in (graph_def, lowered):
    graph = graph_io.import_graph(g)
    with tf.compat.v1.Session(graph=graph) as sess:
      outputs.append(sess.run(f"{names[0]}:0", {"input:0": images}))
  np.testing.assert_allclose(outputs[1], outputs[0], rtol=1e-4, atol=1e-5)


def test_convert_tool_takes_old_toco_recipe(tool, tiny, small_graph,
                                           tmp_path):
  out = tmp_path / "m.tflite"
  result = tool("convert", f"--input_file={small_graph}",
                f"--output_file={out}", "--input_arrays=input",
                "--output_arrays=probabilities", "--input_shapes=1,8,8,3",
                "--inference_type=QUANTIZED_UINT8",
                f"--representative_data={tiny['data_dir']}",
                "--representative_samples=8")
  assert "input: uint8 [1, 8, 8, 3] scale=1 zero_point=0" in result.stdout
  info = interpreter.io_quantization(interpreter.load(str(out)))
  assert info["output"]["dtype"] == "uint8"
  labels = (tmp_path / "labels.txt").read_text().splitlines()
  assert labels == list(SIGN_NAMES)


@pytest.mark.parametrize("quantize,input_type,tolerance", [
    ("none", tf.float32, 1e-4), ("int8", tf.uint8, 0.05)])
def test_tflite_bytes_converts_up_to_any_layer(quantize, input_type, tolerance,
                                               tiny, validation):
  """A net cut after pool2 (what benchmarks/profile_tflite.py times) computes
  the frozen graph's pool2; int8 within 5% of the activation range."""
  images = validation[0][:4]
  graph_def = graph_io.load_graph_def(tiny["graph"])
  pool2 = next(n.name for n in graph_def.node if n.name.endswith("/pool2"))
  with tf.compat.v1.Session(graph=graph_io.import_graph(graph_def)) as sess:
    expected = sess.run(f"{pool2}:0", {"input:0": images})
  model = converter.tflite_bytes(
      tiny["graph"], ["input"], [pool2], [1, *images.shape[1:]], quantize,
      input_type=input_type, representative_data=tiny["data_dir"],
      representative_samples=24)
  runner = interpreter.load(model_content=model)
  out = runner.get_output_details()[0]
  assert np.dtype(out["dtype"]) == np.float32
  got = interpreter.predict(runner, images)
  assert got.shape == expected.shape
  assert np.abs(got - expected).max() <= tolerance * np.abs(expected).max()


def test_builtin_kernels_match_xnnpack(converted, validation):
  """load(xnnpack=False), the profile's other kernels, computes the same."""
  images = validation[0][:4]
  path = converted["float"]["path"]
  builtin, xnnpack = (interpreter.load(path, xnnpack=x) for x in (False, True))
  # XNNPACK shows as DELEGATE nodes in the execution plan; built-in has none.
  ops = [{op["op_name"] for op in i._get_ops_details()}  # pylint: disable=protected-access
         for i in (builtin, xnnpack)]
  assert "DELEGATE" not in ops[0] and "DELEGATE" in ops[1]
  np.testing.assert_allclose(interpreter.predict(builtin, images),
                             interpreter.predict(xnnpack, images), atol=1e-5)


def test_int8_keeps_float_layers_float(converted, validation):
  """float_layers=["conv1"]: conv1 computes in float32, conv2-5 in int8, and
  the model still agrees with the float one."""
  info = converted["int8_float_conv1"]
  with open(info["path"], "rb") as f:
    ops = flatbuffer.list_ops(f.read())
  convs = [flatbuffer.kernel_type(op) for op in ops if op["op"] == "CONV_2D"]
  assert convs == ["float32"] + ["int8"] * 4
  assert "CONV_2D" in info["float_fallback_ops"]
  images = validation[0]
  float_probs = interpreter.predict(
      interpreter.load(converted["float"]["path"]), images)
  probs = interpreter.predict(interpreter.load(info["path"]), images)
  assert metrics.top1_agreement(float_probs, probs) >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("graph_name, float_ops, convs", [
    # Histogram equalization: its histogram ops with the standardization.
    ("pattern_graph_equalized",
     ("UNSORTED_SEGMENT_SUM", "CUMSUM", "GATHER", *STANDARDIZATION_OPS), 5),
    # A spatial transformer: its sampler (the standardization's reductions
    # too; its localization's input scaling, a SUB, is int8); loc_conv1 and
    # loc_conv2 are int8 with AlexNet's five.
    ("pattern_graph_transformed",
     ("GATHER", "FLOOR", "CAST", "MEAN", "SQRT"), 7),
])
def test_in_graph_preprocessing_converts_and_stays_float_in_int8(
    request, tiny, validation, tmp_path, graph_name, float_ops, convs):
  """Networks with more ops in front (an equalizing standardization, a
  spatial transformer): the float model matches the frozen graph; int8
  keeps those ops float, quantizes every convolution, and agrees with
  float."""
  graph = request.getfixturevalue(graph_name)
  images = validation[0]
  want = _frozen_predict(graph, images)
  paths = {name: str(tmp_path / f"{name}.tflite") for name in ("float", "int8")}
  converter.convert_frozen_graph(graph, paths["float"])
  converter.convert_frozen_graph(
      graph, paths["int8"], quantize="int8",
      inference_input_type="QUANTIZED_UINT8",
      representative_data=tiny["data_dir"], representative_samples=24)
  float_probs = interpreter.predict(interpreter.load(paths["float"]), images)
  np.testing.assert_allclose(float_probs, want, atol=1e-5)
  with open(paths["int8"], "rb") as f:
    ops = flatbuffer.list_ops(f.read())
  kernels = collections.defaultdict(set)
  for op in ops:
    kernels[op["op"]].add(flatbuffer.kernel_type(op))
  for op in float_ops:
    assert kernels[op] == {"float32"}, op
  assert kernels["CONV_2D"] == {"int8"}
  assert sum(op["op"] == "CONV_2D" for op in ops) == convs
  int8_probs = interpreter.predict(interpreter.load(paths["int8"]), images)
  assert metrics.top1_agreement(float_probs, int8_probs) >= 0.95
