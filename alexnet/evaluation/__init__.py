"""How good a checkpoint is: `checkpoint_eval` runs model_fn's EVAL graph over a
labeled set, `metrics` turns probabilities into top-1/top-5/per-class figures,
`plots` draws training curves, `reports` writes a model directory's report files."""
