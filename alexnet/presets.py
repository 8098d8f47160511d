"""The pipeline's presets; kept free of TensorFlow so tools import it cheaply.

(Worker processes of the data stages re-import the tool's main module, so
tools/pipeline.py must not pull in TensorFlow at import time.)
"""

# cpu-fast: the synthetic default in under 10 minutes on 2 cores, AVX2-only
# ones included (14 epochs; BENCHMARKS.md has the timing). AlexNet's
# smallest input (67) keeps every layer. Batch norm (in place of LRN) trains
# faster at a 10x higher learning rate and, unlike LRN, has an int8 kernel
# (folded into the convolutions); many short tracks generalize better to
# held-out tracks than few long ones.
# faithful: the original project's 227x227 training, LRN, Adam at 1e-4.
PRESETS = {
    "cpu-fast": {
        "tracks_per_class": 20, "frames_per_track": 5,
        "image_size": 67, "normalization": "batch_norm", "batch_size": 64,
        "epochs": 14, "learning_rate": 1e-3, "lr_schedule": "cosine",
        "warmup_epochs": 1.0,
        "augment": True, "num_shards": 2, "validation_fraction": 0.25,
        "representative_samples": 100, "latency_runs": 50,
    },
    "faithful": {
        "tracks_per_class": 30, "frames_per_track": 30,
        "image_size": 227, "normalization": "lrn", "batch_size": 64,
        "epochs": 20, "learning_rate": 1e-4, "lr_schedule": "constant",
        "warmup_epochs": 0.0,
        "augment": True, "num_shards": 8, "validation_fraction": 0.2,
        "representative_samples": 300, "latency_runs": 50,
    },
}
