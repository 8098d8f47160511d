"""The original project's whole recipe as one resumable chain of stages.

  data → convert → tfrecords → train → evaluate → export → freeze → summarize
  → transform → tflite (float, dynamic, float16, int8) → compare → report

Each stage calls the same library function as its own tool and records the
equivalent command line, so every step can be rerun alone. A stage finishes
by writing `RUN/stages/NAME.json` (its settings, result and time) after its
outputs are complete; a rerun skips stages whose record exists with the same
settings, and `force` redoes them. Outputs are written atomically, so an
interrupted run resumes at the stage it was in (training from its latest
checkpoint).
"""

import json
import os
import shlex
import shutil
import sys
import time

from alexnet import checkpoints, export, model_evaluation, plots, run_report, training

from alexnet.core import atomic_files
from alexnet.datasets import convert as convert_lib
from alexnet.datasets import download, synthetic_gtsrb, tfrecord_writer
from alexnet.core.errors import UserError
from alexnet.graph_tools import freeze, graph_io, registry, summarize
from alexnet.lite import compare
from alexnet.lite import convert as lite_convert
from alexnet.model_fn import DEFAULT_PARAMS
from alexnet.presets import PRESETS

TFLITE_VARIANTS = ("float", "dynamic", "float16", "int8")

OUTPUT_NODE = "probabilities"


