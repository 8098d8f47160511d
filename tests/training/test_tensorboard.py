"""TensorBoard (installed with the project) reads a training run's event
files: the training scalars, the graph, the input images, and validation."""

import io

import numpy as np
from PIL import Image
from tensorboard.backend.event_processing import event_accumulator

from tests import builders

_KEEP_ALL = {event_accumulator.SCALARS: 0, event_accumulator.IMAGES: 0,
             event_accumulator.GRAPH: 0}


def _load(path):
  accumulator = event_accumulator.EventAccumulator(path, _KEEP_ALL)
  accumulator.Reload()
  return accumulator


def test_tensorboard_reads_scalars_graph_and_images(tiny_model):
  run = _load(tiny_model)
  tags = run.Tags()
  assert {"loss", "cross_entropy", "accuracy", "learning_rate"} <= set(
      tags["scalars"])
  loss = run.Scalars("loss")
  steps = [event.step for event in loss]
  # save_summary_steps=2 over the run's 6 steps.
  assert steps == sorted(steps) and len(steps) >= 2
  assert all(np.isfinite(event.value) and event.value > 0 for event in loss)
  rate = run.Scalars("learning_rate")[0].value
  assert np.isclose(rate, builders.COLORS.train.learning_rate)

  assert tags["graph"]
  nodes = {node.name for node in run.Graph().node}
  assert any(name.startswith("alexnet/conv1/") for name in nodes)
  assert any(name.startswith("alexnet/fc8/") for name in nodes)

  image_tags = [t for t in tags["images"] if t.startswith("inputs")]
  assert image_tags
  image = run.Images(image_tags[0])[0]
  size = builders.COLORS.model.image_size
  assert (image.width, image.height) == (size, size)
  assert Image.open(io.BytesIO(image.encoded_image_string)).size == (size,
                                                                    size)


def test_tensorboard_reads_the_validation_summaries(tiny_model):
  validation = _load(f"{tiny_model}/eval")
  scalars = set(validation.Tags()["scalars"])
  assert scalars, "no validation scalars in eval/"
  for tag in scalars:
    values = [event.value for event in validation.Scalars(tag)]
    # One validation per epoch.
    assert len(values) == builders.COLORS.train.epochs, tag
    assert all(np.isfinite(values)), tag
