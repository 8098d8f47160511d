"""Compares model variants (frozen/transformed .pb, .tflite) on one split.

  python tools/compare_models.py --data_dir=DIR --split=validation \
      --models=frozen=f.pb,float=m.tflite,int8=m_int8.tflite --output_dir=OUT

Writes OUT/comparison.md and OUT/comparison.csv: size, gzipped size, top-1/5,
top-1 agreement with the first model, batch-1 latency median/p90 at 1 and 2
threads, and ops that fall back to float in integer models.
"""

from absl import app
from absl import flags

from alexnet.core.errors import exit_on_user_error
from alexnet.runner import comparison

from config_flags import define_integer, parse_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("data_dir", None, "TFRecords directory (build_tfrecord).")
flags.DEFINE_string("split", "validation", "Split to evaluate on.")
flags.DEFINE_string("models", None, "Comma-separated paths or name=path "
                    "pairs; the first is the reference.")
flags.DEFINE_string("output_dir", None, "Directory for the tables.")
define_integer("latency_runs", 50, "Timed runs per thread count (after "
               "warm-up); 0 skips latency.", low=0)
define_integer("threads", [1, 2], "Thread counts to time (repeat the flag).",
               low=1, multi=True)
define_integer("limit", None, "Evaluate only the first N images.", low=1)
flags.DEFINE_string("test_dir", None, "A GTSRB Final_Test/Images folder with "
                    "GT-final_test.csv, used instead of --data_dir.")
flags.DEFINE_boolean("crop_roi", False, "Crop each image to the sign's ROI "
                     "when read (models trained with --crop_roi).")
flags.mark_flags_as_required(["models", "output_dir"])


def main(argv):
  del argv
  models = comparison.parse_models(FLAGS.models)
  rows = comparison.compare_models(
      models, FLAGS.data_dir, FLAGS.split, FLAGS.latency_runs,
      tuple(FLAGS.threads), FLAGS.limit, FLAGS.test_dir, FLAGS.crop_roi)
  where = FLAGS.test_dir or FLAGS.split
  md_path, csv_path = comparison.write_tables(
      rows, FLAGS.output_dir, f"Model comparison on {where}")
  with open(md_path) as f:
    print(f.read())
  print(f"wrote {md_path} and {csv_path}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
