"""The lite tests' network: AlexNet-67 trained on the four shapes of
builders.PATTERNS and frozen (tests/conftest.py), its conversions, and small
hand-made graphs.
"""

import pytest
import tensorflow as tf

from alexnet.datasets import signnames
from alexnet.datasets import tfrecord_reader
from alexnet.nets import alexnet
from tests import builders


def write_small_graph(path, num_classes=signnames.NUM_CLASSES,
                      preprocess=None):
  """Writes a frozen 8x8-input classifier (uniform linear layer + softmax),
  with `preprocess` ops between input and the layer; returns the path."""
  graph = tf.Graph()
  with graph.as_default():
    net = alexnet.input_placeholder(8)
    if preprocess:
      net = preprocess(net)
    flat = tf.reshape(net, [-1, 8 * 8 * 3])
    logits = tf.matmul(flat, tf.ones([8 * 8 * 3, num_classes]) / 192)
    tf.nn.softmax(logits, name="probabilities")
  with open(path, "wb") as f:
    f.write(graph.as_graph_def().SerializeToString())
  return str(path)


@pytest.fixture(scope="session")
def small_graph_writer():
  return write_small_graph


@pytest.fixture(scope="session")
def small_graph(tmp_path_factory):
  return write_small_graph(tmp_path_factory.mktemp("small") / "small.pb")


@pytest.fixture(scope="session")
def tiny(pattern_gtsrb, pattern_graph):
  """{"data_dir", "graph"}: TFRecords (train/validation) and frozen graph."""
  return {"data_dir": pattern_gtsrb["tfrecords"], "graph": pattern_graph}


# name -> (quantize, inference_input_type, lower_lrn, float_layers,
# layer_report) of the variants the tests convert: the pipeline's (its int8
# with the per-layer error report), and an int8-input one with its LRNs
# rewritten.
VARIANTS = {
    "float": ("none", None, False, (), False),
    "dynamic": ("dynamic", None, False, (), False),
    "float16": ("float16", None, False, (), False),
    "int8_uint8_io": ("int8", "QUANTIZED_UINT8", False, (), True),
    "int8_float_conv1": ("int8", "QUANTIZED_UINT8", False, ("conv1",), False),
    "int8_int8_io": ("int8", "INT8", True, (), False),
}


@pytest.fixture(scope="session")
def converted(tiny, tmp_path_factory):
  """Converts each VARIANT once; returns name -> convert_frozen_graph info."""
  from alexnet.lite import converter  # pylint: disable=g-import-not-at-top
  infos = {}
  for name, (quantize, input_type, lower_lrn, layers, report) in (
      VARIANTS.items()):
    out_dir = tmp_path_factory.mktemp(name)
    infos[name] = converter.convert_frozen_graph(
        tiny["graph"], str(out_dir / "model.tflite"), quantize=quantize,
        inference_input_type=input_type, lower_lrn=lower_lrn,
        float_layers=layers, representative_data=tiny["data_dir"],
        representative_samples=24, layer_report=report)
  return infos


@pytest.fixture(scope="session")
def validation(tiny):
  """(images, labels) of the tiny validation split at the model's size."""
  return tfrecord_reader.load_split(tiny["data_dir"], "validation",
                                    builders.PATTERNS.image_size)


def pytest_generate_tests(metafunc):
  """Tests taking a `variant` argument run once per converted VARIANT."""
  if "variant" in metafunc.fixturenames:
    metafunc.parametrize("variant", sorted(VARIANTS))
