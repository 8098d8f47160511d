"""Typed, frozen settings: the model, its training and its conversion.

Every default lives here, once. `ModelConfig` is what defines a trained
network; it is what model_dir/model_config.json holds, and nothing else.
`TrainConfig` is how it was trained, `ClusterConfig` which TensorFlow
cluster task trains it, `ConvertConfig` how a frozen graph becomes a
.tflite file. Each field's `help` is the help text of the flag of
the same name (tools define their flags from these tables, so the flag
names, which follow TensorFlow's original tools, map one to one onto the
fields). Values are checked when a config is made: a bad one is a one-line
UserError naming the flag and the allowed range, before any work starts.
"""

import dataclasses
import typing

from alexnet.core.errors import UserError

NETWORKS = ("alexnet",)
NORMALIZATIONS = ("lrn", "batch_norm")
INPUT_STANDARDIZATIONS = ("per_image", "fixed", "equalize")
LR_SCHEDULES = ("constant", "cosine", "step")
QUANTIZE_MODES = ("none", "dynamic", "float16", "int8")
PRECISIONS = ("float32", "bfloat16")
CLASS_BALANCES = ("none", "sampling", "loss")
MIN_IMAGE_SIZE = 67  # AlexNet's smallest input for which pool5 is still 1x1


def _field(default, help_text, choices=None, low=None, high=None,
           low_open=False, high_open=False):
  """A dataclass field whose metadata describes its flag and allowed values."""
  return dataclasses.field(default=default, metadata={
      "help": help_text, "choices": choices, "low": low, "high": high,
      "low_open": low_open, "high_open": high_open})


def _check(config):
  """UserError naming the first field outside its allowed values."""
  for f in dataclasses.fields(config):
    value, meta = getattr(config, f.name), f.metadata
    if value is None:
      continue
    if meta["choices"] is not None and value not in meta["choices"]:
      raise UserError(f"--{f.name}={value} is not one of "
                      f"{', '.join(map(str, meta['choices']))}")
    problem = range_problem(value, meta)
    if problem:
      raise UserError(f"--{f.name}={value} is out of range: {problem}")


def range_problem(value, meta):
  """None if `value` is within meta's low/high (each end open if
  low_open/high_open; None: unbounded), else what it must be ("it must be
  >= 1"). The one range rule of every numeric setting and flag."""
  low, high = meta.get("low"), meta.get("high")
  if value is None or (low is None and high is None):
    return None
  too_low = low is not None and (value <= low if meta.get("low_open")
                                 else value < low)
  too_high = high is not None and (value >= high if meta.get("high_open")
                                   else value > high)
  if too_low or too_high:
    return f"it must be {_range_text(meta)}"
  return None


def _range_text(meta):
  low, high = meta.get("low"), meta.get("high")
  if high is None:
    return f"{'>' if meta.get('low_open') else '>='} {low}"
  if low is None:
    return f"{'<' if meta.get('high_open') else '<='} {high}"
  return (f"in {'(' if meta.get('low_open') else '['}{low}, {high}"
          f"{')' if meta.get('high_open') else ']'}")


