"""Per-layer quantization error of an int8 model, and the worst layers.

The statistics are tf.lite.experimental.QuantizationDebugger's: its debug
model runs every quantized op beside its float version on the same
dequantized inputs, so each row is the error that op adds by itself (not the
error accumulated from earlier layers). `rmse/scale` (root mean squared error
over the output's quantization step) is the measure TensorFlow's debugger
guide ranks layers by: rounding alone gives about 0.29 (1/sqrt(12)); clipped
or badly calibrated ranges give more. A layer's score is the largest
rmse/scale of its ops.

`--float_layers=auto:N` keeps the N layers with the highest score float.
Only the network's own layers (named "<net scope>/<layer>/...") are
candidates: the input standardization is always float anyway, and the
output softmax ("probabilities", outside the network's scope) is listed but
never chosen. In a committee graph a layer is that layer of every column
(named "column<i>/<net scope>/<layer>/..."), as --float_layers keeps it
float in every column.
"""

import csv
import io
import math
import re

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

# pylint: disable=wrong-import-position
from alexnet.core import atomic_files
from alexnet.core.errors import UserError
from alexnet.evaluation import plots
from alexnet.nets import alexnet as alexnet_net

AUTO_PREFIX = "auto:"
# The debugger's default per-layer metrics, in its dump's column order.
METRICS = ("num_elements", "stddev", "mean_error", "max_abs_error",
           "mean_squared_error")
SCORE = "rmse/scale"
COLUMNS = ("layer", "op", "tensor") + METRICS + ("scale", "zero_point",
                                                 SCORE)


def parse_float_layers(entries):
  """(layer names, N) of --float_layers entries: names and one 'auto:N'."""
  names, autos = [], []
  for entry in entries:
    if entry.startswith(AUTO_PREFIX):
      count = entry[len(AUTO_PREFIX):]
      if not count.isdigit() or int(count) < 1:
        raise UserError(f"--float_layers={entry}: auto:N needs a whole "
                        "number N >= 1 of layers, e.g. auto:2")
      autos.append(int(count))
    else:
      names.append(entry)
  if len(autos) > 1:
    raise UserError(f"--float_layers={','.join(entries)} has more than one "
                    "auto:N entry: give one")
  return tuple(names), (autos[0] if autos else 0)


_COLUMN = re.compile(rf"{alexnet_net.COLUMN_SCOPE}\d+")


def _scopes(tensor_name):
  """The scopes and name of a tensor's first TF node, without a committee
  column's scope: a committee's conv1 is one layer over all its columns."""
  parts = tensor_name.split(";")[0].split("/")
  if len(parts) > 1 and _COLUMN.fullmatch(parts[0]):
    return parts[1:]
  return parts


def layer_of(tensor_name):
  """'alexnet/conv1/Relu;alexnet/conv1/Conv2D' (or 'column1/alexnet/conv1/
  Relu') -> 'conv1'; names outside a scope ('probabilities') are their own
  layer."""
  parts = _scopes(tensor_name)
  return parts[1] if len(parts) > 1 else parts[0]


def is_network_layer(tensor_name):
  return len(_scopes(tensor_name)) > 1


def rows_from_dump(dump_csv):
  """Rows (dicts of COLUMNS) of QuantizationDebugger.layer_statistics_dump's
  CSV, in the model's op order."""
  rows = []
  for row in csv.DictReader(io.StringIO(dump_csv)):
    name = row["tensor_name"]
    values = {k: float(row[k]) for k in METRICS}
    scale = float(row["scale"])
    rows.append({"layer": layer_of(name), "op": row["op_name"],
                 "tensor": name, **values, "scale": scale,
                 "zero_point": int(row["zero_point"]),
                 SCORE: math.sqrt(values["mean_squared_error"]) / scale,
                 "network": is_network_layer(name)})
  return rows


def layer_scores(rows):
  """{layer: largest rmse/scale of its ops}, network layers only, in order."""
  scores = {}
  for row in rows:
    if row["network"]:
      scores[row["layer"]] = max(scores.get(row["layer"], 0.0), row[SCORE])
  return scores


def worst_layers(rows, count, exclude=()):
  """The `count` network layers with the highest score, worst first."""
  scores = {k: v for k, v in layer_scores(rows).items() if k not in exclude}
  if count > len(scores):
    raise UserError(f"--float_layers=auto:{count}: the model has only "
                    f"{len(scores)} quantized layers to choose from "
                    f"({', '.join(scores)})")
  return sorted(scores, key=lambda layer: -scores[layer])[:count]


def worst_summary(rows, count=3):
  """'fc8 0.412, conv1 0.301, ...': the worst layers and their scores."""
  scores = layer_scores(rows)
  return ", ".join(f"{layer} {scores[layer]:.3f}" for layer in
                   worst_layers(rows, min(count, len(scores))))


def markdown_table(rows):
  """One line per quantized op: layer, op, rmse/scale, errors, scale."""
  lines = ["| layer | op | rmse/scale | mean squared error | max abs error "
           "| mean error | scale | elements |", "|---|---|---|---|---|---|---|---|"]
  for r in rows:
    lines.append(f"| {r['layer']} | {r['op']} | {r[SCORE]:.3f} | "
                 f"{r['mean_squared_error']:.3g} | {r['max_abs_error']:.3g} | "
                 f"{r['mean_error']:.3g} | {r['scale']:.3g} | "
                 f"{int(r['num_elements'])} |")
  return "\n".join(lines) + "\n"


def write(rows, csv_path, png_path, title):
  """The rows as CSV and a bar plot of rmse/scale per op; returns the paths."""
  out = io.StringIO()
  writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore")
  writer.writeheader()
  writer.writerows(rows)
  atomic_files.atomic_write(csv_path, out.getvalue())
  labels = [f"{r['layer']} {r['op']}" for r in rows]
  fig, ax = plt.subplots(figsize=(8, 0.3 * len(rows) + 1.2))
  ax.barh(range(len(rows)), [r[SCORE] for r in rows], color="tab:blue")
  ax.axvline(1 / math.sqrt(12), color="gray", ls="--", lw=1,
             label="rounding alone (0.29)")
  ax.set_yticks(range(len(rows)), labels, fontsize=8)
  ax.invert_yaxis()
  ax.set_xlabel("rmse / scale of the op's output (its own error)")
  ax.set_title(title, fontsize=10)
  ax.legend(fontsize=8, loc="lower right")
  fig.tight_layout()
  plots.save_figure(fig, png_path)
  return csv_path, png_path
