"""Downloads the official GTSRB archives (or takes local ones) and extracts them.

  python tools/download_gtsrb.py --output_dir=data/raw
  python tools/download_gtsrb.py --output_dir=data/raw \\
      --archive=../shared/gtsrb/GTSRB_Final_Training_Images_32px.zip

Leaves DIR/GTSRB/Final_Training/Images/000NN/... (and, when downloading,
DIR/GTSRB/Final_Test/Images/ with GT-final_test.csv). An interrupted download
resumes on the next run.
"""

from absl import app, flags

from alexnet.datasets import download
from alexnet.core.errors import exit_on_user_error

from config_flags import parse_flags

flags.DEFINE_string("output_dir", None, "Directory for the zips and GTSRB/.")
flags.DEFINE_list("archive", [], "Local GTSRB zip(s) to extract instead of "
                  "downloading.")
flags.DEFINE_list("archive_checksum", [], "Optional ALGORITHM:HEX per "
                  "--archive, e.g. sha256:8cf5..., checked before extracting.")
flags.DEFINE_boolean("overwrite", False, "Replace an existing DIR/GTSRB.")
flags.mark_flag_as_required("output_dir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  target = download.download_gtsrb(
      FLAGS.output_dir, local_archives=FLAGS.archive,
      local_checksums=FLAGS.archive_checksum, overwrite=FLAGS.overwrite)
  print(f"extracted into {target}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
