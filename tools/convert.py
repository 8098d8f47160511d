"""Converts a frozen graph to TensorFlow Lite (toco's flag names still work).

  python tools/convert.py --input_file=frozen.pb --output_file=model.tflite \
      --input_arrays=input --output_arrays=probabilities \
      --input_shapes=1,227,227,3 --quantize=int8 \
      --inference_input_type=QUANTIZED_UINT8 \
      --representative_data=data/tfrecords --representative_samples=200

--inference_type=QUANTIZED_UINT8 (old toco recipes) means --quantize=int8
with uint8 input and output. A fake-quantized graph (tools/train.py
--quantize_delay) converts from its trained ranges, as toco did, with no
representative data:

  python tools/convert.py --input_file=qat_frozen.pb --output_file=qat.tflite \
      --inference_type=QUANTIZED_UINT8 --mean_values=0 --std_dev_values=1

(--mean_values/--std_dev_values: real = (q - mean) / std; the graph takes raw
pixels, so 0 and 1, the default.) --default_ranges_min/max give a graph
without ranges one range for every activation (toco's dummy quantization). Integer inputs take raw pixels: uint8 with
scale 1, zero_point 0; int8 with scale 1, zero_point -128 (pixel - 128).
Also writes labels.txt beside the model; the model carries the labels and
its input normalization as TFLite metadata. --float_layers=auto:N keeps the
N int8 layers with the largest quantization error float (beside any named
ones); --layer_report writes each layer's error.
"""

from absl import app
from absl import flags

from alexnet.core.config import MIN_IMAGE_SIZE, ConvertConfig
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.lite import converter
from alexnet.lite import layer_errors

from config_flags import (config_from_flags, define_config_flags,
                          define_integer, parse_flags)

FLAGS = flags.FLAGS
flags.DEFINE_string("input_file", None, "Frozen GraphDef (.pb).")
flags.DEFINE_string("output_file", None, "The .tflite to write.")
flags.DEFINE_list("input_arrays", ["input"], "Input node name.")
flags.DEFINE_list("output_arrays", ["probabilities"], "Output node name.")
flags.DEFINE_string("input_shapes", None, "Input shape, e.g. 1,227,227,3 "
                    "(default: the graph's, with batch 1).")
flags.DEFINE_enum("inference_type", "FLOAT", list(converter.IO_TYPES),
                  "QUANTIZED_UINT8 = full-integer quantization (toco).")
flags.DEFINE_enum("inference_input_type", None, list(converter.IO_TYPES),
                  "Input type; integer types need full-integer quantization.")
flags.DEFINE_enum("inference_output_type", None, list(converter.IO_TYPES),
                  "Output type (default: the input type).")
flags.DEFINE_string("representative_data", None,
                    "TFRecords directory for int8 calibration.")
define_integer("image_size", None, "Calibration image size; must match the "
               "graph's input (default: the graph's).", low=MIN_IMAGE_SIZE)
flags.DEFINE_boolean("crop_roi", False, "Crop the calibration images to the "
                     "sign's ROI when read (models trained with --crop_roi).")
flags.DEFINE_boolean("layer_report", False, "int8: measure each layer's "
                     "quantization error against float on the calibration "
                     "images; writes MODEL_layers.csv and MODEL_layers.png.")
flags.DEFINE_list("mean_values", None, "QUANTIZED_UINT8 from ranges: input "
                  "mean, real = (q - mean) / std (default: the graph's).")
flags.DEFINE_list("std_dev_values", None, "QUANTIZED_UINT8 from ranges: "
                  "input std (default: the graph's).")
flags.DEFINE_float("default_ranges_min", None, "Range of activations without "
                   "a trained one (toco's dummy quantization).")
flags.DEFINE_float("default_ranges_max", None, "See --default_ranges_min.")
# --quantize, --representative_samples/_split, --float_layers (names, or
# auto:N: the N layers with the largest error), --lower_lrn.
define_config_flags(ConvertConfig)
flags.mark_flags_as_required(["input_file", "output_file"])


def parse_shapes(text):
  """'1,227,227,3' (':'-separated per input, as toco) -> [[1, 227, 227, 3]]."""
  try:
    return [[int(d) for d in shape.split(",")] for shape in text.split(":")]
  except ValueError:
    raise UserError(f"--input_shapes={text} is not comma-separated integers "
                    "such as 1,227,227,3") from None


def first_value(name):
  """The value of the list flag --NAME (one input), or None."""
  values = getattr(FLAGS, name)
  if not values:
    return None
  try:
    return float(values[0])
  except ValueError:
    raise UserError(f"--{name}={','.join(values)} is not a number") from None


def main(argv):
  del argv
  config = config_from_flags(ConvertConfig)  # checked before any work
  info = converter.convert_frozen_graph(
      FLAGS.input_file, FLAGS.output_file,
      input_arrays=FLAGS.input_arrays, output_arrays=FLAGS.output_arrays,
      input_shapes=parse_shapes(FLAGS.input_shapes) if FLAGS.input_shapes
      else None,
      quantize=config.quantize, inference_type=FLAGS.inference_type,
      inference_input_type=FLAGS.inference_input_type,
      inference_output_type=FLAGS.inference_output_type,
      representative_data=FLAGS.representative_data,
      representative_split=config.representative_split,
      representative_samples=config.representative_samples,
      image_size=FLAGS.image_size, lower_lrn=config.lower_lrn,
      float_layers=config.float_layers, crop_roi=FLAGS.crop_roi,
      layer_report=FLAGS.layer_report,
      mean_values=first_value("mean_values"),
      std_dev_values=first_value("std_dev_values"),
      default_ranges_min=FLAGS.default_ranges_min,
      default_ranges_max=FLAGS.default_ranges_max)
  for key in ("input", "output"):
    io = info[key]
    print(f"{key}: {io['dtype']} {io['shape']} scale={io['scale']:g} "
          f"zero_point={io['zero_point']}")
  if info["lowered_lrn"]:
    print(f"LRN rewritten for integer kernels: {', '.join(info['lowered_lrn'])}")
  ranges = info["ranges"]
  if ranges:
    mean, std = ranges["stats"]
    print(f"{ranges['kind']} ranges, input mean {mean:g} std {std:g}")
    if ranges["missing"]:
      low, high = ranges["default"]
      print(f"default range [{low:g}, {high:g}] used: "
            f"{'; '.join(ranges['missing'])}")
  print(f"ops: {info['ops']}")
  if info["float_fallback_ops"]:
    print(f"float fallback: {', '.join(info['float_fallback_ops'])}")
  if info["float_layers"]:
    print(f"layers kept float: {', '.join(info['float_layers'])}")
  if info["layer_errors"]:
    print("worst layers (rmse/scale): "
          + layer_errors.worst_summary(info["layer_errors"]))
    print(f"layer errors: {info['layer_errors_csv']}, "
          f"{info['layer_errors_png']}")
  print(f"wrote {info['path']} ({info['size_bytes']} bytes, {info['quantize']})"
        f" and {info['labels_path']}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