class Pipeline:
  """Runs the stages into `output_dir`; see the module docstring.

  Args:
    output_dir: the run folder.
    data: "synthetic", a GTSRB zip, or a folder holding the official layout.
    preset: a PRESETS key; `overrides` replace single settings of it.
    seed: for data generation, the split, and training.
    force: redo stages even if complete.
    log: callable taking one line (the stage start/end lines).
  """

  def __init__(self, output_dir, data="synthetic", preset="cpu-fast", seed=0,
               force=False, overrides=None, log=print):
    if preset not in PRESETS:
      raise UserError(f"--preset={preset}: choose one of "
                      f"{', '.join(PRESETS)}")
    self.dir = os.path.abspath(output_dir)
    self.data = data
    self.preset = preset
    self.settings = dict(PRESETS[preset], **(overrides or {}))
    self.seed = seed
    self.force = force
    self.log = log
    self.records = {}
    self.ran = []  # stages completed (not skipped) by this invocation

  # Paths of the run folder.
  def path(self, *parts):
    return os.path.join(self.dir, *parts)

  @property
  def size(self):
    return self.settings["image_size"]

  def stages(self):
    """[(name, settings, function)] in order; settings decide re-running."""
    s = self.settings
    return [
        ("data", {"data": self.data, "seed": self.seed,
                  "tracks_per_class": s["tracks_per_class"],
                  "frames_per_track": s["frames_per_track"]}, self._data),
        ("convert", {}, self._convert),
        ("tfrecords", {"num_shards": s["num_shards"], "seed": self.seed,
                       "validation_fraction": s["validation_fraction"]},
         self._tfrecords),
        ("train", {k: s[k] for k in ("image_size", "normalization",
                                     "batch_size", "epochs",
                                     "learning_rate", "lr_schedule",
                                     "warmup_epochs", "augment")},
         self._train),
        ("evaluate", {}, self._evaluate),
        ("export", {}, self._export),
        ("freeze", {}, self._freeze),
        ("summarize", {}, self._summarize),
        ("transform", {"transforms": self.transforms}, self._transform),
        ("tflite", {"variants": TFLITE_VARIANTS,
                    "samples": s["representative_samples"]}, self._tflite),
        ("compare", {"latency_runs": s["latency_runs"]}, self._compare),
        ("report", {}, self._report),
    ]

  @property
  def transforms(self):
    # The original list, with this run's input size.
    return registry.original_transforms(self.size)

  def run(self):
    """Runs (or skips) every stage; returns {stage: record}."""
    try:
      os.makedirs(self.path("stages"), exist_ok=True)
    except OSError as e:
      raise UserError(f"cannot create {self.dir}: {e.strerror}; choose a "
                      "writable --output_dir") from None
    stages = self.stages()
    start = time.time()
    redo = self.force  # once a stage reruns, every later one must too
    for index, (name, settings, function) in enumerate(stages, 1):
      label = f"[{index}/{len(stages)}] {name}"
      record_path = self.path("stages", name + ".json")
      previous = _read_json(record_path)
      if (not redo and previous is not None
          and previous["settings"] == _jsonable(settings)):
        self.records[name] = previous
        self.log(f"{label}: complete, skipped (--force redoes it)")
        continue
      self.log(f"{label}: started")
      redo = True
      if os.path.exists(record_path):
        os.remove(record_path)
      stage_start = time.time()
      result, commands = function()
      record = {"settings": _jsonable(settings), "result": _jsonable(result),
                "commands": commands,
                "seconds": round(time.time() - stage_start, 1)}
      atomic_files.atomic_write(record_path, json.dumps(record, indent=2))
      self.records[name] = record
      self.ran.append(name)
      self.log(f"{label}: done in {record['seconds']:.1f} s")
    self.log(f"pipeline finished in {time.time() - start:.1f} s: "
             f"{self.path('report.md')}")
    return self.records

  def _fresh(self, path):
    """Clears a stage's output left by an interrupted or forced earlier run."""
    if os.path.isdir(path):
      shutil.rmtree(path)
    elif os.path.exists(path):
      os.remove(path)
    return path

  # The stages: each returns (result dict, [equivalent command lines]).

  def _data(self):
    out = self._fresh(self.path("data"))
    if self.data == "synthetic":
      s = self.settings
      summary = synthetic_gtsrb.generate(
          out, tracks_per_class=s["tracks_per_class"],
          frames_per_track=s["frames_per_track"], seed=self.seed)
      command = _tool("make_synthetic_gtsrb", output_dir=out,
                      tracks_per_class=s["tracks_per_class"],
                      frames_per_track=s["frames_per_track"], seed=self.seed)
      return ({"images_dir": summary["images_dir"], "images": summary["total"],
               "contact_sheet": summary["contact_sheet"]}, [command])
    source = os.path.abspath(self.data)
    if os.path.isfile(source):
      download.download_gtsrb(out, local_archives=[source])
      command = _tool("download_gtsrb", output_dir=out, archive=source)
      images_dir = os.path.join(out, "GTSRB", "Final_Training", "Images")
    elif os.path.isdir(source):
      images_dir = _find_training_images(source)
      os.makedirs(out)
      command = f"# using the GTSRB images in {images_dir}"
    else:
      raise UserError(f"--data={self.data}: not found; pass 'synthetic', a "
                      "GTSRB zip or a folder with GTSRB/Final_Training/Images")
    _check_training_images(images_dir, self.data)
    sheet = os.path.join(out, synthetic_gtsrb.CONTACT_SHEET)
    synthetic_gtsrb.contact_sheet(images_dir, sheet, seed=self.seed)
    return {"images_dir": images_dir, "contact_sheet": sheet}, [command]

  def _convert(self):
    images_dir = self.records["data"]["result"]["images_dir"]
    out = self._fresh(self.path("converted"))
    # Cropped once here, so every later reader (training, TFLite
    # calibration, evaluation) sees the same ROI-cropped images.
    result = convert_lib.convert(images_dir, out, crop_roi=True)
    return ({"images": result.num_images, "output_dir": out},
            [_tool("convert_dataset", input_dir=images_dir, output_dir=out,
                   crop_roi=True)])

  def _tfrecords(self):
    out = self._fresh(self.path("tfrecords"))
    s = self.settings
    manifest = tfrecord_writer.build(
        self.path("converted"), out, num_shards=s["num_shards"],
        validation_fraction=s["validation_fraction"], seed=self.seed)
    counts = {k: v["count"] for k, v in manifest["splits"].items()}
    return ({"splits": counts},
            [_tool("build_tfrecord", input_dir=self.path("converted"),
                   output_dir=out, num_shards=s["num_shards"],
                   validation_fraction=s["validation_fraction"],
                   seed=self.seed)])

  def _train(self):
    s = self.settings
    model_dir = self.path("model")
    # Resume an interrupted training only on the very same data.
    if self.ran:
      self._fresh(model_dir)
    params = {**DEFAULT_PARAMS, "image_size": s["image_size"],
              "normalization": s["normalization"],
              "learning_rate": s["learning_rate"],
              "lr_schedule": s["lr_schedule"]}
    step = training.train(
        self.path("tfrecords"), model_dir, params, batch_size=s["batch_size"],
        epochs=s["epochs"], augment=s["augment"], seed=self.seed,
        warmup_epochs=s["warmup_epochs"])
    plots.plot_training(model_dir, model_dir)
    best = checkpoints.read_best(model_dir)
    return ({"step": step, "best": best},
            [_tool("train", data_dir=self.path("tfrecords"),
                   model_dir=model_dir, image_size=s["image_size"],
                   normalization=s["normalization"],
                   batch_size=s["batch_size"], epochs=s["epochs"],
                   learning_rate=s["learning_rate"],
                   lr_schedule=s["lr_schedule"],
                   warmup_epochs=s["warmup_epochs"], augment=s["augment"],
                   seed=self.seed, export=False)])

  def _evaluate(self):
    out = self._fresh(self.path("evaluation"))
    report = model_evaluation.evaluate_model_dir(
        self.path("model"), self.path("tfrecords"), "validation", out)
    return ({k: report[k] for k in ("top1", "top5", "loss", "count")},
            [_tool("evaluate", data_dir=self.path("tfrecords"),
                   model_dir=self.path("model"), split="validation",
                   output_dir=out)])

  def _export(self):
    export_dir = export.export(self.path("model"), "best")
    return ({"export_dir": export_dir},
            [_tool("export", model_dir=self.path("model"), checkpoint="best")])

  def _freeze(self):
    export_dir = self.records["export"]["result"]["export_dir"]
    os.makedirs(self.path("graphs"), exist_ok=True)
    graph = os.path.join(export_dir, export.INFERENCE_GRAPH)
    ckpt = os.path.join(export_dir, export.CHECKPOINT)
    out = self.path("graphs", "frozen.pb")
    freeze.freeze_graph(graph, ckpt, out, [OUTPUT_NODE])
    return ({"frozen": out, "bytes": os.path.getsize(out)},
            [_tool("freeze", input_graph=graph, input_checkpoint=ckpt,
                   input_binary=True, output_graph=out,
                   output_node_names=OUTPUT_NODE)])

  def _summarize(self):
    frozen = self.path("graphs", "frozen.pb")
    lines = summarize.summarize(graph_io.load_graph_def(frozen), frozen)
    out = self.path("graphs", "summary.txt")
    atomic_files.atomic_write(out, "\n".join(lines) + "\n")
    return {"summary": out}, [_tool("summarize", in_graph=frozen)]

  def _transform(self):
    frozen = self.path("graphs", "frozen.pb")
    out = self.path("graphs", "transformed.pb")
    result = registry.transform_graph(graph_io.load_graph_def(frozen),
                                      ["input"], [OUTPUT_NODE],
                                      self.transforms)
    graph_io.save_graph_def(result, out)
    return ({"transformed": out, "bytes": os.path.getsize(out)},
            [_tool("transform", in_graph=frozen, out_graph=out, inputs="input",
                   outputs=OUTPUT_NODE, transforms=self.transforms)])

  def _tflite(self):
    # Converted from the frozen graph: the transformed one has its weights
    # rounded, which would add round_weights' error to every variant.
    frozen = self.path("graphs", "frozen.pb")
    os.makedirs(self.path("tflite"), exist_ok=True)
    shape = f"1,{self.size},{self.size},3"
    results, commands = {}, []
    for variant in TFLITE_VARIANTS:
      out = self.path("tflite", f"alexnet_{variant}.tflite")
      quantize = "none" if variant == "float" else variant
      extra = {}
      if variant == "int8":
        extra = {"representative_data": self.path("tfrecords"),
                 "representative_samples":
                     self.settings["representative_samples"],
                 "inference_input_type": "QUANTIZED_UINT8"}
      info = lite_convert.convert_frozen_graph(
          frozen, out, input_shapes=[[1, self.size, self.size, 3]],
          quantize=quantize, **extra)
      results[variant] = {"path": out, "bytes": info["size_bytes"]}
      commands.append(_tool("convert", input_file=frozen, output_file=out,
                            input_arrays="input", output_arrays=OUTPUT_NODE,
                            input_shapes=shape, quantize=quantize, **extra))
    return results, commands

  def models(self):
    """[(name, path)] of every model variant, the float frozen graph first."""
    models = [("frozen", self.path("graphs", "frozen.pb")),
              ("transformed", self.path("graphs", "transformed.pb"))]
    models += [(f"tflite_{v}", self.path("tflite", f"alexnet_{v}.tflite"))
               for v in TFLITE_VARIANTS]
    return models

  def _compare(self):
    runs = self.settings["latency_runs"]
    rows = compare.compare_models(self.models(), self.path("tfrecords"),
                                  "validation", latency_runs=runs)
    md, csv_path = compare.write_tables(
        rows, self.dir, f"Model variants on the validation split")
    spec = ",".join(f"{n}={p}" for n, p in self.models())
    return ({"rows": rows, "markdown": md, "csv": csv_path},
            [_tool("compare_models", data_dir=self.path("tfrecords"),
                   split="validation", models=spec, output_dir=self.dir,
                   latency_runs=runs)])

  def _report(self):
    paths = run_report.write(self)
    return {"files": paths}, []


