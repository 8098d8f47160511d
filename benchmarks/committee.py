"""How a committee of independently trained models scores: every subset.

  python benchmarks/committee.py --data_dir=RUN/tfrecords_roi \\
      --models=a=RUN_A/graphs/frozen.pb,b=RUN_B/graphs/frozen.pb,... \\
      --output=committee.md

A committee averages its members' probabilities (analysis.committees);
it costs each member's latency and size added up. Models are .pb or .tflite,
read as tools/compare_models.py reads them (the data_dir's images at the
model's input size), so a committee of int8 models is measured the same way.
Lists each model alone, then every committee of two or more, and the mean,
lowest and highest top-1 for each committee size, so one lucky combination
is not mistaken for what a committee of that size gives.
"""

import numpy as np
from absl import app, flags

from alexnet.core import atomic_files
from alexnet.evaluation import metrics
from alexnet.core.errors import exit_on_user_error
from alexnet.runner import comparison

import analysis  # benchmarks/analysis.py, beside this script

flags.DEFINE_string("data_dir", None, "TFRecord dataset (build_tfrecord.py).")
flags.DEFINE_string("split", "validation", "Split to read.")
flags.DEFINE_string("models", None, "Comma-separated name=path pairs (.pb or "
                    ".tflite), at least two.")
flags.DEFINE_string("output", None, "Also write the table to this file.")
flags.mark_flags_as_required(["data_dir", "models"])
FLAGS = flags.FLAGS


def table(labels, probabilities):
  rows = analysis.committees(labels, probabilities, min_size=1)
  lines = [f"{len(labels)} images; a committee averages its members' "
           "probabilities.", "",
           "| members | top-1 | errors |", "|---|---|---|"]
  lines += [f"| {' + '.join(r['members'])} | {100 * r['top1']:.2f}% | "
            f"{r['errors']} |" for r in rows]
  lines += ["", "| size | committees | mean top-1 | lowest | highest |",
            "|---|---|---|---|---|"]
  for size in sorted({len(r["members"]) for r in rows}):
    top1 = [100 * r["top1"] for r in rows if len(r["members"]) == size]
    lines.append(f"| {size} | {len(top1)} | {np.mean(top1):.2f}% | "
                 f"{min(top1):.2f}% | {max(top1):.2f}% |")
  return "\n".join(lines) + "\n"


def main(argv):
  del argv
  models = comparison.parse_models(FLAGS.models)
  if len(models) < 2:
    raise app.UsageError("--models needs at least two models")
  probabilities = {}
  for name, path in models:
    result = comparison.evaluate_model(path, FLAGS.data_dir, FLAGS.split,
                                    reference=None, latency_runs=0,
                                    threads=(), limit=None)
    probabilities[name] = result["probabilities"]
    labels = result["labels"]  # the same for every model: one reader, in order
  text = table(labels, probabilities)
  print(text)
  if FLAGS.output:
    atomic_files.atomic_write(FLAGS.output, text)


if __name__ == "__main__":
  app.run(exit_on_user_error(main))
