"""TFLite model metadata: class labels and input normalization in the model.

The standard Android/iOS image classifiers (TFLite Task library, ML Kit
custom models) read the "TFLITE_METADATA" buffer of a model, a ModelMetadata
flatbuffer (tflite-support's metadata_schema.fbs, identifier "M001"), and the
label file it names, stored in a zip archive appended to the model. The
tflite-support package that writes these pins protobuf 3.20 and cannot be
installed beside TensorFlow 2.21, so this module writes (and reads back) the
subset of that schema an image classifier needs, with the flatbuffers package:

  ModelMetadata{name, description, version, subgraph_metadata[0]{
    input_tensor_metadata[0]{name, description, content: ImageProperties(RGB),
      process_units: [NormalizationOptions{mean, std}], stats{min, max}},
    output_tensor_metadata[0]{name, description, content: FeatureProperties,
      stats{min 0, max 1}, associated_files: [labels.txt TENSOR_AXIS_LABELS]}},
    min_parser_version}

Field slots below follow the order of fields in metadata_schema.fbs; a union
field takes two slots (its type, then its value).
"""

import io
import zipfile

import flatbuffers
import numpy as np
from flatbuffers import table as fb_table
from tensorflow.lite.python import schema_py_generated as schema

from alexnet.core.errors import UserError
from alexnet.lite import flatbuffer

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"
# Only fields of metadata schema 1.0.0 are written.
MIN_PARSER_VERSION = "1.0.0"
LABELS_FILE = "labels.txt"

# Enum and union values of metadata_schema.fbs.
_LABELS_TYPE_TENSOR_AXIS_LABELS = 2
_COLOR_SPACE_RGB = 1
_CONTENT_FEATURE = 1
_CONTENT_IMAGE = 2
_PROCESS_NORMALIZATION = 1

# Field slots (declaration order in the schema).
_MODEL = dict(name=0, description=1, version=2, subgraph_metadata=3,
              min_parser_version=7)
_SUBGRAPH = dict(input_tensor_metadata=2, output_tensor_metadata=3)
_TENSOR = dict(name=0, description=1, content=3, process_units=4, stats=5,
               associated_files=6)
_CONTENT = dict(properties_type=0, properties=1)
_IMAGE_PROPERTIES = dict(color_space=0)
_PROCESS_UNIT = dict(options_type=0, options=1)
_NORMALIZATION = dict(mean=0, std=1)
_STATS = dict(max=0, min=1)
_ASSOCIATED_FILE = dict(name=0, description=1, type=2)


def _table(b, fields):
  """Builds a table from [(slot, kind, value)] with kind in
  offset/byte/uint; offsets must be created before this call."""
  b.StartObject(max((slot + 1 for slot, _, _ in fields), default=0))
  for slot, kind, value in fields:
    if kind == "offset":
      b.PrependUOffsetTRelativeSlot(slot, value, 0)
    elif kind == "byte":
      b.PrependInt8Slot(slot, value, 0)
    else:
      b.PrependUint8Slot(slot, value, 0)
  return b.EndObject()


def _offsets_vector(b, offsets):
  b.StartVector(4, len(offsets), 4)
  for off in reversed(offsets):
    b.PrependUOffsetTRelative(off)
  return b.EndVector()


def _floats(b, values):
  return b.CreateNumpyVector(np.asarray(values, dtype=np.float32))


def _stats(b, low, high):
  high_v, low_v = _floats(b, [high]), _floats(b, [low])
  return _table(b, [(_STATS["max"], "offset", high_v),
                    (_STATS["min"], "offset", low_v)])


def _content(b, properties_type, properties):
  return _table(b, [(_CONTENT["properties_type"], "uint", properties_type),
                    (_CONTENT["properties"], "offset", properties)])


def _tensor(b, name, description, content, stats, **vectors):
  """A TensorMetadata; `vectors` maps process_units/associated_files to
  vector offsets."""
  name_s, description_s = b.CreateString(name), b.CreateString(description)
  fields = [(_TENSOR["name"], "offset", name_s),
            (_TENSOR["description"], "offset", description_s),
            (_TENSOR["content"], "offset", content),
            (_TENSOR["stats"], "offset", stats)]
  fields += [(_TENSOR[k], "offset", v) for k, v in vectors.items()]
  return _table(b, fields)


