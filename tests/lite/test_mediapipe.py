"""MediaPipe Tasks, the app-side client: its ImageClassifier loads each
variant from the model's metadata alone and reads the same class as LiteRT;
MediaPipe's own metadata schema code reads back what alexnet/lite/metadata.py
wrote."""

import mediapipe as mp
import numpy as np
import pytest
from mediapipe.tasks.metadata import metadata_schema_py_generated as mp_schema
from mediapipe.tasks.metadata import schema_py_generated as mp_tflite
from mediapipe.tasks.python import vision
from mediapipe.tasks.python.core import base_options

from alexnet.datasets.signnames import SIGN_NAMES
from alexnet.lite import interpreter
from alexnet.lite import metadata

# MediaPipe's image classifier takes uint8 or float32 input tensors only.
REFUSED = {"int8_int8_io": "Requested one of these types: uint8/float32, got "
                           "INT8"}


def classify(model_path, images):
  """MediaPipe's top category of each uint8 image, as an app gets it: the
  model file alone, no labels or normalization given."""
  options = vision.ImageClassifierOptions(
      base_options=base_options.BaseOptions(model_asset_path=model_path),
      max_results=1)
  with vision.ImageClassifier.create_from_options(options) as classifier:
    return [classifier.classify(mp.Image(image_format=mp.ImageFormat.SRGB,
                                         data=image)).classifications[0]
            .categories[0] for image in images]


def test_mediapipe_loads_the_variant_and_agrees_with_litert(
    variant, converted, validation):
  path = converted[variant]["path"]
  images = np.ascontiguousarray(np.clip(np.round(validation[0]), 0, 255)
                                .astype(np.uint8))
  if variant in REFUSED:
    with pytest.raises(ValueError, match=REFUSED[variant]):
      classify(path, images[:1])
    return
  categories = classify(path, images)
  probs = interpreter.predict(interpreter.load(path),
                              images.astype(np.float32))
  top = probs.max(axis=1)
  # A quantized output can tie at the top; MediaPipe may pick either then.
  untied = (probs == top[:, None]).sum(axis=1) == 1
  assert untied.mean() >= 0.8
  indices = np.array([c.index for c in categories])
  np.testing.assert_array_equal(indices[untied], probs.argmax(axis=1)[untied])
  np.testing.assert_allclose([c.score for c in categories], top, atol=1e-5)
  assert [c.category_name for c in categories] == [SIGN_NAMES[i]
                                                  for i in indices]


def _mediapipe_metadata(path):
  """The ModelMetadataT that MediaPipe's generated schema code parses."""
  with open(path, "rb") as f:
    data = f.read()
  model = mp_tflite.Model.GetRootAs(data, 0)
  buffers = [model.Buffers(model.Metadata(i).Buffer()).DataAsNumpy().tobytes()
             for i in range(model.MetadataLength())
             if model.Metadata(i).Name().decode() == metadata.METADATA_NAME]
  assert len(buffers) == 1
  assert mp_schema.ModelMetadata.ModelMetadataBufferHasIdentifier(buffers[0],
                                                                   0)
  return mp_schema.ModelMetadataT.InitFromObj(
      mp_schema.ModelMetadata.GetRootAs(buffers[0], 0))


def test_mediapipe_schema_reads_our_metadata(variant, converted):
  meta = _mediapipe_metadata(converted[variant]["path"])
  ours = metadata.read_metadata(converted[variant]["path"])
  assert meta.name.decode() == ours["name"]
  assert meta.minParserVersion.decode() == metadata.MIN_PARSER_VERSION
  (subgraph,) = meta.subgraphMetadata
  (image,) = subgraph.inputTensorMetadata
  (probabilities,) = subgraph.outputTensorMetadata
  assert (image.content.contentPropertiesType
          == mp_schema.ContentProperties.ImageProperties)
  assert image.content.contentProperties.colorSpace == (
      mp_schema.ColorSpaceType.RGB)
  (unit,) = image.processUnits
  assert unit.optionsType == mp_schema.ProcessUnitOptions.NormalizationOptions
  assert (list(unit.options.mean), list(unit.options.std)) == ([0.0], [1.0])
  assert (list(image.stats.min), list(image.stats.max)) == ([0.0], [255.0])
  assert (probabilities.content.contentPropertiesType
          == mp_schema.ContentProperties.FeatureProperties)
  (labels,) = probabilities.associatedFiles
  assert labels.name.decode() == metadata.LABELS_FILE
  assert labels.type == mp_schema.AssociatedFileType.TENSOR_AXIS_LABELS
