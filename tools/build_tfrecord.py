"""Writes a converted GTSRB directory as sharded TFRecords with a manifest.

  python tools/build_tfrecord.py --input_dir=data/converted \\
      --output_dir=data/tfrecords --num_shards=8 --validation_fraction=0.1 \\
      --seed=0
  # Add the official test set to the same dataset directory:
  python tools/build_tfrecord.py --input_dir=data/converted_test \\
      --output_dir=data/tfrecords
  # Fold 2 of a track-stratified 5-fold split validates, folds 0,1,3,4 train:
  python tools/build_tfrecord.py --input_dir=data/converted \\
      --output_dir=data/tfrecords_fold2 --folds=5 --fold=2

Training images are split into train/validation by track, stratified by
class (or by --folds/--fold); a converted test directory becomes the `test`
split.
"""

from absl import app, flags

from alexnet.datasets import tfrecord_writer
from alexnet.core.config import PipelineConfig
from alexnet.core.errors import exit_on_user_error

from config_flags import (define_config_flags, define_float, define_integer,
                          parse_flags)

flags.DEFINE_string("input_dir", None, "Output of tools/convert_dataset.py.")
flags.DEFINE_string("output_dir", None, "Dataset directory to write.")
define_integer("num_shards", 4, "Shards per split (fewer for a split with "
               "fewer images).", low=1)
define_float("validation_fraction", 0.1, "Fraction of each class's tracks "
             "held out for validation.", low=0, high=1, high_open=True)
define_integer("seed", 0, "Seed of the track split and shard order.", low=0)
define_config_flags(PipelineConfig, only=("folds", "fold"))
flags.DEFINE_boolean("overwrite", False, "Replace an existing dataset (or its "
                     "test split).")
flags.mark_flags_as_required(["input_dir", "output_dir"])
FLAGS = flags.FLAGS


def main(argv):
  del argv
  manifest = tfrecord_writer.build(
      FLAGS.input_dir, FLAGS.output_dir, num_shards=FLAGS.num_shards,
      validation_fraction=FLAGS.validation_fraction, seed=FLAGS.seed,
      overwrite=FLAGS.overwrite, folds=FLAGS.folds, fold=FLAGS.fold)
  for name, split in manifest["splits"].items():
    print(f"{name}: {split['count']} images, {split['num_tracks']} tracks, "
          f"{len(split['shards'])} shards")
  print(f"wrote {FLAGS.output_dir}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
