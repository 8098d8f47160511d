"""Measures the TFRecord input pipeline's throughput in images/s.

  python benchmarks/bench_input_pipeline.py --data_dir=data/tfrecords \\
      --image_size=227 --batch_size=64 --augment

The target is 340 images/s for 227x227 batches of 64 on 2 cores: ten times
what AlexNet trains at there, so input never starves training.
"""

import time

from absl import app, flags

from alexnet.datasets import tfrecord_reader
from alexnet.core.errors import exit_on_user_error

flags.DEFINE_string("data_dir", None, "Output of tools/build_tfrecord.py.")
flags.DEFINE_string("split", "train", "Split to read.")
flags.DEFINE_integer("image_size", 227, "Output image side.")
flags.DEFINE_integer("batch_size", 64, "Images per batch.")
flags.DEFINE_integer("num_batches", 100, "Batches to time (after warm-up).")
flags.DEFINE_integer("warmup_batches", 10, "Batches before timing starts.")
flags.DEFINE_boolean("augment", True, "Random geometric/photometric "
                     "augmentation, as in training.")
flags.DEFINE_boolean("crop_roi", False, "Crop to the ROI before resizing.")
flags.mark_flag_as_required("data_dir")
FLAGS = flags.FLAGS


def main(argv):
  del argv
  dataset = tfrecord_reader.make_dataset(
      FLAGS.data_dir, FLAGS.split, FLAGS.image_size, FLAGS.batch_size,
      is_training=True, augment=FLAGS.augment, crop_roi=FLAGS.crop_roi,
      num_epochs=None, drop_remainder=True)
  batches = iter(dataset)
  for _ in range(FLAGS.warmup_batches):
    next(batches)
  start = time.perf_counter()
  for _ in range(FLAGS.num_batches):
    images, _ = next(batches)
  images.numpy()
  elapsed = time.perf_counter() - start
  rate = FLAGS.num_batches * FLAGS.batch_size / elapsed
  print(f"{rate:.0f} images/s ({FLAGS.num_batches} batches of "
        f"{FLAGS.batch_size}x{FLAGS.image_size}x{FLAGS.image_size}, "
        f"augment={FLAGS.augment}, crop_roi={FLAGS.crop_roi})")


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