def _tool(name, **flags):
  """The command line of tools/NAME.py with these flags, shell-quoted."""
  parts = ["python", f"tools/{name}.py"]
  for key, value in flags.items():
    if isinstance(value, bool):
      parts.append(f"--{key}" if value else f"--no{key}")
    else:
      parts.append(f"--{key}={value}")
  return " ".join(shlex.quote(p) for p in parts)


def _find_training_images(folder):
  """The Final_Training/Images folder at or below `folder`."""
  for candidate in (folder, os.path.join(folder, "Images"),
                    os.path.join(folder, "Final_Training", "Images"),
                    os.path.join(folder, "GTSRB", "Final_Training", "Images")):
    if os.path.isdir(os.path.join(candidate, "00000")):
      return candidate
  return folder


def _check_training_images(images_dir, data):
  if not os.path.isdir(os.path.join(images_dir, "00000")):
    raise UserError(f"--data={data} is not GTSRB: expected the official "
                    "training layout GTSRB/Final_Training/Images/000NN/ with "
                    "GT-000NN.csv (a zip or a folder)")


def _read_json(path):
  try:
    with open(path) as f:
      return json.load(f)
  except (OSError, ValueError):
    return None


def _jsonable(value):
  return json.loads(json.dumps(value, default=str))


def python_command():
  """How this process was started, for the report's reproduce line."""
  return " ".join(shlex.quote(a) for a in ["python"] + sys.argv)
