"""Deployment from a model directory: `export` (inference graph + checkpoint for
freeze_graph, and a SavedModel), `committee` (several models exported as one,
their probabilities averaged), `predictor` (top-k of a SavedModel for image
files)."""
