"""One table over model variants: size, accuracy, agreement, latency.

The first model is the reference (normally the float frozen graph or float
.tflite): every other row reports its top-1 agreement with it.
"""

import csv
import io
import os

from alexnet.core import atomic_files
from alexnet.core.errors import UserError
from alexnet.runner import model_files

COLUMNS = ("name", "kind", "size_mb", "gzip_mb", "size_vs_ref", "top1",
           "top5", "agreement", "median_ms_1t", "p90_ms_1t", "median_ms_2t",
           "p90_ms_2t", "float_fallback_ops")


def parse_models(spec):
  """'a.pb,int8=b.tflite' -> [("a", "a.pb"), ("int8", "b.tflite")]."""
  models = []
  for item in filter(None, (s.strip() for s in spec.split(","))):
    name, sep, path = item.partition("=")
    if not sep:
      name, path = os.path.splitext(os.path.basename(item))[0], item
    models.append((name, path))
  if not models:
    raise UserError("--models is empty: pass paths (or name=path pairs) of "
                    ".pb and .tflite models, the reference first")
  names = [n for n, _ in models]
  if len(set(names)) != len(names):
    raise UserError(f"--models has repeated names {names}: use name=path "
                    "pairs to tell them apart")
  return models


def _require_file(path):
  if not os.path.isfile(path):
    raise UserError(f"{path} does not exist: check --models")


def evaluate_model(path, data_dir, split, reference, latency_runs, threads,
                   limit, test_dir=None, crop_roi=False):
  """evaluate_tflite for .tflite files, evaluate_frozen_graph otherwise."""
  _require_file(path)
  evaluate_fn = (model_files.evaluate_tflite if path.endswith(".tflite")
                 else model_files.evaluate_frozen_graph)
  return evaluate_fn(path, data_dir, split, reference_probabilities=reference,
                     latency_runs=latency_runs, threads=threads, limit=limit,
                     test_dir=test_dir, crop_roi=crop_roi)


def _row(name, result, reference_size):
  row = {
      "name": name,
      "kind": result["kind"] + (f" {result['input']['dtype']} in"
                                if "input" in result else ""),
      "size_mb": result["size_bytes"] / 2**20,
      "gzip_mb": result["gzip_bytes"] / 2**20,
      "size_vs_ref": result["size_bytes"] / reference_size,
      "top1": result["report"]["top1"],
      "top5": result["report"]["top5"],
      "agreement": result["agreement"],
      "float_fallback_ops": " ".join(result.get("float_fallback_ops", [])),
  }
  for n in (1, 2):
    latency = result["latency"].get(n, {})
    row[f"median_ms_{n}t"] = latency.get("median_ms")
    row[f"p90_ms_{n}t"] = latency.get("p90_ms")
  return row


def compare_models(models, data_dir, split="validation", latency_runs=50,
                   threads=(1, 2), limit=None, test_dir=None, crop_roi=False):
  """Evaluates [(name, path)] in order; returns one row dict per model.

  Row keys are COLUMNS; agreement is None for the reference (first) model,
  latencies None for thread counts not measured.
  """
  # Every path before any model runs: a typo in the last one would
  # otherwise surface only after evaluating all the others.
  for _, path in models:
    _require_file(path)
  rows, reference, reference_size = [], None, None
  for name, path in models:
    result = evaluate_model(path, data_dir, split, reference, latency_runs,
                            threads, limit, test_dir, crop_roi)
    if reference is None:
      reference = result["probabilities"]
      reference_size = result["size_bytes"]
    rows.append(_row(name, result, reference_size))
  return rows


def _cell(value):
  if value is None:
    return "-"
  if isinstance(value, float):
    return f"{value:.4f}" if value <= 1.5 else f"{value:.2f}"
  return str(value)


def markdown_table(rows):
  """The rows as a GitHub markdown table (fractions to 4 places)."""
  lines = ["| " + " | ".join(COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
  lines += ["| " + " | ".join(_cell(r[c]) for c in COLUMNS) + " |"
            for r in rows]
  return "\n".join(lines) + "\n"


def csv_text(rows):
  out = io.StringIO()
  writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
  writer.writeheader()
  writer.writerows({c: "" if r[c] is None else r[c] for c in COLUMNS}
                   for r in rows)
  return out.getvalue()


def write_tables(rows, output_dir, title):
  """Writes comparison.md and comparison.csv into `output_dir` atomically."""
  os.makedirs(output_dir, exist_ok=True)
  md_path = os.path.join(output_dir, "comparison.md")
  csv_path = os.path.join(output_dir, "comparison.csv")
  atomic_files.atomic_write(md_path, f"# {title}\n\n" + markdown_table(rows))
  atomic_files.atomic_write(csv_path, csv_text(rows))
  return md_path, csv_path
