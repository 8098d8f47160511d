"""Deployment from a model directory: `export` (inference graph + checkpoint for
freeze_graph, and a SavedModel), `predictor` (top-k of a SavedModel for image files)."""
