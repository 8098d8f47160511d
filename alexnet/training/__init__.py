"""Training a model directory: `trainer` (MonitoredTrainingSession with its
hooks; resumes), `hooks` (progress, the training log, epoch ends), `cluster`
(the TensorFlow cluster of a distributed run), `local_cluster` (one on
127.0.0.1)."""
