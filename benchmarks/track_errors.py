"""Which signs a frozen graph misreads: its errors grouped by GTSRB track.

  python benchmarks/track_errors.py --graph=RUN/graphs/frozen.pb \\
      --data_dir=RUN/tfrecords_roi --output=RUN/track_errors.md

A track is up to 30 images of one physical sign, and the validation split
holds whole tracks, so a model's errors cluster: one sign misread in most of
its images costs up to 0.38 points of the 7,830-image split. This lists each
(true class, track, predicted class) with its count, most first, so BENCHMARKS
can say which signs the accuracy figure hinges on. Images are read as the
comparison reads them (tools/compare_models.py: the data_dir's images,
resized to the graph's input size).
"""

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
import numpy as np
from absl import app, flags
from tqdm import tqdm

from alexnet.core import atomic_files
from alexnet.evaluation import metrics
from alexnet.datasets import tfrecord_reader
from alexnet.core.errors import exit_on_user_error
from alexnet.datasets import tfrecord_reader
from alexnet.runner import model_files

import analysis  # benchmarks/analysis.py, beside this script

flags.DEFINE_string("graph", None, "Frozen (or transformed) GraphDef.")
flags.DEFINE_string("data_dir", None, "TFRecord dataset (build_tfrecord.py).")
flags.DEFINE_string("split", "validation", "Split to read.")
flags.DEFINE_boolean("crop_roi", False, "Crop each image to the sign's ROI "
                     "when read (models trained with --crop_roi).")
flags.DEFINE_integer("top", 20, "Rows listed.", lower_bound=1)
flags.DEFINE_string("output", None, "Also write the table to this file.")
flags.mark_flags_as_required(["graph", "data_dir"])
FLAGS = flags.FLAGS


def predict_split(graph, data_dir, split, crop_roi=False):
  """(labels, predictions, track ids) of every image of the split."""
  runner = model_files.FrozenGraphRunner(graph)
  try:
    manifest = tfrecord_reader.check_split(data_dir, split, runner.num_classes)
    dataset = tfrecord_reader.make_dataset(
        data_dir, split, runner.image_size(graph), batch_size=64,
        crop_roi=crop_roi, with_tracks=True)
    columns = [[], [], []]
    with tqdm(total=manifest["splits"][split]["count"],
              desc=f"predict {split}", unit="img") as progress:
      for images, labels, tracks in dataset:
        columns[0].append(labels.numpy())
        columns[1].append(runner.predict(images.numpy()).argmax(axis=1))
        columns[2].append(tracks.numpy())
        progress.update(len(labels))
  finally:
    runner.close()
  return [np.concatenate(c) for c in columns], tfrecord_reader.class_names(manifest)


def table(labels, predictions, tracks, class_names, top):
  rows = analysis.errors_by_track(labels, predictions, tracks)
  wrong = int((labels != predictions).sum())
  lines = [f"{len(labels)} images, {wrong} misread, top-1 "
           f"{100 * (1 - wrong / len(labels)):.2f}%; the {min(top, len(rows))}"
           f" largest of {len(rows)} (class, track, read as) groups:", "",
           "| true class | track | images in track | read as | misread |",
           "|---|---|---|---|---|"]
  for r in rows[:top]:
    lines.append(f"| {r['label']} {class_names[r['label']]} | {r['track']} | "
                 f"{r['track_count']} | {r['predicted']} "
                 f"{class_names[r['predicted']]} | {r['count']} |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  (labels, predictions, tracks), class_names = predict_split(
      FLAGS.graph, FLAGS.data_dir, FLAGS.split, FLAGS.crop_roi)
  text = table(labels, predictions, tracks, class_names, FLAGS.top)
  print(text)
  if FLAGS.output:
    atomic_files.atomic_write(FLAGS.output, text)


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
