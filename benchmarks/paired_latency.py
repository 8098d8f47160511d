"""Batch-1 latency of whole .tflite models, timed in alternation.

  python benchmarks/paired_latency.py --runs=200 --output=RUN/latency.md \\
      --models=float=RUN/tflite/alexnet_none.tflite,int8=RUN/tflite/alexnet_int8.tflite

tools/compare_models.py times one model after another, so on a shared
machine its latency ratios drift with the load (BENCHMARKS.md shows a run
where they did). Here every model runs once per round, in turn, so all see
the same load and their ratios to the first model are fair. LiteRT with
XNNPACK, one random image at the models' input size (latency does not
depend on the pixels), median and p90 of --runs after 5 warm-up rounds.
"""

import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
from absl import app, flags

from alexnet.core import atomic_files
from alexnet.core.errors import UserError, exit_on_user_error
from alexnet.runner import comparison
from alexnet.lite import flatbuffer
from alexnet.lite import interpreter

import analysis  # benchmarks/analysis.py, beside this script

flags.DEFINE_string("models", None, "Comma-separated .tflite paths or "
                    "name=path pairs; ratios are to the first.")
flags.DEFINE_list("threads", ["1", "2"], "Interpreter thread counts.")
flags.DEFINE_integer("runs", 200, "Timed rounds per thread count.",
                     lower_bound=1)
flags.DEFINE_string("output", None, "Also write the table to this file.")
flags.mark_flags_as_required(["models"])
FLAGS = flags.FLAGS


def paired_table(models, threads, runs):
  """Markdown table: per thread count, each model's median/p90 and ratio."""
  contents = [flatbuffer.read_tflite(path) for _, path in models]
  sizes = {interpreter.input_image_size(interpreter.load(model_content=c),
                                        path)
           for c, (_, path) in zip(contents, models)}
  if len(sizes) != 1:
    raise UserError(f"--models have different input sizes {sorted(sizes)}: "
                    "time variants of one model")
  image = interpreter.random_image(sizes.pop())
  lines = ["| model | threads | median ms | p90 ms | median / first |",
           "|---|---|---|---|---|"]
  for n in threads:
    stats = analysis.measure_paired_latency(contents, image, n, runs)
    for (name, _), s in zip(models, stats):
      lines.append(f"| {name} | {n} | {s['median_ms']:.3f} | "
                   f"{s['p90_ms']:.3f} | "
                   f"{s['median_ms'] / stats[0]['median_ms']:.3f} |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  models = comparison.parse_models(FLAGS.models)
  threads = [int(t) for t in FLAGS.threads]
  text = (f"Batch 1, median of {FLAGS.runs} rounds, models timed in "
          "alternation.\n\n" +
          paired_table(models, threads, FLAGS.runs))
  print(text)
  if FLAGS.output:
    atomic_files.atomic_write(FLAGS.output, text)


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
