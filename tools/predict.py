"""Prints the top-5 traffic signs of each image, from an exported SavedModel.

  python tools/predict.py runs/alexnet/export/saved_model sign1.ppm sign2.jpg

Images of any size and format PIL reads (.ppm, .jpg, .png, ...) are resized
to the model's input size as in evaluation.
"""

from absl import app, flags

from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.datasets import image_files
from alexnet.serving import predictor

from config_flags import define_integer, parse_flags

define_integer("top_k", 5, "How many classes to print per image.", low=1)
FLAGS = flags.FLAGS


def main(argv):
  if len(argv) < 3:
    raise UserError("usage: tools/predict.py SAVED_MODEL_DIR IMAGE [IMAGE...]")
  saved_model_dir, paths = argv[1], argv[2:]
  images = [image_files.read_image(p) for p in paths]  # All checked first.
  model = predictor.Predictor(saved_model_dir)
  try:
    probabilities = model.probabilities(images)
  finally:
    model.close()
  for path, probs in zip(paths, probabilities):
    print(path)
    for rank, (class_id, name, p) in enumerate(
        predictor.top_k(probs, model.class_names, FLAGS.top_k), 1):
      print(f"  {rank}. {100 * p:6.2f}%  {class_id:>2} {name}")


if __name__ == "__main__":
  app.run(exit_on_user_error(main), flags_parser=parse_flags)
