"""report.md and report.html of a pipeline run, with its figures.

The report is built only from the run's own artifacts (stage records, the
evaluation report, the comparison table, the models), so every number in it
can be checked against a file in the run folder.
"""

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
from alexnet.graph_tools import registry
from alexnet.runner import comparison
from alexnet.runner import model_files
from alexnet.runner.images import load_images

SAMPLES_PNG = "sample_predictions.png"


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
  images, labels, names = load_images(data_dir, split, size,
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


def _short(name, width=24):
  return name if len(name) <= width else name[:width - 1] + "…"


def write(pipeline):
  """Writes report.md, report.html and the sample-prediction figure."""
  records = pipeline.records
  samples = plot_sample_predictions(
      pipeline.path("graphs", "frozen.pb"), pipeline.path("tfrecords"),
      "validation", pipeline.path(SAMPLES_PNG),
      crop_roi=pipeline.model.crop_roi)
  evaluations = {}
  for split in pipeline.splits:
    with open(pipeline.path(f"evaluation_{split}", "report.json")) as f:
      evaluations[split] = json.load(f)
  tables = {split: records["compare"]["result"][split]["rows"]
            for split in pipeline.splits}
  figures = [
      ("Data: one row of samples per class",
       records["data"]["result"]["contact_sheet"]),
      ("Loss per batch", pipeline.path("model", plots.LOSS_PER_BATCH)),
      ("Loss per epoch", pipeline.path("model", plots.LOSS_PER_EPOCH)),
      ("Validation accuracy per epoch",
       pipeline.path("model", plots.ACCURACY_PER_EPOCH)),
      ("Confusion matrix (validation)",
       pipeline.path("evaluation_validation", "confusion_matrix.png")),
      ("Sample predictions", samples),
  ]
  md = _markdown(pipeline, evaluations, tables, figures)
  md_path = pipeline.path("report.md")
  html_path = pipeline.path("report.html")
  atomic_files.atomic_write(md_path, md)
  atomic_files.atomic_write(html_path, _html(md))
  return [md_path, html_path, samples]


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
  if "test" in tables:
    lines += ["## Every variant on validation and test", "",
              "| model | validation top-1 | test top-1 | test agreement |",
              "|---|---|---|---|"]
    for val, test in zip(tables["validation"], tables["test"]):
      agreement = ("-" if test["agreement"] is None
                   else f"{test['agreement']:.2%}")
      lines.append(f"| {val['name']} | {val['top1']:.2%} | "
                   f"{test['top1']:.2%} | {agreement} |")
    lines.append("")
  lines += [
      "## Model variants (validation split)", "",
      "Sizes in MiB; top1/top5/agreement are fractions of the validation "
      "split (top-5 counts ties against the label); agreement is top-1 agreement with the frozen graph; latency is "
      "per image at batch 1 (ms) with 1 and 2 threads.", "",
      comparison.markdown_table(tables["validation"]),
      "## Graph transforms, step by step", "",
      "The original list on the frozen graph (as `tools/transform.py "
      "--report` prints it).", "",
      registry.format_report(
          registry.TransformRecord(**step)
          for step in records["transform"]["result"]["steps"]), "",
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
