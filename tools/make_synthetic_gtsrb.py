"""Renders a synthetic GTSRB in the official on-disk layout.

  python tools/make_synthetic_gtsrb.py --output_dir=data/synthetic \
      --tracks_per_class=10 --frames_per_track=10 --seed=0 [--layout=test]

Writes DIR/GTSRB/Final_Training/Images/000NN/TTTTT_FFFFF.ppm with
GT-000NN.csv per class (or, with --layout=test,
DIR/GTSRB/Final_Test/Images/NNNNN.ppm with GT-final_test.csv) and
DIR/contact_sheet.png, a picture of samples of every class. The same seed and
arguments give identical bytes. See alexnet/datasets/synthetic_gtsrb.py.
"""

from absl import app
from absl import flags

from alexnet.datasets import synthetic_gtsrb
from alexnet.core.errors import UserError, exit_on_user_error

from config_flags import define_integer, parse_flags

FLAGS = flags.FLAGS
flags.DEFINE_string("output_dir", None, "Directory to create (must not hold a "
                    "result unless --overwrite).")
define_integer("tracks_per_class", 10, "Sign instances per class.", low=1)
define_integer("frames_per_track", 10, "Images per sign instance, at growing "
               "size.", low=1)
define_integer("seed", 0, "Random seed; same seed, same bytes.", low=0)
flags.DEFINE_enum("layout", "train", list(synthetic_gtsrb.LAYOUTS),
                  "train: Final_Training layout; test: Final_Test layout.")
flags.DEFINE_bool("overwrite", False, "Replace an existing output_dir.")
define_integer("processes", 2, "Worker processes.", low=1)
flags.mark_flag_as_required("output_dir")


def main(argv):
  if len(argv) > 1:
    raise UserError(f"unexpected arguments {' '.join(argv[1:])}: all options "
                    "are --flags")
  summary = synthetic_gtsrb.generate(
      FLAGS.output_dir, tracks_per_class=FLAGS.tracks_per_class,
      frames_per_track=FLAGS.frames_per_track, seed=FLAGS.seed,
      layout=FLAGS.layout, overwrite=FLAGS.overwrite,
      processes=FLAGS.processes)
  print(f"wrote {summary['total']} images "
        f"({summary['images_per_class'][0]} per class) to "
        f"{summary['images_dir']}")
  print(f"contact sheet: {summary['contact_sheet']}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
