"""summarize_graph's report on a graph we build and know."""

import os

from alexnet.graph_tools import graph_io
from alexnet.graph_tools import summarize


def test_report(helpers):
  path = os.path.join(helpers.golden_dir, "basic.input.pb")
  graph = graph_io.load_graph_def(path)
  lines = summarize.summarize(graph, path)
  text = "\n".join(lines)
  assert lines[0] == ("Found 1 possible inputs: (name=x, type=float(1), "
                      "shape=[?,8,8,3])")
  assert lines[1] == "No variables spotted."
  assert lines[2] == ("Found 2 possible outputs: (name=out, op=Softmax) "
                      "(name=unused_sum, op=Sum)")
  consts = [n for n in graph.node if n.op == "Const"]
  elements = sum(helpers.const_size(n) for n in consts)
  assert f"Found {elements} (" in text
  placed = sum(1 for n in graph.node if n.device == "/device:CPU:0")
  assert placed > 0
  assert f"{placed} nodes assigned to device '/device:CPU:0'" in text
  assert f"{len(consts)} Const" in text
  command = lines[-1]
  assert "--inputs=x --outputs=out,unused_sum" in command
  assert 'shape="1,8,8,3"' in command


def test_structure_lists_every_node_in_execution_order(helpers):
  graph = graph_io.load_graph_def(
      os.path.join(helpers.golden_dir, "basic.input.pb"))
  lines = summarize.structure(graph)
  assert len(lines) == len(graph.node)
  names = [line.split(" ")[0] for line in lines]
  assert names.index("conv") > names.index("w")
  assert any(line.startswith("w (Const): [], value=Tensor<") for line in lines)


def test_human_readable():
  assert summarize.human_readable(999) == "999"
  assert summarize.human_readable(60954656) == "60.95M"