def build_metadata(name, description, labels_count, mean, std, input_min,
                   input_max, input_description, output_description):
  """Serializes the ModelMetadata flatbuffer of an image classifier."""
  b = flatbuffers.Builder(1024)
  s = b.CreateString

  # Input: an RGB image, normalized by (x - mean) / std before feeding.
  image_props = _table(b, [(_IMAGE_PROPERTIES["color_space"], "byte",
                            _COLOR_SPACE_RGB)])
  in_content = _content(b, _CONTENT_IMAGE, image_props)
  mean_v, std_v = _floats(b, mean), _floats(b, std)
  norm = _table(b, [(_NORMALIZATION["mean"], "offset", mean_v),
                    (_NORMALIZATION["std"], "offset", std_v)])
  unit = _table(b, [(_PROCESS_UNIT["options_type"], "uint",
                     _PROCESS_NORMALIZATION),
                    (_PROCESS_UNIT["options"], "offset", norm)])
  units = _offsets_vector(b, [unit])
  input_meta = _tensor(b, "image", input_description, in_content,
                       _stats(b, input_min, input_max), process_units=units)

  # Output: per-class probabilities, labelled by labels.txt.
  out_content = _content(b, _CONTENT_FEATURE, _table(b, []))
  file_name = s(LABELS_FILE)
  file_desc = s(f"{labels_count} class labels, one per output index")
  labels = _table(b, [(_ASSOCIATED_FILE["name"], "offset", file_name),
                      (_ASSOCIATED_FILE["description"], "offset", file_desc),
                      (_ASSOCIATED_FILE["type"], "byte",
                       _LABELS_TYPE_TENSOR_AXIS_LABELS)])
  files = _offsets_vector(b, [labels])
  output_meta = _tensor(b, "probability", output_description, out_content,
                        _stats(b, 0.0, 1.0), associated_files=files)

  inputs, outputs = (_offsets_vector(b, [input_meta]),
                     _offsets_vector(b, [output_meta]))
  subgraph = _table(b, [(_SUBGRAPH["input_tensor_metadata"], "offset", inputs),
                        (_SUBGRAPH["output_tensor_metadata"], "offset",
                         outputs)])
  subgraphs = _offsets_vector(b, [subgraph])
  m_name, m_desc, m_version, m_parser = (s(name), s(description), s("1"),
                                         s(MIN_PARSER_VERSION))
  root = _table(b, [(_MODEL["name"], "offset", m_name),
                    (_MODEL["description"], "offset", m_desc),
                    (_MODEL["version"], "offset", m_version),
                    (_MODEL["subgraph_metadata"], "offset", subgraphs),
                    (_MODEL["min_parser_version"], "offset", m_parser)])
  b.Finish(root, file_identifier=METADATA_IDENTIFIER)
  return bytes(b.Output())


def labels_text(class_names):
  """labels.txt content: one class name per line, in output index order."""
  return "".join(f"{n}\n" for n in class_names)


def populate(model_data, class_names, model_name, model_description,
             mean=(0.0,), std=(1.0,)):
  """Returns `model_data` with metadata and labels.txt packed in.

  mean/std describe the normalization a caller applies before feeding the
  input; the AlexNet graphs normalize internally, so the default (0, 1)
  says "feed raw RGB 0..255".
  """
  model = flatbuffer.root_model(model_data)
  for i in range(model.MetadataLength()):
    if model.Metadata(i).Name().decode() == METADATA_NAME:
      raise ValueError("model already has TFLite metadata")
  meta = build_metadata(
      model_name, model_description, len(class_names), mean, std, 0.0, 255.0,
      "RGB image, raw pixel values 0..255 (the model normalizes internally)",
      f"probabilities of the {len(class_names)} classes in labels.txt")
  model_t = schema.ModelT.InitFromObj(model)
  buffer_t = schema.BufferT()
  buffer_t.data = np.frombuffer(meta, dtype=np.uint8)
  model_t.buffers.append(buffer_t)
  entry = schema.MetadataT()
  entry.name = METADATA_NAME
  entry.buffer = len(model_t.buffers) - 1
  model_t.metadata = (model_t.metadata or []) + [entry]
  b = flatbuffers.Builder(len(model_data) + len(meta) + 1024)
  b.Finish(model_t.Pack(b), file_identifier=flatbuffer.TFLITE_IDENTIFIER)
  # As tflite-support does: associated files in a zip appended to the model;
  # the interpreter ignores trailing bytes, zip readers find the directory.
  out = io.BytesIO(bytes(b.Output()))
  out.seek(0, io.SEEK_END)
  with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_STORED) as z:
    z.writestr(LABELS_FILE, labels_text(class_names))
  return out.getvalue()


