"""The Estimator pattern on tf.compat.v1 graphs: `model_fn` (one graph per mode),
`input_fn` (TFRecords to tensors), and the model directory it all lives in:
`model_dir` (model_config.json), `checkpoints`, `train_log` (train_log.jsonl)."""
