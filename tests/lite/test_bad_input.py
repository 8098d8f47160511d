"""Each bad input is one UserError line naming the file or value."""

import os

import numpy as np
import pytest
import tensorflow as tf

from alexnet.core.errors import UserError
from alexnet.lite import converter
from alexnet.runner import model_files
from alexnet.lite import metadata


def test_unconvertible_op_names_op_and_node(tool, small_graph_writer,
                                            tmp_path):
  graph = small_graph_writer(
      tmp_path / "bad.pb",
      preprocess=lambda x: tf.math.igamma(x, x + 1.0, name="odd/igamma"))
  out = tmp_path / "m.tflite"
  result = tool("convert", f"--input_file={graph}", f"--output_file={out}",
                check=False)
  assert result.returncode == 1
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: ") and "Igamma" in last
  assert "'odd/igamma'" in last
  assert not out.exists()


def test_representative_data_with_other_class_count(tiny, small_graph_writer,
                                                    tmp_path):
  graph = small_graph_writer(tmp_path / "five.pb", num_classes=5)
  with pytest.raises(UserError, match="43 classes but the model outputs 5"):
    converter.convert_frozen_graph(graph, str(tmp_path / "m.tflite"),
                                 quantize="int8",
                                 representative_data=tiny["data_dir"])
  assert not os.path.exists(tmp_path / "m.tflite")


def test_representative_image_size_mismatch(tiny, tmp_path):
  with pytest.raises(UserError, match="--image_size=99 does not match"):
    converter.convert_frozen_graph(tiny["graph"], str(tmp_path / "m.tflite"),
                                 quantize="int8", image_size=99,
                                 representative_data=tiny["data_dir"])


def test_input_shapes_mismatch(tiny, tmp_path):
  with pytest.raises(UserError, match="does not match the graph's input"):
    converter.convert_frozen_graph(tiny["graph"], str(tmp_path / "m.tflite"),
                                 input_shapes=[[1, 99, 99, 3]])


@pytest.mark.parametrize("kwargs,match", [
    (dict(quantize="int8"), "needs --representative_data"),
    (dict(quantize="dynamic", inference_input_type="INT8"),
     "integer input/output types need --quantize=int8"),
    (dict(inference_type="QUANTIZED_UINT8", quantize="float16"),
     "conflicts with --quantize=float16"),
    (dict(quantize="int4"), "--quantize=int4 is not one of"),
    (dict(quantize="dynamic", float_layers=["conv1"]),
     "--float_layers=conv1 keeps layers float inside an int8 model"),
])
def test_inconsistent_flags(kwargs, match, tiny, tmp_path):
  with pytest.raises(UserError, match=match):
    converter.convert_frozen_graph(tiny["graph"], str(tmp_path / "m.tflite"),
                                 **kwargs)


def test_float_layer_not_in_the_graph(tiny, tmp_path):
  with pytest.raises(UserError, match="has no layer 'conv9' to keep float"):
    converter.convert_frozen_graph(tiny["graph"], str(tmp_path / "m.tflite"),
                                 quantize="int8", float_layers=["conv9"],
                                 representative_data=tiny["data_dir"],
                                 representative_samples=8)
  assert not os.path.exists(tmp_path / "m.tflite")


def test_not_a_graph(tmp_path):
  junk = tmp_path / "junk.pb"
  junk.write_bytes(b"\xff" * 40)
  with pytest.raises(UserError, match="junk.pb is (truncated or )?not a binary GraphDef"):
    converter.convert_frozen_graph(str(junk), str(tmp_path / "m.tflite"))


def test_not_a_tflite_file(tiny, tmp_path):
  junk = tmp_path / "model.tflite"
  junk.write_bytes(np.arange(256, dtype=np.uint8).tobytes())
  with pytest.raises(UserError, match="no 'TFL3'"):
    model_files.evaluate_tflite(str(junk), tiny["data_dir"], "validation")
  with pytest.raises(UserError, match="no 'TFL3'"):
    metadata.read_metadata(str(junk))


def test_tflite_input_size_differs_from_data(tiny, converted):
  with pytest.raises(UserError, match="takes 67x67 images"):
    model_files.evaluate_tflite(converted["float"]["path"], tiny["data_dir"],
                             "validation", image_size=99)


def test_tflite_that_is_not_an_image_classifier(tiny, tmp_path):
  graph = tf.Graph()
  with graph.as_default():
    x = tf.compat.v1.placeholder(tf.float32, [1, 8], name="input")
    tf.nn.softmax(x, name="probabilities")
  path = tmp_path / "vector.pb"
  path.write_bytes(graph.as_graph_def().SerializeToString())
  model = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
      str(path), ["input"], ["probabilities"]).convert()
  bare = tmp_path / "vector.tflite"
  bare.write_bytes(model)
  with pytest.raises(UserError, match=r"input shape \[1, 8\] is not"):
    model_files.evaluate_tflite(str(bare), tiny["data_dir"], "validation")
  with pytest.raises(UserError, match="has no TFLite metadata"):
    metadata.read_metadata(str(bare))