class _Reader:
  """Field access on a flatbuffer table by slot number."""

  def __init__(self, buf, pos):
    self._t = fb_table.Table(buf, pos)

  def _offset(self, slot):
    return self._t.Offset(4 + 2 * slot)

  def string(self, slot):
    o = self._offset(slot)
    return self._t.String(o + self._t.Pos).decode() if o else None

  def scalar(self, slot, flags):
    o = self._offset(slot)
    return self._t.Get(flags, o + self._t.Pos) if o else 0

  def table(self, slot):
    o = self._offset(slot)
    return _Reader(self._t.Bytes, self._t.Indirect(o + self._t.Pos)) if o else None

  def tables(self, slot):
    o = self._offset(slot)
    if not o:
      return []
    start = self._t.Vector(o)
    return [_Reader(self._t.Bytes, self._t.Indirect(start + 4 * i))
            for i in range(self._t.VectorLen(o))]

  def floats(self, slot):
    o = self._offset(slot)
    if not o:
      return []
    return [float(v) for v in self._t.GetVectorAsNumpy(
        flatbuffers.number_types.Float32Flags, o)]


def read_metadata(model_path):
  """Reads back what `populate` wrote, from a .tflite file.

  Returns {"name", "description", "min_parser_version", "input_is_image",
  "color_space", "mean", "std", "labels_file", "labels" (read from the packed
  labels.txt)}; UserError
  if the file is not a TFLite model or carries no metadata.
  """
  data = flatbuffer.read_tflite(model_path)
  model = flatbuffer.root_model(data)
  meta = None
  for i in range(model.MetadataLength()):
    entry = model.Metadata(i)
    if entry.Name().decode() == METADATA_NAME:
      meta = model.Buffers(entry.Buffer()).DataAsNumpy().tobytes()
  if meta is None:
    raise UserError(f"{model_path} has no TFLite metadata: convert it again "
                    "with tools/convert.py")
  if meta[4:8] != METADATA_IDENTIFIER:
    raise UserError(f"{model_path}: metadata is not a {METADATA_IDENTIFIER!r} "
                    "ModelMetadata flatbuffer")
  root = _Reader(meta, flatbuffers.encode.Get(
      flatbuffers.packer.uoffset, meta, 0))
  subgraph = root.tables(_MODEL["subgraph_metadata"])[0]
  image = subgraph.tables(_SUBGRAPH["input_tensor_metadata"])[0]
  probs = subgraph.tables(_SUBGRAPH["output_tensor_metadata"])[0]
  unit = image.tables(_TENSOR["process_units"])[0]
  norm = unit.table(_PROCESS_UNIT["options"])
  content = image.table(_TENSOR["content"])
  color = content.table(_CONTENT["properties"]).scalar(
      _IMAGE_PROPERTIES["color_space"], flatbuffers.number_types.Int8Flags)
  labels_file = probs.tables(_TENSOR["associated_files"])[0].string(
      _ASSOCIATED_FILE["name"])
  with zipfile.ZipFile(io.BytesIO(data)) as z:
    labels = z.read(labels_file).decode().splitlines()
  return {
      "name": root.string(_MODEL["name"]),
      "description": root.string(_MODEL["description"]),
      "min_parser_version": root.string(_MODEL["min_parser_version"]),
      "input_is_image": content.scalar(
          _CONTENT["properties_type"],
          flatbuffers.number_types.Uint8Flags) == _CONTENT_IMAGE,
      "color_space": "RGB" if color == _COLOR_SPACE_RGB else color,
      "mean": norm.floats(_NORMALIZATION["mean"]),
      "std": norm.floats(_NORMALIZATION["std"]),
      "labels_file": labels_file,
      "labels": labels,
  }
