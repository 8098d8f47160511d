"""Graph-tool test helpers: golden cases from the C++ tool, running graphs.

Golden files come from tests/graph_tools/golden/make_golden.py (TF 2.12's
compiled Graph Transform Tool); see its docstring.
"""

import collections
import json
import os
import types

import numpy as np
import pytest
import tensorflow as tf

from alexnet.graph_tools import graph_io
from alexnet.graph_tools import registry

GOLDEN_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "golden")


def load_golden():
  with open(os.path.join(GOLDEN_DIR, "reference.json")) as f:
    return json.load(f)


def op_counts(graph_def):
  return dict(collections.Counter(node.op for node in graph_def.node))


def run_graph(graph_def, feeds, fetches):
  """Runs a GraphDef (or a tf.Graph it was imported into) in TF 2.21;
  feeds {tensor name: array}."""
  graph = graph_def
  if not isinstance(graph, tf.Graph):
    graph = tf.Graph()
    with graph.as_default():
      tf.graph_util.import_graph_def(graph_def, name="")
  # Grappler would spend seconds rewriting a graph full of large Consts.
  config = tf.compat.v1.ConfigProto()
  config.graph_options.rewrite_options.disable_meta_optimizer = True
  config.graph_options.optimizer_options.opt_level = (
      tf.compat.v1.OptimizerOptions.L0)
  with tf.compat.v1.Session(graph=graph, config=config) as session:
    return session.run(fetches, feeds)


def feed_for(graph_def, input_name, batch=2, seed=0):
  """Random values for the Placeholder `input_name` (unknown dims -> batch)."""
  node = next(n for n in graph_def.node if n.name == input_name)
  dims = [d.size if d.size >= 0 else batch
          for d in node.attr["shape"].shape.dim]
  return {input_name + ":0":
          np.random.RandomState(seed).uniform(-1, 1, dims).astype(np.float32)}


class GoldenCase:
  """One reference case: its input graph, our output and the C++ output."""

  def __init__(self, name):
    self.name = name
    self.spec = load_golden()["cases"][name]
    self.input_path = os.path.join(GOLDEN_DIR,
                                   self.spec["graph"] + ".input.pb")
    self.inputs = self.spec["inputs"].split(",")
    self.outputs = self.spec["outputs"].split(",")
    # make_golden.py writes this folder as {golden} (the eight-bit logs).
    self.transforms = self.spec["transforms"].replace("{golden}", GOLDEN_DIR)

  def load_input(self):
    return graph_io.load_graph_def(self.input_path)

  def reference(self):
    return graph_io.load_graph_def(
        os.path.join(GOLDEN_DIR, self.name + ".reference.pb"))

  def ours(self):
    return registry.transform_graph(self.load_input(), self.inputs,
                                    self.outputs, self.transforms)

  def check(self, expected_ops=None, atol=1e-5):
    """Asserts our output matches the reference: op types and node count
    (or `expected_ops` where we knowingly differ) and the same output
    values on the same random input. Returns (ours, reference)."""
    ours, reference = self.ours(), self.reference()
    if expected_ops is None:
      assert op_counts(ours) == op_counts(reference)
      assert len(ours.node) == len(reference.node)
    else:
      assert op_counts(ours) == expected_ops
    feed_graph = ours if self.inputs[0] in {n.name for n in ours.node} and (
        next(n for n in ours.node if n.name == self.inputs[0]).op ==
        "Placeholder") else self.load_input()
    got = self.outputs_of(ours, feed_graph)
    want = self.outputs_of(reference, feed_graph)
    for g, w in zip(got, want):
      np.testing.assert_allclose(g, w, atol=atol, rtol=1e-5)
    return ours, reference

  def outputs_of(self, graph_def, feed_graph=None):
    feed_graph = feed_graph if feed_graph is not None else self.load_input()
    feeds = feed_for(feed_graph, self.inputs[0])
    return run_graph(graph_def, feeds, [o + ":0" for o in self.outputs])


@pytest.fixture(scope="session")
def golden():
  return GoldenCase


def const_size(node):
  """Element count of a Const node, decoded (not from its shape)."""
  return tf.make_ndarray(node.attr["value"].tensor).size


@pytest.fixture(scope="session")
def helpers():
  return types.SimpleNamespace(op_counts=op_counts, run_graph=run_graph,
                               const_size=const_size,
                               feed_for=feed_for, load_golden=load_golden,
                               golden_dir=GOLDEN_DIR)
