"""Training a model directory: `trainer` (MonitoredTrainingSession with its
hooks; resumes), `hooks` (progress, the training log, epoch ends), `cluster`
(the TensorFlow cluster of a distributed run)."""
