"""Any model file, .pb or .tflite, on labeled images: `images` (a TFRecord split
or a GTSRB test folder), `model_files` (accuracy, agreement, size, latency) and
`comparison` (one table over model variants)."""
