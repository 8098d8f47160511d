"""A tiny trained AlexNet and its TFRecords, built once per test session.

Four clearly separable synthetic classes (a bright left half, top half,
centre square or diagonal band on a noisy dark background; JPEGs in the
converted-dataset layout) go through the real TFRecord writer and reader. The
network is alexnet.nets.alexnet at its smallest input, 67, trained for a few
dozen Adam steps and frozen with convert_variables_to_constants.
"""

import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from alexnet.datasets import signnames
from alexnet.datasets import jpeg_folders as dataset_convert
from alexnet.datasets import tfrecord_writer
from alexnet.datasets import tfrecord_reader
from alexnet.nets import alexnet

IMAGE_SIZE = alexnet.MIN_IMAGE_SIZE
NUM_CLASSES = 4
TRACKS_PER_CLASS = 3
FRAMES_PER_TRACK = 6
TRAIN_STEPS = 40


def _pattern(class_id, rng, size=48):
  image = rng.uniform(0, 60, (size, size, 3))
  half, third = size // 2, size // 3
  if class_id == 0:
    image[:, :half] += 180
  elif class_id == 1:
    image[:half] += 180
  elif class_id == 2:
    image[third:-third, third:-third] += 180
  else:
    rows, cols = np.indices((size, size))
    image[abs(rows - cols) < size // 6] += 180
  return np.clip(image, 0, 255).astype(np.uint8)


def write_converted_dir(path, seed=0):
  """A converted-dataset dir (class JPEG folders + annotations.csv)."""
  rng = np.random.default_rng(seed)
  annotations = []
  for class_id in range(NUM_CLASSES):
    folder = signnames.folder_name(class_id)
    os.makedirs(os.path.join(path, folder))
    for track in range(TRACKS_PER_CLASS):
      for frame in range(FRAMES_PER_TRACK):
        name = f"{folder}/{track:05d}_{frame:05d}.jpg"
        Image.fromarray(_pattern(class_id, rng)).save(
            os.path.join(path, name), quality=95)
        annotations.append(dataset_convert.Annotation(
            name, "train", class_id, track, 48, 48, 0, 0, 47, 47))
  dataset_convert.write_annotations(
      os.path.join(path, dataset_convert.ANNOTATIONS_CSV), annotations)


def train_and_freeze(data_dir, graph_path, input_standardization="per_image"):
  """Trains AlexNet-67 briefly on the train split; writes the frozen graph."""
  images, labels = tfrecord_reader.load_split(data_dir, "train", IMAGE_SIZE)
  rng = np.random.default_rng(0)
  graph = tf.Graph()
  with graph.as_default():
    tf.compat.v1.set_random_seed(0)
    inputs = alexnet.input_placeholder(IMAGE_SIZE)
    targets = tf.compat.v1.placeholder(tf.int64, [None])
    logits, _ = alexnet.alexnet(inputs, num_classes=signnames.NUM_CLASSES,
                                is_training=True, weight_decay=0.0,
                                input_standardization=input_standardization)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
        labels=targets, logits=logits))
    train_op = tf.compat.v1.train.AdamOptimizer(1e-4).minimize(loss)
    with tf.compat.v1.Session() as sess:
      sess.run(tf.compat.v1.global_variables_initializer())
      for _ in range(TRAIN_STEPS):
        batch = rng.choice(len(images), 16)
        sess.run(train_op, {inputs: images[batch], targets: labels[batch]})
      # The deployed graph: same variables, no dropout.
      with tf.compat.v1.variable_scope("", reuse=True):
        eval_logits, _ = alexnet.alexnet(
            inputs, signnames.NUM_CLASSES, is_training=False, reuse=True,
            input_standardization=input_standardization)
      outputs = alexnet.inference_outputs(eval_logits)
      frozen = tf.compat.v1.graph_util.convert_variables_to_constants(
          sess, graph.as_graph_def(), [outputs["probabilities"].op.name])
  with open(graph_path, "wb") as f:
    f.write(frozen.SerializeToString())


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
def tiny(tmp_path_factory):
  """{"data_dir", "graph"}: TFRecords (train/validation) and frozen graph."""
  root = tmp_path_factory.mktemp("lite")
  converted = str(root / "converted")
  os.makedirs(converted)
  write_converted_dir(converted)
  data_dir = str(root / "tfrecords")
  tfrecord_writer.build(converted, data_dir, num_shards=2,
                        validation_fraction=0.34)
  graph = str(root / "frozen.pb")
  train_and_freeze(data_dir, graph)
  return {"data_dir": data_dir, "graph": graph, "root": root}


@pytest.fixture(scope="session")
def tiny_equalized(tiny):
  """The tiny network trained with input_standardization="equalize"."""
  graph = str(tiny["root"] / "frozen_equalize.pb")
  train_and_freeze(tiny["data_dir"], graph, input_standardization="equalize")
  return graph


# name -> (quantize, inference_input_type, lower_lrn) of the variants the
# tests convert; the int8-input one also has its LRNs rewritten.
VARIANTS = {
    "float": ("none", None, False),
    "dynamic": ("dynamic", None, False),
    "float16": ("float16", None, False),
    "int8_uint8_io": ("int8", "QUANTIZED_UINT8", False),
    "int8_int8_io": ("int8", "INT8", True),
}


@pytest.fixture(scope="session")
def converted(tiny):
  """Converts each VARIANT once; returns name -> convert_frozen_graph info."""
  from alexnet.lite import converter  # pylint: disable=g-import-not-at-top
  infos = {}
  for name, (quantize, input_type, lower_lrn) in VARIANTS.items():
    out_dir = tiny["root"] / name
    out_dir.mkdir()
    infos[name] = converter.convert_frozen_graph(
        tiny["graph"], str(out_dir / "model.tflite"), quantize=quantize,
        inference_input_type=input_type, lower_lrn=lower_lrn,
        representative_data=tiny["data_dir"], representative_samples=24)
  return infos


@pytest.fixture(scope="session")
def validation(tiny):
  """(images, labels) of the tiny validation split at the model's size."""
  return tfrecord_reader.load_split(tiny["data_dir"], "validation", IMAGE_SIZE)


def pytest_generate_tests(metafunc):
  """Tests taking a `variant` argument run once per converted VARIANT."""
  if "variant" in metafunc.fixturenames:
    metafunc.parametrize("variant", sorted(VARIANTS))
