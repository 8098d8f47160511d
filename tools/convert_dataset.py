"""Converts GTSRB image folders into class-named JPEG folders with annotations.

  python tools/convert_dataset.py \\
      --input_dir=data/raw/GTSRB/Final_Training/Images --output_dir=data/converted
  python tools/convert_dataset.py \\
      --input_dir=data/raw/GTSRB/Final_Test/Images --output_dir=data/converted_test

Writes OUT/<id>_<sign>/TTTTT_FFFFF.jpg, OUT/labels.txt and OUT/annotations.csv,
the input of tools/build_tfrecord.py.
"""

from absl import app, flags

from alexnet.datasets import jpeg_folders
from alexnet.core.errors import exit_on_user_error

from config_flags import define_integer, parse_flags

flags.DEFINE_string("input_dir", None, "GTSRB .../Final_Training/Images (class "
                    "folders 000NN) or .../Final_Test/Images.")
flags.DEFINE_string("output_dir", None, "Directory to create.")
flags.DEFINE_boolean("crop_roi", False, "Store only each image's region of "
                     "interest (the sign) instead of the whole image.")
flags.DEFINE_boolean("skip_bad", False, "Skip corrupt images, bad CSV rows "
                     "and folders without a CSV, listing them at the end.")
flags.DEFINE_boolean("overwrite", False, "Replace an existing output_dir.")
define_integer("num_workers", None, "Processes for JPEG work (default: one "
               "per core).", low=1)
flags.mark_flags_as_required(["input_dir", "output_dir"])
FLAGS = flags.FLAGS

_SHOWN = 20  # Skipped inputs listed one by one; the rest are counted.


def main(argv):
  del argv
  result = jpeg_folders.convert(FLAGS.input_dir, FLAGS.output_dir,
                           crop_roi=FLAGS.crop_roi, skip_bad=FLAGS.skip_bad,
                           overwrite=FLAGS.overwrite,
                           num_workers=FLAGS.num_workers)
  for message in result.skipped[:_SHOWN]:
    print(f"skipped: {message}")
  if len(result.skipped) > _SHOWN:
    print(f"skipped: ... and {len(result.skipped) - _SHOWN} more")
  print(f"converted {result.num_images} {result.split} images into "
        f"{result.output_dir}; skipped {len(result.skipped)} bad inputs")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
