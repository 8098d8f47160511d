"""Frozen GraphDefs: reading one, importing it, finding its input/output
and its layers."""

import os

import tensorflow as tf

from alexnet.core.errors import UserError


def read_graph_def(graph_path):
  """Parses a frozen GraphDef; UserError if missing or not a GraphDef."""
  if not os.path.isfile(graph_path):
    raise UserError(f"{graph_path} does not exist: pass a frozen graph (.pb)")
  graph_def = tf.compat.v1.GraphDef()
  try:
    with open(graph_path, "rb") as f:
      graph_def.ParseFromString(f.read())
  except Exception as e:  # protobuf raises DecodeError and friends
    raise UserError(f"{graph_path} is not a frozen GraphDef ({e}): pass the "
                    ".pb written by freeze_graph") from None
  if not graph_def.node:
    raise UserError(f"{graph_path} holds an empty graph: pass a frozen graph")
  return graph_def


def import_graph(graph_def):
  """A new tf.Graph holding `graph_def` under its own node names."""
  graph = tf.Graph()
  with graph.as_default():
    tf.graph_util.import_graph_def(graph_def, name="")
  return graph


def io_tensors(graph, graph_path, input_name, output_name):
  """(input tensor, output tensor) by node name; UserError if absent."""
  try:
    return (graph.get_tensor_by_name(f"{input_name}:0"),
            graph.get_tensor_by_name(f"{output_name}:0"))
  except KeyError as e:
    raise UserError(f"{graph_path} has no node {e}: check --input_arrays/"
                    "--output_arrays") from None


def layer_outputs(graph_def, scope="alexnet"):
  """{layer: node name of its last op} for the nodes `scope/<layer>[/...]`,
  in graph order (constants and identities left out); `scope` defaults to
  alexnet.nets.alexnet's."""
  last = {}
  for node in graph_def.node:
    parts = node.name.split("/")
    if (parts[0] == scope and len(parts) > 1 and
        node.op not in ("Const", "Identity")):
      last[parts[1]] = node.name  # dicts keep first-insertion order
  return last
