"""report.md and report.html of a pipeline run, with its figures.

The report is built only from the run's own artifacts (stage records, the
evaluation report, the comparison table, the models), so every number in it
can be checked against a file in the run folder.
"""

import collections
import datetime
import html
import json
import os
import platform
import re

import matplotlib

matplotlib.use("Agg")  # files only; never a display
import matplotlib.pyplot as plt  # pylint: disable=wrong-import-position

# pylint: disable=wrong-import-position
from alexnet.core import atomic_files
from alexnet.evaluation import plots
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils
from alexnet.graph_tools import registry
from alexnet.graph_tools.summarize import human_readable
from alexnet.lite import layer_errors
from alexnet.nets import alexnet as alexnet_net
from alexnet.runner import comparison
from alexnet.runner import model_files
from alexnet.runner.images import load_images

SAMPLES_PNG = "sample_predictions.png"
NETWORK_PNG = "network.png"


def machine():
  """One line naming the machine, for the report header."""
  return (f"{platform.machine()}, {os.cpu_count()} CPU cores, "
          f"{platform.system()} {platform.release()}, Python "
          f"{platform.python_version()}")


def plot_sample_predictions(graph_path, data_dir, split, path, count=24,
                            crop_roi=False):
  """A grid of `count` images with true and predicted sign names."""
  runner = model_files.FrozenGraphRunner(graph_path)
  size = runner.image_size(graph_path)
  images, labels, names, _ = load_images(data_dir, split, size,
                                      runner.num_classes, limit=count,
                                      crop_roi=crop_roi)
  predicted = runner.predict(images).argmax(axis=1)
  runner.close()
  columns = 6
  rows = -(-len(images) // columns)
  fig, axes = plt.subplots(rows, columns, figsize=(columns * 2.2, rows * 2.6),
                           squeeze=False)
  for ax in axes.flat:
    ax.axis("off")
  for ax, image, label, guess in zip(axes.flat, images, labels, predicted):
    ax.imshow(image.astype("uint8"))
    ok = label == guess
    ax.set_title(f"true: {_short(names[label])}\npred: {_short(names[guess])}",
                 fontsize=7, color="darkgreen" if ok else "red")
  fig.suptitle(f"{split} images: true and predicted sign (red: wrong)")
  fig.tight_layout()
  plots.save_figure(fig, path)
  return path


def network_layers(graph_path):
  """[(layer, output shape, parameters)] of a frozen classifier: its input,
  each layer under the network's scope (in graph order; a layer's output is
  its last op), and the probabilities."""
  graph_def = graph_io.load_graph_def(graph_path)
  graph = graph_io.import_graph(graph_def, graph_path)
  # Parameters: the constants of layers that multiply by weights (not the
  # axes and epsilons of the standardization).
  weighted = {node.name.split("/")[1] for node in graph_def.node
              if node.op in ("Conv2D", "MatMul") and "/" in node.name}
  params = collections.Counter()
  for node in graph_def.node:
    layer = node.name.split("/")[1] if "/" in node.name else None
    if node.op == "Const" and layer in weighted:
      params[layer] += graph_utils.num_elements(node.attr["value"].tensor)
  outputs = collections.OrderedDict()
  for op in graph.get_operations():
    parts = op.name.split("/")
    if op.type == "Const" or not op.outputs:
      continue
    if op.type == "Placeholder" or op.name == alexnet_net.PROBABILITIES_NODE:
      outputs[op.name] = op.outputs[0]
    elif len(parts) > 1:
      outputs.pop(parts[1], None)  # keep the layer's last op, in its place
      outputs[parts[1]] = op.outputs[0]
  return [(name, [1] + tensor.shape.as_list()[1:], params[name])
          for name, tensor in outputs.items()]


def plot_network(layers, path, title):
  """The layers as a column of boxes: name, output shape, parameters."""
  fig, ax = plt.subplots(figsize=(5.5, 0.55 * len(layers) + 0.8))
  ax.set_xlim(0, 1)
  ax.set_ylim(len(layers), -0.6)
  ax.axis("off")
  for row, (name, shape, count) in enumerate(layers):
    color = "#dde8f6" if count else "#eeeeee"
    ax.add_patch(plt.Rectangle((0.05, row), 0.9, 0.7, facecolor=color,
                               edgecolor="#335"))
    dims = "x".join(str(d) for d in shape)
    weights = f"{human_readable(count)} parameters" if count else "-"
    ax.text(0.08, row + 0.35, name, va="center", fontsize=9,
            fontweight="bold")
    ax.text(0.42, row + 0.35, dims, va="center", fontsize=8)
    ax.text(0.92, row + 0.35, weights, va="center", ha="right", fontsize=8)
    if row:
      ax.annotate("", (0.5, row), (0.5, row - 0.3),
                  arrowprops=dict(arrowstyle="->", color="#335"))
  total = sum(count for _, _, count in layers)
  ax.set_title(f"{title}: {human_readable(total)} parameters", fontsize=10)
  fig.tight_layout()
  plots.save_figure(fig, path)
  return path


def _short(name, width=24):
  return name if len(name) <= width else name[:width - 1] + "…"


def write(pipeline):
  """Writes report.md, report.html and the sample-prediction figure."""
  records = pipeline.records
  # Validation, else test (a final model on every track), else the training
  # images themselves (labelled as such on the figure).
  first = (pipeline.splits or ["train"])[0]
  samples = plot_sample_predictions(
      pipeline.path("graphs", "frozen.pb"), pipeline.path("tfrecords"),
      first, pipeline.path(SAMPLES_PNG), crop_roi=pipeline.model.crop_roi)
  network = plot_network(network_layers(pipeline.path("graphs", "frozen.pb")),
                         pipeline.path(NETWORK_PNG),
                         f"AlexNet {pipeline.size}x{pipeline.size}, frozen")
  evaluations = {}
  for split in pipeline.splits:
    with open(pipeline.path(f"evaluation_{split}", "report.json")) as f:
      evaluations[split] = json.load(f)
  tables = {split: records["compare"]["result"][split]["rows"]
            for split in pipeline.splits}
  figures = [
      ("The network: each layer's output shape and parameters", network),
      ("Data: one row of samples per class",
       records["data"]["result"]["contact_sheet"]),
      ("Loss per batch", pipeline.path("model", plots.LOSS_PER_BATCH)),
      ("Loss per epoch", pipeline.path("model", plots.LOSS_PER_EPOCH)),
      ("Validation accuracy per epoch",
       pipeline.path("model", plots.ACCURACY_PER_EPOCH)),
      *([(f"Confusion matrix ({first})",
          pipeline.path(f"evaluation_{first}", "confusion_matrix.png"))]
        if pipeline.splits else []),
      ("Sample predictions", samples),
  ]
  md = _markdown(pipeline, evaluations, tables, figures)
  md_path = pipeline.path("report.md")
  html_path = pipeline.path("report.html")
  atomic_files.atomic_write(md_path, md)
  atomic_files.atomic_write(html_path, _html(md))
  return [md_path, html_path, samples, network]


def _markdown(pipeline, evaluations, tables, figures):
  records = pipeline.records
  splits = records["tfrecords"]["result"]["splits"]
  overrides = "".join(f" --{_flag(k)}={_value(v)}"
                      for k, v in pipeline.overrides.items())
  test_data = f" --test_data={pipeline.test_data}" if pipeline.test_data else ""
  lines = [
      "# AlexNet on GTSRB: pipeline report", "",
      f"- Date: {datetime.date.today().isoformat()}",
      f"- Machine: {machine()}",
      f"- Data: {pipeline.data} ({', '.join(f'{k} {v}' for k, v in splits.items())} images)",
      f"- Preset: {pipeline.preset}; seed {pipeline.seed}",
      "- Model: " + _settings(pipeline.model, ("class_names",)),
      "- Training: " + _settings(pipeline.train),
      "- Conversion: " + _settings(pipeline.convert, ("quantize",)),
      "- Pipeline: " + _settings(pipeline.settings),
      f"- Reproduce all: `python tools/pipeline.py --output_dir={pipeline.dir} "
      f"--data={pipeline.data}{test_data} --preset={pipeline.preset} "
      f"--seed={pipeline.seed}{overrides}`",
      "",
      "## TensorFlow model (best checkpoint)", "",
      "| split | images | top-1 | top-5 | loss |", "|---|---|---|---|---|",
  ]
  for split, evaluation in evaluations.items():
    lines.append(f"| {split} | {evaluation['count']} | "
                 f"**{evaluation['top1']:.2%}** | {evaluation['top5']:.2%} | "
                 f"{evaluation['loss']:.4f} |")
  lines += ["", "Validation holds out whole tracks of the training set; test "
            "is the official test set when the data has one (the synthetic "
            "default renders its own).", ""]
  if "test" in tables and "validation" in tables:
    lines += ["## Every variant on validation and test", "",
              "| model | validation top-1 | test top-1 | test agreement |",
              "|---|---|---|---|"]
    for val, test in zip(tables["validation"], tables["test"]):
      agreement = ("-" if test["agreement"] is None
                   else f"{test['agreement']:.2%}")
      lines.append(f"| {val['name']} | {val['top1']:.2%} | "
                   f"{test['top1']:.2%} | {agreement} |")
    lines.append("")
  for split in list(tables)[:1]:  # the split the latency was timed on
    lines += [
        f"## Model variants ({split} split)", "",
        f"Sizes in MiB; top1/top5/agreement are fractions of the {split} "
        "split (top-5 counts ties against the label); agreement is top-1 "
        "agreement with the frozen graph; latency is per image at batch 1 "
        "(ms) with 1 and 2 threads.", "",
        comparison.markdown_table(tables[split])]
  lines += [
      "## Graph transforms, step by step", "",
      "The original list on the frozen graph (as `tools/transform.py "
      "--report` prints it).", "",
      registry.format_report(
          registry.TransformRecord(**step)
          for step in records["transform"]["result"]["steps"]), "",
      *_layer_error_section(pipeline),
      "## Steps and how to run each alone", "",
      "| stage | seconds | command |", "|---|---|---|",
  ]
  for name, record in records.items():
    commands = "<br>".join(f"`{c}`" for c in record["commands"]) or "-"
    lines.append(f"| {name} | {record['seconds']} | {commands} |")
  lines += ["", "## Figures", ""]
  for title, path in figures:
    lines += [f"### {title}", "",
              f"![{title}]({os.path.relpath(path, pipeline.dir)})", ""]
  for split, evaluation in evaluations.items():
    lines += [f"## Accuracy per class (TensorFlow model, {split})", "",
              "| id | sign | images | correct | accuracy |",
              "|---|---|---|---|---|"]
    for c in evaluation["per_class"]:
      accuracy = "-" if c["accuracy"] is None else f"{c['accuracy']:.2%}"
      lines.append(f"| {c['id']} | {c['name']} | {c['count']} | "
                   f"{c['correct']} | {accuracy} |")
    lines.append("")
  return "\n".join(lines)


def _layer_error_section(pipeline):
  """Per int8 variant: the worst layers, the plot and the table of each
  quantized op's own error (alexnet.lite.layer_errors)."""
  variants = pipeline.records["tflite"]["result"]
  lines = []
  for name, result in variants.items():
    if not result.get("layer_errors"):
      continue
    if not lines:
      lines += ["## int8 error by layer", "",
                "Each quantized op's own error on the calibration images, "
                "against its float version on the same inputs "
                "(tf.lite.experimental.QuantizationDebugger); rmse/scale "
                "near 0.29 is rounding alone. `--float_layers=auto:N` keeps "
                "the N worst network layers float.", ""]
    rows = result["layer_errors"]
    kept = result.get("float_layers") or []
    lines += [f"### {name}", "",
              "- Float layers: " + (", ".join(kept) or "none (all int8)"),
              "- Worst layers (rmse/scale): "
              + layer_errors.worst_summary(rows), "",
              f"![{name} error by layer]"
              f"({os.path.relpath(result['layer_errors_png'], pipeline.dir)})",
              "", layer_errors.markdown_table(rows)]
  return lines


def _flag(field):
  # tools/pipeline.py's --seed is the data's; the training seed has its own.
  return "train_seed" if field == "seed" else field


def _value(value):
  return ",".join(value) if isinstance(value, (list, tuple)) else value


def _settings(config, skip=()):
  return ", ".join(f"{k}={v}" for k, v in config.to_dict().items()
                   if k not in skip)


def _html(markdown):
  """A small markdown-to-HTML rendering: headings, lists, tables, images."""
  out, table = [], []

  def inline(text):
    text = html.escape(text)
    text = re.sub(r"!\[([^\]]*)\]\(([^)]*)\)",
                  r'<img alt="\1" src="\2" style="max-width:100%">', text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return text.replace("&lt;br&gt;", "<br>")

  def flush_table():
    if table:
      out.append("<table>")
      for i, row in enumerate(table):
        if i == 1:
          continue  # the |---| separator
        tag = "th" if i == 0 else "td"
        cells = row.strip().strip("|").split("|")
        out.append("<tr>" + "".join(f"<{tag}>{inline(c.strip())}</{tag}>"
                                    for c in cells) + "</tr>")
      out.append("</table>")
      table.clear()

  for line in markdown.splitlines():
    if line.startswith("|"):
      table.append(line)
      continue
    flush_table()
    heading = re.match(r"(#+) (.*)", line)
    if heading:
      level = len(heading.group(1))
      out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
    elif line.startswith("- "):
      out.append(f"<li>{inline(line[2:])}</li>")
    elif line.strip():
      out.append(f"<p>{inline(line)}</p>")
  flush_table()
  style = ("body{font-family:sans-serif;max-width:1100px;margin:auto}"
           "table{border-collapse:collapse;font-size:13px}"
           "td,th{border:1px solid #ccc;padding:2px 6px}")
  return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>AlexNet "
          f"on GTSRB report</title><style>{style}</style></head><body>\n"
          + "\n".join(out) + "\n</body></html>\n")
