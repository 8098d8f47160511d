"""The pipeline's presets: complete configurations, one dict each.

A preset sets any field of ModelConfig, TrainConfig, ConvertConfig (but
`quantize`, which each TFLite variant sets) and PipelineConfig
(alexnet.core.config, where every default lives; the field names are unique
across the four); `resolve` splits it, applies overrides and checks
every value. Kept free of TensorFlow so tools import it cheaply (worker
processes of the data stages re-import the tool's main module).

  cpu-fast   the synthetic default in under 10 minutes on 2 cores, AVX2-only
             ones included (14 epochs; BENCHMARKS.md has the timing).
             AlexNet's smallest input (67) keeps every layer. Batch norm (in
             place of LRN) trains faster at a 10x higher learning rate and,
             unlike LRN, has an int8 kernel (folded into the convolutions);
             many short tracks generalize better to held-out tracks than few
             long ones.
  faithful   the original project's 227x227 training, LRN, Adam at 1e-4.
  gtsrb-99   the best measured real-data recipe (BENCHMARKS.md): 99x99
             crops of the sign's ROI, histogram equalization in the graph,
             colour augmentation, moving averages of the weights, 12 epochs;
             int8 calibrated on 500 images, and a variant with conv1 kept
             float (faster where XNNPACK's int8 conv1 is slow). For
             real GTSRB (`--data=GTSRB_Final_Training_Images.zip`).
"""

from alexnet.core.config import (ConvertConfig, ModelConfig, PipelineConfig,
                                 TrainConfig)
from alexnet.core.errors import UserError

PRESETS = {
    "cpu-fast": {
        "tracks_per_class": 20, "frames_per_track": 5,
        "image_size": 67, "normalization": "batch_norm", "batch_size": 64,
        "epochs": 14, "learning_rate": 1e-3, "lr_schedule": "cosine",
        "warmup_epochs": 1.0, "augment": True,
        "num_shards": 2, "validation_fraction": 0.25,
        "representative_samples": 100, "latency_runs": 50,
    },
    "faithful": {
        "tracks_per_class": 30, "frames_per_track": 30,
        "image_size": 227, "normalization": "lrn", "batch_size": 64,
        "epochs": 20, "learning_rate": 1e-4, "lr_schedule": "constant",
        "warmup_epochs": 0.0, "augment": True,
        "num_shards": 8, "validation_fraction": 0.2,
        "representative_samples": 300, "latency_runs": 50,
    },
    "gtsrb-99": {
        "image_size": 99, "normalization": "batch_norm",
        "input_standardization": "equalize", "crop_roi": True,
        "batch_size": 64, "epochs": 12, "learning_rate": 1e-3,
        "lr_schedule": "cosine", "warmup_epochs": 1.0, "augment": True,
        "augment_color": True, "moving_average_decay": 0.999, "seed": 1,
        "save_checkpoints_secs": 300, "log_every_n_steps": 200,
        "num_shards": 8, "validation_fraction": 0.2,
        "representative_samples": 500, "float_layers": ("conv1",),
        "latency_runs": 50,
    },
}

_CLASSES = (ModelConfig, TrainConfig, ConvertConfig, PipelineConfig)


def resolve(preset, overrides=None):
  """(ModelConfig, TrainConfig, ConvertConfig, PipelineConfig) of a preset
  (None: the configs' own defaults) with `overrides` ({field: value})
  applied; UserError for an unknown preset or field, or a value out of
  range."""
  if preset is not None and preset not in PRESETS:
    raise UserError(f"--preset={preset}: choose one of {', '.join(PRESETS)}")
  values = {**PRESETS.get(preset, {}), **(overrides or {})}
  known = set().union(*(cls.__dataclass_fields__ for cls in _CLASSES))
  known.discard("quantize")
  unknown = sorted(set(values) - known)
  if unknown:
    raise UserError(f"preset {preset}: unknown settings {', '.join(unknown)}")
  return tuple(cls(**{k: v for k, v in values.items()
                      if k in cls.__dataclass_fields__}) for cls in _CLASSES)
