"""freeze_graph, summarize_graph and the Graph Transform Tool, in Python on GraphDef.

- `graph_io`: read (text or binary, checked) and write (atomic, streamed) GraphDefs.
- `freeze`: checkpoint variables become Const nodes (like freeze_graph.py).
- `summarize`: likely inputs/outputs, op counts, parameter counts.
- `transform_parser`, `registry`: the transform_graph `--transforms` syntax and
  the pipeline that runs the transforms in `transforms/`.
"""
