"""Each quantization mode converts the tiny trained AlexNet and LiteRT runs it."""

import numpy as np
import pytest

from alexnet import metrics
from alexnet.lite import evaluate
from alexnet.lite import interpreter
from alexnet.signnames import NUM_CLASSES, SIGN_NAMES


@pytest.fixture(scope="module")
def frozen_probabilities(tiny, validation):
  runner = evaluate.FrozenGraphRunner(tiny["graph"])
  try:
    return runner.predict(validation[0])
  finally:
    runner.close()


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


def test_int8_reports_lrn_float_fallback(converted):
  """LRN has no integer kernel: the converter keeps it in float."""
  info = converted["int8_uint8_io"]
  assert "LOCAL_RESPONSE_NORMALIZATION" in info["float_fallback_ops"]
  assert "CONV_2D:int8" in info["ops"]
  assert "FULLY_CONNECTED:int8" in info["ops"]
  assert converted["float"]["float_fallback_ops"] == []
  assert "FULLY_CONNECTED:hybrid" in converted["dynamic"]["ops"]


def test_convert_tool_takes_old_toco_recipe(tool, tiny, tmp_path):
  out = tmp_path / "m.tflite"
  result = tool("convert", f"--input_file={tiny['graph']}",
                f"--output_file={out}", "--input_arrays=input",
                "--output_arrays=probabilities", "--input_shapes=1,67,67,3",
                "--inference_type=QUANTIZED_UINT8",
                f"--representative_data={tiny['data_dir']}",
                "--representative_samples=8")
  assert "input: uint8 [1, 67, 67, 3] scale=1 zero_point=0" in result.stdout
  info = interpreter.io_quantization(interpreter.load(str(out)))
  assert info["output"]["dtype"] == "uint8"
  labels = (tmp_path / "labels.txt").read_text().splitlines()
  assert labels == list(SIGN_NAMES)
