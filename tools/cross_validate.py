"""K-fold cross-validation by track of one training recipe, pooled.

  python tools/convert_dataset.py --input_dir=data/gtsrb/GTSRB/Final_Training/Images \\
      --output_dir=data/converted_full            # keep full images for --crop_roi
  python tools/cross_validate.py --input_dir=data/converted_full \\
      --output_dir=runs/cv5 --folds=5 --preset=gtsrb-99 [--epochs=... ...]
  # or one fold per machine (--run_folds=I), the fold_I folders copied
  # into one --output_dir, then pooled there with --run_folds= (none)
  python tools/cross_validate.py ... --output_dir=runs/cv5_blur --augment_blur \
      --run_folds=1,2 --baseline_dir=runs/cv5    # an option against the recipe
  python tools/cross_validate.py --committee=runs/cv5,runs/cv5_blur \
      --output_dir=runs/cv5_committee [--baseline_dir=runs/cv5]   # no training

Deals each class's tracks evenly across --folds folds, trains one model per
fold on the others (a pipeline preset's recipe, with any of the training
flags of tools/train.py over it), predicts each
fold with the model that did not train on it, and writes
OUTPUT_DIR/report.md and report.json: the pooled top-1 with its 95%
interval by track, per-class accuracy with intervals, each fold, and the
pooled validation curve by epoch (to choose the final model's --epochs).
Run it again to resume: finished folds are not redone. Until every fold
is done, the report pools those that are and says it is partial.
With --committee it trains nothing: it pools finished runs on the same
deal as a committee (each image's probabilities the mean of theirs, as
tools/export.py exports several model_dirs as one model), on the folds
every run has done, into --output_dir's report, with each run alone.
"""

import re
import sys

from absl import app, flags

from alexnet.core.config import ModelConfig, PipelineConfig, TrainConfig
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.pipeline import cross_validation, presets

from config_flags import (define_config_flags, define_integer, given_flags,
                          parse_flags)

# As tools/train.py: from the dataset, or from --quantize_delay.
_FROM_DATASET = ("num_classes", "class_names", "fake_quant")

flags.DEFINE_string("input_dir", None, "Output of tools/convert_dataset.py "
                    "(training images).")
flags.DEFINE_string("output_dir", None, "The cross-validation run folder.")
define_config_flags(PipelineConfig, only=("folds", "num_shards"))
flags.DEFINE_string("run_folds", None, "The folds to train and predict "
                    "here, comma-separated (e.g. 3,4; empty: none, only "
                    "pool the folds done). Unset: every fold.")
flags.register_validator(
    "run_folds", lambda v: v is None or re.fullmatch(r"(\d+(,\d+)*)?", v),
    message="--run_folds takes fold numbers, e.g. --run_folds=3,4")
flags.DEFINE_string("baseline_dir", None, "Another cross-validation "
                    "--output_dir with the same --folds and --split_seed "
                    "(e.g. the recipe without the option tried here): the "
                    "report adds the difference, paired image by image on "
                    "the folds both have done, with its interval.")
flags.DEFINE_list("committee", None, "Instead of training: finished "
                  "cross-validation --output_dirs with the same deal, "
                  "pooled as a committee (the mean of their probabilities) "
                  "into --output_dir.")
define_integer("split_seed", 0, "Seed of the deal of the tracks into folds.",
               low=0)
flags.DEFINE_enum("preset", None, list(presets.PRESETS),
                  "The training recipe of this pipeline preset (tools/"
                  "pipeline.py --preset), e.g. gtsrb-99; the model and "
                  "training flags override it. Unset: their own defaults.")
define_config_flags(ModelConfig, skip=_FROM_DATASET, overrides_only=True)
define_config_flags(TrainConfig, overrides_only=True)
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS

_TRAINING = ("input_dir", "folds", "run_folds", "preset", "split_seed",
             "num_shards")


def _check_train_or_pool():
  """UserError unless the flags either train (--input_dir, --folds) or pool
  a committee (--committee, and nothing that trains)."""
  if FLAGS.committee is None:
    missing = [f"--{k}" for k in ("input_dir", "folds")
               if getattr(FLAGS, k) is None]
    if missing:
      raise UserError(f"pass {' and '.join(missing)} to train, or "
                      "--committee to pool finished runs")
    return
  given = [f"--{k}" for k in _TRAINING if FLAGS[k].present]
  given += [f"--{k}" for k in sorted(given_flags())
            if k not in ("folds", "num_shards")]
  if given:
    raise UserError(f"--committee pools finished runs and trains nothing: "
                    f"drop {', '.join(given)}")


def main(argv):
  del argv
  _check_train_or_pool()
  command = " ".join(["python"] + sys.argv)
  if FLAGS.committee:
    report = cross_validation.committee(FLAGS.committee, FLAGS.output_dir,
                                        command, FLAGS.baseline_dir)
    for c in report["columns"]:
      print(f"{c['dir']}: top-1 {100 * c['top1']:.2f}% ({c['errors']} errors)")
  else:
    overrides = {k: v for k, v in given_flags().items()
                 if k not in ("folds", "num_shards")}
    model, train, _, _ = presets.resolve(FLAGS.preset, overrides)
    report = cross_validation.cross_validate(
        FLAGS.input_dir, FLAGS.output_dir, model, train, FLAGS.folds,
        seed=FLAGS.split_seed, num_shards=FLAGS.num_shards,
        num_threads=train.num_threads, command=command,
        run_folds=None if FLAGS.run_folds is None else [
            int(f) for f in FLAGS.run_folds.split(",") if f],
        baseline_dir=FLAGS.baseline_dir)
  low, high = (100 * v for v in report["top1_interval"])
  if report["partial"]:
    print(f"partial: {len(report['per_fold'])} of {report['folds']} folds "
          "done")
  best = (f", highest at epoch {report['best_epoch']}"
          if report["best_epoch"] else "")
  print(f"pooled top-1 {100 * report['top1']:.2f}% (95% interval {low:.2f}-"
        f"{high:.2f}%) over {report['count']} images{best}: "
        f"{FLAGS.output_dir}/{cross_validation.REPORT_MD}")
  against = report.get("against")
  if against and not against["folds"]:
    print(f"against {against['baseline_dir']}: none of these folds done "
          "there yet; rerun with --run_folds= once they are")
  elif against:
    low, high = (100 * v for v in against["interval"])
    print(f"against {against['baseline_dir']} on folds "
          f"{','.join(map(str, against['folds']))}: "
          f"{100 * against['difference']:+.2f} points (95% interval "
          f"{low:+.2f} to {high:+.2f} by track)")
    if against["between_folds"]:
      low, high = (100 * v for v in against["between_folds"])
      print(f"between folds, retraining counted: {low:+.2f} to {high:+.2f}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
