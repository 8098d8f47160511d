"""The original project's whole recipe as one resumable chain of stages.

  data → convert → tfrecords → train → evaluate → export → freeze → summarize
  → transform [→ qat] → tflite (float, dynamic, float16, int8 [, int8 with
  layers kept float] [, qat_int8]) → compare → report

With qat_epochs (PipelineConfig) the "qat" stage fine-tunes the trained
model quantization-aware (tools/train.py --init_checkpoint
--quantize_delay=0) into RUN/model_qat and freezes it with its ranges
(graphs/frozen_qat.pb); the TFLite variant qat_int8 is converted from those
ranges (--inference_type=QUANTIZED_UINT8, no representative data), and both
join every comparison table.

Each stage calls the same library function as its own tool and records the
equivalent command line, so every step can be rerun alone. A stage finishes
by writing `RUN/stages/NAME.json` (its settings, result and time) after its
outputs are complete; a rerun skips stages whose record exists with the same
settings, and `force` redoes them. Outputs are written atomically, so an
interrupted run resumes at the stage it was in (training from its latest
checkpoint).

When the data has an official test set (Final_Test/Images with the labeled
GT-final_test.csv, as tools/download_gtsrb.py leaves it, or `test_data`), or
the synthetic data renders one, the TFRecords get a test split and every
model is evaluated on it beside the validation tracks. With folds and fold
(PipelineConfig) the validation tracks are that fold of a track-stratified
K-fold split; with validation_fraction 0 there are none (the final model,
trained on every track with a schedule chosen by tools/cross_validate.py):
best/ then holds the last epoch, and evaluation and comparison run on the
test split alone.
"""

import json
import os
import shlex
import shutil
import sys
import time

from alexnet.core import atomic_files
from alexnet.core import config
from alexnet.core.errors import UserError
from alexnet.core.session import check_precision
from alexnet.datasets import download
from alexnet.datasets import gtsrb_layout
from alexnet.datasets import jpeg_folders
from alexnet.datasets import synthetic_gtsrb
from alexnet.datasets import tfrecord_writer
from alexnet.estimator import checkpoints
from alexnet.evaluation import plots
from alexnet.evaluation import reports
from alexnet.graph_tools import freeze
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry
from alexnet.graph_tools import summarize
from alexnet.lite import converter
from alexnet.pipeline import presets
from alexnet.pipeline import report
from alexnet.runner import comparison
from alexnet.serving import export
from alexnet.training import trainer

OUTPUT_NODE = "probabilities"
QAT_VARIANT = "qat_int8"  # with PipelineConfig.qat_epochs
QAT_FROZEN = "frozen_qat.pb"
SPLITS = ("validation", "test")


