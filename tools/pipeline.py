"""Runs the whole original recipe, from data to TensorFlow Lite, with a report.

  python tools/stages.py --output_dir=runs/synthetic            # built-in data
  python tools/stages.py --output_dir=runs/real \\
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

from alexnet.core import atomic_files
from alexnet.core.config import (ConvertConfig, ModelConfig, PipelineConfig,
                                 TrainConfig)
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.pipeline.presets import PRESETS

from config_flags import (define_config_flags, define_integer, given_flags,
                          parse_flags)

flags.DEFINE_string("output_dir", None, "The run folder.")
flags.DEFINE_string("data", "synthetic",
                    "'synthetic' (rendered here), a GTSRB zip, or a folder "
                    "with the official layout (GTSRB/Final_Training/Images).")
flags.DEFINE_string("test_data", None,
                    "The official test set (Final_Test/Images with the "
                    "labeled GT-final_test.csv, a zip or a folder), when "
                    "--data does not hold it.")
flags.DEFINE_enum("preset", "cpu-fast", list(PRESETS),
                  "cpu-fast: small input, minutes on 2 cores; faithful: "
                  "227x227 as in the original project; gtsrb-99: the best "
                  "real-GTSRB recipe (BENCHMARKS.md).")
define_integer("seed", 0, "Seed of the data, the split and training.", low=0)
define_integer("train_seed", None, "Training seed (default: the preset's, "
               "else --seed).", low=0)
flags.DEFINE_boolean("force", False, "Redo complete stages.")
# Any setting of the preset can be overridden by its own flag.
define_config_flags(ModelConfig, skip=("num_classes", "class_names", "fake_quant"),
                    overrides_only=True)
define_config_flags(TrainConfig, skip=("seed",), overrides_only=True)
define_config_flags(ConvertConfig, skip=("quantize",), overrides_only=True)
define_config_flags(PipelineConfig, overrides_only=True)
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  # Imported here: spawned data workers re-import this module, and must not
  # pay for TensorFlow.
  from alexnet.pipeline import stages  # pylint: disable=import-outside-toplevel
  overrides = given_flags()
  if FLAGS.train_seed is not None:
    overrides["seed"] = FLAGS.train_seed
  # Made (and so checked) before the run folder: a refused run writes nothing.
  pipeline = stages.Pipeline(FLAGS.output_dir, data=FLAGS.data,
                             preset=FLAGS.preset, seed=FLAGS.seed,
                             force=FLAGS.force, overrides=overrides, log=print,
                             test_data=FLAGS.test_data)
  for flag in ("data", "test_data"):
    path = getattr(FLAGS, flag)
    if path and path != "synthetic" and not os.path.exists(path):
      raise UserError(f"--{flag}={path} does not exist: pass a GTSRB zip or "
                      "folder" + (", or 'synthetic'" if flag == "data" else ""))
  atomic_files.ensure_dir(FLAGS.output_dir)
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
  pipeline.log = log
  try:
    pipeline.run()
  except (UserError, OSError) as e:
    # The terminal gets it from exit_on_user_error; the log keeps it too.
    logger.info("error: %s", e)
    raise


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