class _Checked:
  """Checks the values when made; `replace` makes a checked copy."""

  def __post_init__(self):
    _check(self)

  def replace(self, **changes):
    unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
    if unknown:
      raise UserError(f"{type(self).__name__} has no setting "
                      f"{', '.join(unknown)}")
    return dataclasses.replace(self, **changes)

  def to_dict(self):
    return {f.name: (list(v) if isinstance(v, tuple) else v)
            for f in dataclasses.fields(self)
            for v in [getattr(self, f.name)]}

  @classmethod
  def from_dict(cls, values, source):
    """From a dict (a JSON file, a preset); UserError naming `source` for
    keys that are not settings."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
      raise UserError(f"{source}: unknown {cls.__name__} keys "
                      f"{', '.join(unknown)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v
                  for k, v in values.items()})


@dataclasses.dataclass(frozen=True)
class ModelConfig(_Checked):
  """What defines a trained network (model_dir/model_config.json)."""
  network: str = _field("alexnet", "Network (nets_factory name).", NETWORKS)
  image_size: int = _field(227, "Input side in pixels (at least 67).",
                           low=MIN_IMAGE_SIZE)
  num_classes: int = _field(43, "Output classes (from the dataset).", low=2)
  normalization: str = _field("lrn", "LRN (the paper) or batch norm.",
                              NORMALIZATIONS)
  input_standardization: str = _field(
      "per_image", "per_image: zero mean, unit variance per image; fixed: "
      "(x - 127.5) / 127.5; equalize: histogram equalization of each "
      "channel, then per_image.", INPUT_STANDARDIZATIONS)
  crop_roi: bool = _field(False, "Crop images to the sign's ROI when read.")
  fc_units: int = _field(4096, "Units of fc6 and fc7 (4096 in the paper; "
                         "fewer make a smaller, faster model).", low=1)
  spatial_transformer: bool = _field(
      False, "A spatial transformer in front of the network: a small "
      "localization network predicts an affine map through which the image "
      "is resampled (Jaderberg et al. 2015).")
  fake_quant: bool = _field(False, "Fake quantization in the graph "
                            "(quantization-aware training; set by "
                            "--quantize_delay).")
  # The label of each output, in order (GTSRB's sign names by default).
  class_names: typing.Tuple[str, ...] = _field((), "Class names.")


@dataclasses.dataclass(frozen=True)
class TrainConfig(_Checked):
  """How a network is trained (tools/train.py's flags)."""
  batch_size: int = _field(64, "Images per step (from each worker, in a "
                           "cluster).", low=1)
  epochs: int = _field(20, "Passes over the training split.", low=1)
  max_steps: typing.Optional[int] = _field(
      None, "Total steps; overrides --epochs.", low=1)
  learning_rate: float = _field(1e-4, "Adam's (peak) learning rate.", low=0,
                                low_open=True)
  lr_schedule: str = _field("constant", "Learning-rate schedule after "
                            "warm-up.", LR_SCHEDULES)
  warmup_epochs: float = _field(0.0, "Linear warm-up length in epochs.",
                                low=0)
  decay_epochs: float = _field(10.0, "step schedule: epochs per decay.",
                               low=0, low_open=True)
  decay_rate: float = _field(0.1, "step schedule: factor per decay.", low=0,
                             high=1, low_open=True)
  label_smoothing: float = _field(0.0, "Label smoothing (0: none).", low=0,
                                  high=1, high_open=True)
  moving_average_decay: float = _field(
      0.0, "Decay of the weights' moving averages, which validation and "
      "export then use (0: none; e.g. 0.999).", low=0, high=1,
      high_open=True)
  dropout_rate: float = _field(0.5, "Dropout rate of fc6 and fc7.", low=0,
                               high=1, high_open=True)
  weight_decay: float = _field(5e-4, "L2 weight decay.", low=0)
  augment: bool = _field(False, "Random rotation, scale, shift, brightness "
                         "and contrast.")
  augment_color: bool = _field(False, "With --augment, also random gamma and "
                               "saturation.")
  # Issue 28's augmentations, each on its own or with --augment (training
  # only; alexnet.datasets.preprocessing has their ranges).
  augment_illumination: bool = _field(
      False, "Random uneven illumination (a brightness gradient across the "
      "image) and colour cast.")
  augment_blur: bool = _field(False, "Random Gaussian blur.")
  augment_resample: bool = _field(
      False, "Down-sampling to a random smaller size before the resize to "
      "--image_size (the few pixels of a distant sign).")
  augment_perspective: bool = _field(
      False, "Random projective warp (each corner moved), in the resize's "
      "sampling pass.")
  augment_occlusion: bool = _field(
      False, "Random erasing: a rectangle of one random colour on some "
      "images.")
  class_balance: str = _field(
      "none", "Rare classes: sampling draws training images with equal "
      "probability for every class (an epoch keeps its image count); loss "
      "weights the cross-entropy by inverse class frequency (mean 1 over the "
      "training images).", CLASS_BALANCES)
  seed: typing.Optional[int] = _field(None, "Seed for repeatable runs.",
                                      low=0)
  save_checkpoints_secs: int = _field(600, "Checkpoint interval.", low=1)
  save_checkpoints_steps: typing.Optional[int] = _field(
      None, "Checkpoint interval in steps; overrides "
      "--save_checkpoints_secs.", low=1)
  save_summary_steps: int = _field(100, "TensorBoard interval.", low=1)
  log_every_n_steps: int = _field(100, "Logged loss line interval.", low=1)
  keep_checkpoints: int = _field(3, "Recent checkpoints kept.", low=1)
  num_threads: int = _field(0, "Op threads (0: all cores).", low=0)
  precision: str = _field(
      "float32", "Arithmetic of the training step: bfloat16 lets grappler's "
      "oneDNN auto-mixed-precision rewrite run it in bfloat16 (CPUs with "
      "AVX512_BF16 or AMX); weights, checkpoints and exports stay float32.",
      PRECISIONS)
  quantize_delay: int = _field(
      -1, "Quantization-aware training: fake quantization of weights and "
      "activations from this global step on (-1: off; 0 when fine-tuning "
      "a float model).", low=-1)
  init_checkpoint: typing.Optional[str] = _field(
      None, "Start from this model_dir's best (else latest) checkpoint, or "
      "this checkpoint prefix, when --model_dir has none (e.g. a float "
      "model to fine-tune with --quantize_delay).")


@dataclasses.dataclass(frozen=True)
class ConvertConfig(_Checked):
  """How a frozen graph becomes a .tflite model (tools/convert.py)."""
  quantize: str = _field("none", "none (float32), dynamic (int8 weights), "
                         "float16, or int8 (full integer, calibrated).",
                         QUANTIZE_MODES)
  representative_samples: int = _field(
      100, "Calibration images for int8.", low=1)
  representative_split: str = _field(
      "train", "Split of --representative_data to calibrate on.",
      ("train", "validation", "test"))
  float_layers: typing.Tuple[str, ...] = _field(
      (), "int8 only: network layers (e.g. conv1) kept float32, and/or "
      "auto:N, the N with the largest quantization error.")
  lower_lrn: bool = _field(False, "Rewrite LRN with integer-capable ops so "
                           "int8 models quantize it.")


@dataclasses.dataclass(frozen=True)
class PipelineConfig(_Checked):
  """What tools/pipeline.py adds around training: the data and the
  comparison of the model files. (Its int8 variants take ConvertConfig's
  representative_samples; with float_layers set, an int8 variant with those
  layers float is made beside the all-int8 one.)"""
  tracks_per_class: int = _field(
      20, "Synthetic data: training tracks per class.", low=1)
  frames_per_track: int = _field(5, "Synthetic data: frames per track.",
                                 low=1)
  test_tracks_per_class: int = _field(
      5, "Synthetic data: tracks per class of the rendered test set (0: "
      "none).", low=0)
  num_shards: int = _field(2, "TFRecord shards per split.", low=1)
  validation_fraction: float = _field(
      0.25, "Share of each class's tracks held out for validation (0: none, "
      "train on every track; best/ then holds the last epoch).", low=0,
      high=1, high_open=True)
  folds: typing.Optional[int] = _field(
      None, "Track-stratified K-fold split: each class's tracks dealt "
      "evenly across this many folds (replaces --validation_fraction; "
      "tools/cross_validate.py trains every fold).", low=2)
  fold: typing.Optional[int] = _field(
      None, "With --folds: the fold held out for validation (0 to folds-1).",
      low=0)
  latency_runs: int = _field(50, "Timed runs per model and thread count.",
                             low=0)
  qat_epochs: int = _field(
      0, "Quantization-aware fine-tuning of the trained model for this many "
      "epochs, converted as the TFLite variant qat_int8 (0: none).", low=0)
  qat_learning_rate: float = _field(
      1e-5, "Constant learning rate of the quantization-aware fine-tuning.",
      low=0, low_open=True)

  def __post_init__(self):
    super().__post_init__()
    check_fold(self.folds, self.fold)


def check_fold(folds, fold):
  """UserError unless folds and fold are both unset, or fold < folds."""
  if folds is None and fold is None:
    return
  if folds is None or fold is None:
    raise UserError("--folds and --fold go together: pass --folds=K "
                    "--fold=I (0 <= I < K), or neither")
  if fold >= folds:
    raise UserError(f"--fold={fold} is out of range: with --folds={folds} it "
                    f"must be in [0, {folds - 1}]")


@dataclasses.dataclass(frozen=True)
class ClusterConfig(_Checked):
  """Where this task sits in a TensorFlow cluster (the flags of TF1's
  mnist_replica.py; alexnet.training.cluster also reads TF_CONFIG). All unset:
  one process."""
  ps_hosts: typing.Tuple[str, ...] = _field(
      (), "Comma-separated host:port of the parameter servers.")
  worker_hosts: typing.Tuple[str, ...] = _field(
      (), "Comma-separated host:port of the workers (the first is the "
      "chief).")
  job_name: typing.Optional[str] = _field(None, "This task's job: ps or "
                                          "worker.", ("ps", "worker"))
  task_index: typing.Optional[int] = _field(
      None, "This task's index in its job's host list.", low=0)
  cluster_timeout_secs: int = _field(
      300, "How long a task waits for the cluster's other tasks.", low=1)


def flag_fields(config_class):
  """[(name, type, default, help, choices, range)] of a config's fields, for
  tools that define flags from them; range is the field's metadata (low,
  high, low_open, high_open) for range_problem."""
  hints = typing.get_type_hints(config_class)
  rows = []
  for f in dataclasses.fields(config_class):
    rows.append((f.name, hints[f.name], f.default, f.metadata["help"],
                 f.metadata["choices"], dict(f.metadata)))
  return rows


# The configs that runs save under these keys of their settings records
# (tools/cross_validate.py's cross_validation.json, tools/pipeline.py's
# stage records), as to_dict() gives them.
SAVED_CONFIGS = {"model": ModelConfig, "train": TrainConfig,
                 "convert": ConvertConfig}


def with_defaults(settings):
  """A saved settings record with each config of SAVED_CONFIGS read back
  through its class: a setting added since the record was written takes its
  default, which is how that run ran, so comparing the record with today's
  settings finds no change. A config that no longer reads (a setting since
  removed) is left as it was, and so differs."""
  settings = dict(settings)
  for key, config_class in SAVED_CONFIGS.items():
    if isinstance(settings.get(key), dict):
      try:
        settings[key] = config_class.from_dict(settings[key], key).to_dict()
      except UserError:
        pass
  return settings
