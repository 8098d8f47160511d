"""The per-layer int8 error report (QuantizationDebugger's statistics) and
--float_layers=auto:N, on the tiny AlexNet's conversions."""

import csv
import math

import pytest

from alexnet.core.errors import UserError
from alexnet.lite import converter
from alexnet.lite import flatbuffer
from alexnet.lite import layer_errors

_CASTS = ("QUANTIZE", "DEQUANTIZE")


def _ops(path):
  with open(path, "rb") as f:
    return flatbuffer.list_ops(f.read())


@pytest.fixture(scope="module")
def auto_converted(tiny, tmp_path_factory):
  """The tiny net as int8 with its worst layer kept float (auto:1)."""
  path = tmp_path_factory.mktemp("auto") / "auto1.tflite"
  return converter.convert_frozen_graph(
      tiny["graph"], str(path), quantize="int8",
      inference_input_type="QUANTIZED_UINT8", float_layers=["auto:1"],
      representative_data=tiny["data_dir"], representative_samples=24,
      layer_report=True)


def test_every_quantized_layer_is_listed_with_finite_errors(converted):
  info = converted["int8_uint8_io"]
  rows = info["layer_errors"]
  quantized = [op["op"] for op in _ops(info["path"])
               if op["op"] not in _CASTS
               and flatbuffer.kernel_type(op) in ("int8", "uint8")]
  assert [row["op"] for row in rows] == quantized
  layers = {row["layer"] for row in rows}
  assert {"conv1", "conv5", "fc6", "fc8"} <= layers
  for row in rows:
    for key in layer_errors.METRICS + (layer_errors.SCORE,):
      assert math.isfinite(row[key]), (row["tensor"], key)
    assert row["scale"] > 0
  # Weighted layers round their outputs: a non-zero error.
  assert all(row[layer_errors.SCORE] > 0 for row in rows
             if row["op"] in ("CONV_2D", "FULLY_CONNECTED"))
  with open(info["layer_errors_csv"]) as f:
    written = list(csv.DictReader(f))
  assert [r["tensor"] for r in written] == [r["tensor"] for r in rows]
  with open(info["layer_errors_png"], "rb") as f:
    assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_auto_keeps_the_worst_layer_float(converted, auto_converted):
  worst = layer_errors.worst_layers(converted["int8_uint8_io"]["layer_errors"],
                                    1)
  assert auto_converted["float_layers"] == worst
  (layer,) = worst
  ops = _ops(auto_converted["path"])
  in_layer = [op for op in ops if op["op"] not in _CASTS and any(
      f"/{layer}/" in f"/{part}/" for name in op["names"]
      for part in name.split(";"))]
  assert in_layer
  assert {flatbuffer.kernel_type(op) for op in in_layer} == {"float32"}
  # The rest stays int8, and the report of the written model no longer
  # lists the float layer.
  assert any(flatbuffer.kernel_type(op) == "int8" for op in ops)
  assert layer not in {row["layer"] for row in auto_converted["layer_errors"]}


@pytest.mark.parametrize("entries,message", [
    (["auto:0"], "whole number N >= 1"),
    (["auto:two"], "whole number N >= 1"),
    (["auto:1", "conv1", "auto:2"], "more than one auto:N"),
])
def test_bad_auto_entries(entries, message):
  with pytest.raises(UserError, match=message):
    layer_errors.parse_float_layers(entries)


@pytest.mark.parametrize("name,layer,network", [
    ("alexnet/conv1/Relu;alexnet/conv1/Conv2D", "conv1", True),
    ("column1/alexnet/conv1/Relu;column1/alexnet/conv1/Conv2D", "conv1", True),
    ("column0/probabilities", "probabilities", False),
    ("probabilities", "probabilities", False),
    ("columnist/conv1/Relu", "conv1", True),
])
def test_a_committee_column_is_not_a_layer(name, layer, network):
  assert layer_errors.layer_of(name) == layer
  assert layer_errors.is_network_layer(name) == network


def test_names_and_auto_combine():
  assert layer_errors.parse_float_layers(["conv1", "auto:2"]) == (("conv1",),
                                                                   2)


def test_auto_asks_for_more_layers_than_there_are(converted):
  rows = converted["int8_uint8_io"]["layer_errors"]
  count = len(layer_errors.layer_scores(rows))
  with pytest.raises(UserError, match=f"only {count} quantized layers"):
    layer_errors.worst_layers(rows, count + 1)


def test_layer_report_needs_int8(small_graph, tmp_path):
  with pytest.raises(UserError, match="needs --quantize=int8"):
    converter.convert_frozen_graph(small_graph, str(tmp_path / "m.tflite"),
                                   layer_report=True)


def test_convert_tool_writes_the_layer_report(tool, tiny, small_graph,
                                              tmp_path):
  out = tmp_path / "m.tflite"
  result = tool("convert", f"--input_file={small_graph}",
                f"--output_file={out}", "--quantize=int8", "--layer_report",
                f"--representative_data={tiny['data_dir']}",
                "--representative_samples=8")
  assert "layer errors:" in result.stdout
  with open(tmp_path / "m_layers.csv") as f:
    ops = [row["op"] for row in csv.DictReader(f)]
  assert "FULLY_CONNECTED" in ops
