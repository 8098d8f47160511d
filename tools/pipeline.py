"""Runs the whole original recipe, from data to TensorFlow Lite, with a report.

  python tools/pipeline.py --output_dir=runs/synthetic            # built-in data
  python tools/pipeline.py --output_dir=runs/real \\
      --data=../shared/gtsrb/GTSRB_Final_Training_Images_32px.zip --preset=cpu-fast

Stages: data, convert, tfrecords, train, evaluate, export, freeze, summarize,
transform, tflite, compare, report. Rerunning skips complete stages and
resumes an interrupted one; --force redoes everything. Open
OUTPUT_DIR/report.md (or report.html) when it finishes.
"""

import logging
import os
import sys

from absl import app, flags

from alexnet.core.errors import exit_on_user_error
from alexnet.presets import PRESETS

flags.DEFINE_string("output_dir", None, "The run folder.")
flags.DEFINE_string("data", "synthetic",
                    "'synthetic' (rendered here), a GTSRB zip, or a folder "
                    "with the official layout (GTSRB/Final_Training/Images).")
flags.DEFINE_enum("preset", "cpu-fast", list(PRESETS),
                  "cpu-fast: small input, minutes on 2 cores; faithful: "
                  "227x227 as in the original project.")
flags.DEFINE_integer("seed", 0, "Seed of the data, the split and training.")
flags.DEFINE_boolean("force", False, "Redo complete stages.")
flags.DEFINE_integer("epochs", None, "Override the preset's epochs.")
flags.DEFINE_integer("image_size", None, "Override the preset's input size.")
flags.DEFINE_integer("tracks_per_class", None,
                     "Override the preset's synthetic tracks per class.")
flags.DEFINE_integer("frames_per_track", None,
                     "Override the preset's synthetic frames per track.")
flags.DEFINE_integer("latency_runs", None,
                     "Override the preset's latency runs per model.")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS

_OVERRIDES = ("epochs", "image_size", "tracks_per_class", "frames_per_track",
              "latency_runs")


def main(argv):
  del argv
  # Imported here: spawned data workers re-import this module, and must not
  # pay for TensorFlow.
  from alexnet import pipeline  # pylint: disable=import-outside-toplevel
  os.makedirs(FLAGS.output_dir, exist_ok=True)
  log_file = logging.FileHandler(os.path.join(FLAGS.output_dir,
                                              "pipeline.log"))
  log_file.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
  logger = logging.getLogger("alexnet.pipeline")
  logger.addHandler(log_file)
  logger.setLevel(logging.INFO)
  logger.propagate = False  # printed below; absl's handler would repeat it

  def log(line):
    print(line, flush=True)
    logger.info(line)

  log(f"command: {' '.join([sys.executable] + sys.argv)}")
  overrides = {k: getattr(FLAGS, k) for k in _OVERRIDES
               if getattr(FLAGS, k) is not None}
  pipeline.Pipeline(FLAGS.output_dir, data=FLAGS.data, preset=FLAGS.preset,
                    seed=FLAGS.seed, force=FLAGS.force, overrides=overrides,
                    log=log).run()


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