class Pipeline:
  """Runs the stages into `output_dir`; see the module docstring.

  Args:
    output_dir: the run folder.
    data: "synthetic", a GTSRB zip, or a folder holding the official layout.
    preset: a presets.PRESETS key; `overrides` ({field: value}) replace
      single settings of it (any field of the three configs).
    seed: for data generation, the split, and training (unless the preset
      sets the training seed).
    force: redo stages even if complete.
    log: callable taking one line (the stage start/end lines).
    test_data: a GTSRB Final_Test/Images folder (or a zip or folder holding
      one) with the labeled GT-final_test.csv, if not in `data`.
  """

  def __init__(self, output_dir, data="synthetic", preset="cpu-fast", seed=0,
               force=False, overrides=None, log=print, test_data=None):
    self.model, self.train, self.convert, self.settings = presets.resolve(
        preset, overrides)
    if self.train.seed is None:
      self.train = self.train.replace(seed=seed)
    check_precision(self.train.precision)  # before any stage's work
    layers = self.convert.float_layers
    if len(layers) != len(set(layers)):
      raise UserError(f"--float_layers={','.join(layers)} names a layer twice")
    self.dir = os.path.abspath(output_dir)
    self.data = data
    self.test_data = test_data
    self.preset = preset
    self.overrides = dict(overrides or {})
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
    return self.model.image_size

  def stages(self):
    """[(name, settings, function)] in order; settings decide re-running."""
    s = self.settings
    return [
        ("data", {"data": self.data, "test_data": self.test_data,
                  "seed": self.seed, "tracks_per_class": s.tracks_per_class,
                  "frames_per_track": s.frames_per_track,
                  "test_tracks_per_class": s.test_tracks_per_class},
         self._data),
        ("convert", {"crop_roi_at_conversion": not self.model.crop_roi},
         self._convert),
        ("tfrecords", {"num_shards": s.num_shards, "seed": self.seed,
                       "validation_fraction": s.validation_fraction,
                       **self._fold_flags()},
         self._tfrecords),
        ("train", {"model": self.model.to_dict(),
                   "train": self.train.to_dict()}, self._train),
        ("evaluate", {}, self._evaluate),
        ("export", {}, self._export),
        ("freeze", {}, self._freeze),
        ("summarize", {}, self._summarize),
        ("transform", {"transforms": self.transforms}, self._transform),
        *([("qat", {"qat_epochs": s.qat_epochs,
                    "qat_learning_rate": s.qat_learning_rate}, self._qat)]
          if s.qat_epochs else []),
        ("tflite", {"variants": self.tflite_variants(),
                    "convert": self.convert.to_dict()}, self._tflite),
        ("compare", {"latency_runs": s.latency_runs}, self._compare),
        ("report", {}, self._report),
    ]

  def tflite_variants(self):
    """{name: (quantize, float layers)} of the TFLite models made."""
    variants = {"float": ("none", ()), "dynamic": ("dynamic", ()),
                "float16": ("float16", ()), "int8": ("int8", ())}
    layers = self.convert.float_layers
    if layers:
      name = "_".join(layers).replace(":", "")  # auto:2 -> auto2
      variants[f"int8_float_{name}"] = ("int8", tuple(layers))
    if self.settings.qat_epochs:
      # From the quantization-aware model's ranges ("qat" stage).
      variants[QAT_VARIANT] = ("int8", "trained ranges")
    return variants

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
      # A setting added since the record was written takes its default.
      if (not redo and previous is not None and
          config.with_defaults(previous["settings"]) == _jsonable(settings)):
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
    s = self.settings
    if self.data == "synthetic":
      summary = synthetic_gtsrb.generate(
          out, tracks_per_class=s.tracks_per_class,
          frames_per_track=s.frames_per_track, seed=self.seed)
      commands = [_tool("make_synthetic_gtsrb", output_dir=out,
                        tracks_per_class=s.tracks_per_class,
                        frames_per_track=s.frames_per_track, seed=self.seed)]
      result = {"images_dir": summary["images_dir"],
                "images": summary["total"],
                "contact_sheet": summary["contact_sheet"], "test_dir": None}
      if s.test_tracks_per_class and not self.test_data:
        test_out = os.path.join(out, "test")
        test = synthetic_gtsrb.generate(
            test_out, tracks_per_class=s.test_tracks_per_class,
            frames_per_track=s.frames_per_track, seed=self.seed,
            layout="test")
        commands.append(_tool(
            "make_synthetic_gtsrb", output_dir=test_out, layout="test",
            tracks_per_class=s.test_tracks_per_class,
            frames_per_track=s.frames_per_track, seed=self.seed))
        result["test_dir"] = test["images_dir"]
    else:
      images_dir, command = self._gtsrb_source(self.data, out, "data")
      images = gtsrb_layout.find_images(images_dir, "train")
      if images is None:
        raise UserError(f"--data={self.data} is not GTSRB: expected the "
                        "official training layout GTSRB/Final_Training/Images/"
                        "000NN/ with GT-000NN.csv (a zip or a folder)")
      commands = [command]
      sheet = os.path.join(out, synthetic_gtsrb.CONTACT_SHEET)
      synthetic_gtsrb.contact_sheet(images, sheet, seed=self.seed)
      result = {"images_dir": images, "contact_sheet": sheet,
                "test_dir": gtsrb_layout.find_images(images_dir, "test")}
    if self.test_data:
      test_dir, command = self._gtsrb_source(
          self.test_data, os.path.join(out, "test"), "test_data")
      result["test_dir"] = gtsrb_layout.find_images(test_dir, "test")
      if result["test_dir"] is None:
        raise UserError(f"--test_data={self.test_data} holds no GTSRB test "
                        "set: expected Final_Test/Images with the labeled "
                        f"{gtsrb_layout.TEST_GT_CSV}")
      commands.append(command)
    return result, commands

  def _gtsrb_source(self, source, out, flag):
    """(folder holding the GTSRB tree, command) of a zip (extracted into
    `out`) or a folder."""
    path = os.path.abspath(source)
    if os.path.isfile(path):
      download.download_gtsrb(out, local_archives=[path])
      return out, _tool("download_gtsrb", output_dir=out, archive=path)
    if os.path.isdir(path):
      os.makedirs(out, exist_ok=True)
      return path, f"# using the GTSRB images in {path}"
    raise UserError(f"--{flag}={source}: not found; pass 'synthetic', a "
                    "GTSRB zip or a folder with the official layout")

  def _convert(self):
    data = self.records["data"]["result"]
    # Cropped here, once, unless the model crops when reading (then the
    # TFRecords keep the full images and their ROI boxes).
    crop = not self.model.crop_roi
    result, commands = {}, []
    for name, source in (("converted", data["images_dir"]),
                         ("converted_test", data.get("test_dir"))):
      if not source:
        continue
      out = self._fresh(self.path(name))
      converted = jpeg_folders.convert(source, out, crop_roi=crop)
      result[name] = {"images": converted.num_images, "output_dir": out}
      commands.append(_tool("convert_dataset", input_dir=source,
                            output_dir=out, crop_roi=crop))
    return result, commands

  def _tfrecords(self):
    out = self._fresh(self.path("tfrecords"))
    s = self.settings
    flags = {"num_shards": s.num_shards, "seed": self.seed}
    split = ({"validation_fraction": s.validation_fraction}
             if s.folds is None else self._fold_flags())
    manifest = tfrecord_writer.build(self.path("converted"), out, **split,
                                     **flags)
    commands = [_tool("build_tfrecord", input_dir=self.path("converted"),
                      output_dir=out, **split, **flags)]
    if "converted_test" in self.records["convert"]["result"]:
      manifest = tfrecord_writer.build(self.path("converted_test"), out,
                                       **flags)
      commands.append(_tool("build_tfrecord",
                            input_dir=self.path("converted_test"),
                            output_dir=out, **flags))
    counts = {k: v["count"] for k, v in manifest["splits"].items()}
    return {"splits": counts}, commands

  def _fold_flags(self):
    """{folds, fold} when the run validates on one fold, else {}."""
    s = self.settings
    return {} if s.folds is None else {"folds": s.folds, "fold": s.fold}

  @property
  def splits(self):
    """The evaluated splits this run's TFRecords have (none of validation
    with validation_fraction 0, the final model on every track)."""
    counts = self.records["tfrecords"]["result"]["splits"]
    return [s for s in SPLITS if counts.get(s)]

  def _train(self):
    model_dir = self.path("model")
    # Resume an interrupted training only on the very same data.
    if self.ran:
      self._fresh(model_dir)
    step = trainer.train(self.path("tfrecords"), model_dir, self.model,
                         self.train)
    plots.plot_training(model_dir, model_dir)
    best = checkpoints.read_best(model_dir)
    return ({"step": step, "best": best},
            [_tool("train", data_dir=self.path("tfrecords"),
                   model_dir=model_dir, **_train_flags(self.model, self.train),
                   export=False)])

  def _evaluate(self):
    result, commands = {}, []
    for split in self.splits:
      out = self._fresh(self.path(f"evaluation_{split}"))
      evaluation = reports.evaluate_model_dir(
          self.path("model"), self.path("tfrecords"), split, out)
      result[split] = {k: evaluation[k]
                       for k in ("top1", "top5", "loss", "count")}
      commands.append(_tool("evaluate", data_dir=self.path("tfrecords"),
                            model_dir=self.path("model"), split=split,
                            output_dir=out))
    return result, commands

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
    stats = []
    result = registry.transform_graph(graph_io.load_graph_def(frozen),
                                      ["input"], [OUTPUT_NODE],
                                      self.transforms, stats=stats)
    graph_io.save_graph_def(result, out)
    # As dicts: the report rebuilds the TransformRecords from the JSON.
    return ({"transformed": out, "bytes": os.path.getsize(out),
             "steps": [record._asdict() for record in stats]},
            [_tool("transform", in_graph=frozen, out_graph=out, inputs="input",
                   outputs=OUTPUT_NODE, transforms=self.transforms,
                   report=True)])

  def _qat(self):
    """Quantization-aware fine-tuning of the trained model, exported and
    frozen with its fake-quant ops (graphs/frozen_qat.pb)."""
    s = self.settings
    model_dir = self.path("model_qat")
    if self.ran:
      self._fresh(model_dir)
    train = self.train.replace(
        epochs=s.qat_epochs, quantize_delay=0,
        init_checkpoint=self.path("model"),
        learning_rate=s.qat_learning_rate, lr_schedule="constant",
        warmup_epochs=0.0)
    step = trainer.train(self.path("tfrecords"), model_dir, self.model, train)
    which = "best" if checkpoints.read_best(model_dir) else "latest"
    export_dir = export.export(model_dir, which)
    graph = os.path.join(export_dir, export.INFERENCE_GRAPH)
    ckpt = os.path.join(export_dir, export.CHECKPOINT)
    out = self.path("graphs", QAT_FROZEN)
    freeze.freeze_graph(graph, ckpt, out, [OUTPUT_NODE])
    return ({"step": step, "best": checkpoints.read_best(model_dir),
             "frozen": out},
            [_tool("train", data_dir=self.path("tfrecords"),
                   model_dir=model_dir, **_train_flags(self.model, train),
                   export=False),
             _tool("export", model_dir=model_dir, checkpoint=which),
             _tool("freeze", input_graph=graph, input_checkpoint=ckpt,
                   input_binary=True, output_graph=out,
                   output_node_names=OUTPUT_NODE)])

  def _tflite(self):
    # Converted from the frozen graph: the transformed one has its weights
    # rounded, which would add round_weights' error to every variant.
    frozen = self.path("graphs", "frozen.pb")
    os.makedirs(self.path("tflite"), exist_ok=True)
    shape = f"1,{self.size},{self.size},3"
    results, commands = {}, []
    for variant, (quantize, layers) in self.tflite_variants().items():
      out = self.path("tflite", f"alexnet_{variant}.tflite")
      if variant == QAT_VARIANT:
        qat_frozen = self.path("graphs", QAT_FROZEN)
        info = converter.convert_frozen_graph(
            qat_frozen, out, input_shapes=[[1, self.size, self.size, 3]],
            inference_type="QUANTIZED_UINT8")
        results[variant] = {"path": out, "bytes": info["size_bytes"]}
        commands.append(_tool("convert", input_file=qat_frozen,
                              output_file=out, input_arrays="input",
                              output_arrays=OUTPUT_NODE, input_shapes=shape,
                              inference_type="QUANTIZED_UINT8"))
        continue
      extra = {}
      if quantize == "int8":
        extra = {"representative_data": self.path("tfrecords"),
                 "representative_samples": self.convert.representative_samples,
                 "representative_split": self.convert.representative_split,
                 "lower_lrn": self.convert.lower_lrn,
                 "inference_input_type": "QUANTIZED_UINT8",
                 "crop_roi": self.model.crop_roi, "layer_report": True}
        if layers:
          extra["float_layers"] = layers
      info = converter.convert_frozen_graph(
          frozen, out, input_shapes=[[1, self.size, self.size, 3]],
          quantize=quantize, **extra)
      results[variant] = {"path": out, "bytes": info["size_bytes"]}
      if info["layer_errors"]:
        results[variant].update(
            {k: info[k] for k in ("layer_errors", "float_layers",
                                  "layer_errors_png")})
      if layers:
        extra["float_layers"] = ",".join(layers)
      commands.append(_tool("convert", input_file=frozen, output_file=out,
                            input_arrays="input", output_arrays=OUTPUT_NODE,
                            input_shapes=shape, quantize=quantize, **extra))
    return results, commands

  def models(self):
    """[(name, path)] of every model variant, the float frozen graph first."""
    models = [("frozen", self.path("graphs", "frozen.pb")),
              ("transformed", self.path("graphs", "transformed.pb"))]
    if self.settings.qat_epochs:
      models.append(("frozen_qat", self.path("graphs", QAT_FROZEN)))
    models += [(f"tflite_{v}", self.path("tflite", f"alexnet_{v}.tflite"))
               for v in self.tflite_variants()]
    return models

  def _compare(self):
    runs = self.settings.latency_runs
    spec = ",".join(f"{n}={p}" for n, p in self.models())
    result, commands = {}, []
    for split in self.splits:
      # Latency does not depend on the images: timed on the first split only.
      timed = runs if split == self.splits[0] else 0
      rows = comparison.compare_models(
          self.models(), self.path("tfrecords"), split, latency_runs=timed,
          crop_roi=self.model.crop_roi)
      md, csv_path = comparison.write_tables(
          rows, self.path(f"comparison_{split}"),
          f"Model variants on the {split} split")
      result[split] = {"rows": rows, "markdown": md, "csv": csv_path}
      commands.append(_tool(
          "compare_models", data_dir=self.path("tfrecords"), split=split,
          models=spec, output_dir=self.path(f"comparison_{split}"),
          latency_runs=timed, crop_roi=self.model.crop_roi))
    return result, commands

  def _report(self):
    paths = report.write(self)
    return {"files": paths}, []


def _train_flags(model, train):
  """tools/train.py's flags for a ModelConfig and TrainConfig (the dataset
  gives the classes; --quantize_delay gives fake_quant)."""
  flags = {k: v for k, v in {**model.to_dict(), **train.to_dict()}.items()
           if k not in ("num_classes", "class_names", "fake_quant")
           and v is not None}
  return {k: ",".join(v) if isinstance(v, list) else v
          for k, v in flags.items()}


def _tool(name, **flags):
  """The command line of tools/NAME.py with these flags, shell-quoted."""
  parts = ["python", f"tools/{name}.py"]
  for key, value in flags.items():
    if isinstance(value, bool):
      parts.append(f"--{key}" if value else f"--no{key}")
    else:
      parts.append(f"--{key}={value}")
  return " ".join(shlex.quote(p) for p in parts)


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
