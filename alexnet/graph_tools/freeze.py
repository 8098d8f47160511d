"""freeze_graph on GraphDef: checkpoint values become Const nodes.

Like tensorflow/python/tools/freeze_graph.py, but without a Session: the
variables' values are read with tf.train.load_checkpoint and written straight
into the GraphDef. Only what the output nodes need is kept.

  VariableV2 / Variable  -> Const (its Identity "read" nodes stay Identities)
  VarHandleOp            -> Const
  ReadVariableOp         -> Identity (it now reads a plain tensor)
"""

import os

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils

_REF_VARIABLES = ("Variable", "VariableV2")
_RESOURCE_VARIABLES = ("VarHandleOp",)


def _checkpoint_key(node):
  """The name the Saver stored the variable under."""
  if (node.op in _RESOURCE_VARIABLES and "shared_name" in node.attr and
      node.attr["shared_name"].s):
    return node.attr["shared_name"].s.decode()
  return node.name


def _open_checkpoint(path):
  try:
    return tf.train.load_checkpoint(path)
  except (tf.errors.OpError, ValueError) as e:
    raise UserError(f"checkpoint {path} cannot be read ({type(e).__name__}): "
                    "pass a checkpoint prefix like model.ckpt-1000") from None


def _selected(name, whitelist, blacklist):
  if whitelist is not None and name not in whitelist:
    return False
  return not (blacklist is not None and name in blacklist)


def freeze_graph_def(graph_def, checkpoint_path, output_node_names,
                     variable_names_whitelist=None,
                     variable_names_blacklist=None, clear_devices=False):
  """Returns a new GraphDef with the variables the outputs need as Consts.

  Args:
    graph_def: the inference GraphDef (not modified).
    checkpoint_path: checkpoint prefix (or directory with a `checkpoint` file).
    output_node_names: list of node names to keep computing.
    variable_names_whitelist / _blacklist: iterables of variable node names
      to convert (only these) / not to convert; None means no restriction.
    clear_devices: drop device placements.
  Raises:
    UserError: unreadable checkpoint, unknown output, a variable missing
      from the checkpoint, or a resource variable used by something other
      than ReadVariableOp.
  """
  graph_io.check_names(graph_def, output_node_names, "output node")
  whitelist = set(variable_names_whitelist) if variable_names_whitelist \
      is not None else None
  blacklist = set(variable_names_blacklist) if variable_names_blacklist \
      is not None else None
  reader = _open_checkpoint(checkpoint_path)
  keep = graph_utils.needed_nodes(graph_def, output_node_names)
  frozen = tf.compat.v1.GraphDef()
  frozen.versions.CopyFrom(graph_def.versions)
  if graph_def.HasField("library"):
    frozen.library.CopyFrom(graph_def.library)
  converted_resources = set()
  for node in graph_def.node:
    if node.name not in keep:
      continue
    if (node.op in _REF_VARIABLES + _RESOURCE_VARIABLES and
        _selected(node.name, whitelist, blacklist)):
      key = _checkpoint_key(node)
      if not reader.has_tensor(key):
        raise UserError(f"variable {key} is not in checkpoint "
                        f"{checkpoint_path}: pass the checkpoint this graph "
                        "was trained with, or blacklist the variable")
      const = graph_utils.set_const(frozen.node.add(), node.name,
                                    reader.get_tensor(key),
                                    node.attr["dtype"].type)
      if not clear_devices:
        const.device = node.device
      if node.op in _RESOURCE_VARIABLES:
        converted_resources.add(node.name)
      continue
    frozen.node.add().CopyFrom(node)
  for node in frozen.node:
    if clear_devices:
      node.ClearField("device")
    reads = [graph_utils.node_name(i) for i in graph_utils.data_inputs(node)]
    if not converted_resources.intersection(reads):
      continue
    if node.op != "ReadVariableOp":
      raise UserError(f"node {node.name} ({node.op}) uses a resource "
                      "variable in a way that cannot be frozen: only "
                      "ReadVariableOp reads can become constants")
    node.op = "Identity"
    node.attr["T"].CopyFrom(node.attr["dtype"])
    del node.attr["dtype"]
  return frozen


def load_saved_model(saved_model_dir, tags):
  """(GraphDef, checkpoint prefix) of the MetaGraph with these tags."""
  path = os.path.join(saved_model_dir, "saved_model.pb")
  if not os.path.isfile(path):
    raise UserError(f"{saved_model_dir} holds no saved_model.pb: pass a "
                    "SavedModel directory")
  saved_model = saved_model_pb2.SavedModel()
  with open(path, "rb") as f:
    saved_model.ParseFromString(f.read())
  wanted = set(tags)
  for meta_graph in saved_model.meta_graphs:
    if set(meta_graph.meta_info_def.tags) == wanted:
      return (meta_graph.graph_def,
              os.path.join(saved_model_dir, "variables", "variables"))
  found = [",".join(m.meta_info_def.tags) for m in saved_model.meta_graphs]
  raise UserError(f"{saved_model_dir} has no MetaGraph tagged "
                  f"{','.join(tags)}: it has {found}; pass --saved_model_tags")


def freeze_graph(input_graph, input_checkpoint, output_graph,
                 output_node_names, input_binary=True, clear_devices=True,
                 variable_names_whitelist=None, variable_names_blacklist=None,
                 input_saved_model_dir=None, saved_model_tags=("serve",),
                 initializer_nodes=()):
  """File to file, like freeze_graph.freeze_graph; returns the frozen GraphDef.

  `initializer_nodes` are checked to exist; freeze_graph.py runs them in a
  Session for their side effects (e.g. table initialization), which a
  GraphDef-level freeze cannot reproduce, so they must not be needed for
  the variables' values.
  """
  if input_saved_model_dir:
    graph_def, checkpoint = load_saved_model(input_saved_model_dir,
                                             saved_model_tags)
    input_checkpoint = input_checkpoint or checkpoint
  else:
    if not input_graph:
      raise UserError("pass --input_graph (or --input_saved_model_dir)")
    graph_def = graph_io.load_graph_def(input_graph, binary=input_binary)
  if not input_checkpoint:
    raise UserError("pass --input_checkpoint")
  if not output_node_names:
    raise UserError("pass --output_node_names, e.g. probabilities")
  graph_io.check_names(graph_def, initializer_nodes, "initializer node")
  frozen = freeze_graph_def(graph_def, input_checkpoint, output_node_names,
                            variable_names_whitelist, variable_names_blacklist,
                            clear_devices)
  graph_io.save_graph_def(frozen, output_graph)
  return frozen
