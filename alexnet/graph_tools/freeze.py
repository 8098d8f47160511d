"""freeze_graph on GraphDef: checkpoint values become Const nodes.

Like tensorflow/python/tools/freeze_graph.py, but without a Session: the
variables' values are read with alexnet.estimator.checkpoints.Reader and written straight
into the GraphDef. Only what the output nodes need is kept.

  VariableV2 / Variable  -> Const (its Identity "read" nodes stay Identities)
  VarHandleOp            -> Const
  ReadVariableOp         -> Identity (it now reads a plain tensor)

Which checkpoint entry a variable takes is decided as freeze_graph.py's
Saver decides it: with a SaverDef (--input_saver, a MetaGraph's or a
SavedModel's) by the Assign nodes under its restore op, which also name the
slice a partition of a partitioned variable holds; without one by the
variable's name. Initializer nodes (and a SavedModel's init op) are the one
thing that needs a Session: when they reach a variable, they are run on the
restored values and the values they leave are frozen.
"""

import os
import re

import numpy as np
import tensorflow as tf
from google.protobuf import message as pb_message
from google.protobuf import text_format
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow.core.protobuf import saver_pb2
from tensorflow.python.saved_model import constants
from tensorflow.python.tools import saved_model_utils

from alexnet.core.errors import UserError
from alexnet.estimator import checkpoints
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import graph_utils

_REF_VARIABLES = ("Variable", "VariableV2")
_RESOURCE_VARIABLES = ("VarHandleOp",)
_VARIABLES = _REF_VARIABLES + _RESOURCE_VARIABLES
_ASSIGNS = ("Assign", "AssignVariableOp")
_PARTITION = re.compile(r"^(.+)/part_\d+$")


def _checkpoint_key(node):
  """The name a Saver without a SaverDef looks the variable up under."""
  if (node.op in _RESOURCE_VARIABLES and "shared_name" in node.attr and
      node.attr["shared_name"].s):
    return node.attr["shared_name"].s.decode()
  return node.name


def _open_checkpoint(path):
  return checkpoints.Reader(path)


def _selected(name, whitelist, blacklist):
  if whitelist is not None and name not in whitelist:
    return False
  return not (blacklist is not None and name in blacklist)


def _const_strings(nodes, input_name, restore):
  node = nodes[graph_utils.node_name(input_name)]
  if node.op != "Const":
    raise UserError(f"restore node {restore} reads its tensor names from "
                    f"{node.name} ({node.op}), not a Const: pass a graph "
                    "whose Saver was built by tf.compat.v1.train.Saver")
  return [s.decode() for s in graph_utils.const_value(node).reshape(-1)]


def _saver_sources(graph_def, saver_def):
  """{variable name: (checkpoint key, slice spec)} the SaverDef restores.

  The restore op's Assign / AssignVariableOp nodes say which RestoreV2
  output each variable gets; that RestoreV2's Const inputs name its
  checkpoint entry and slice.
  """
  nodes = graph_utils.node_map(graph_def)
  restore_op = graph_utils.node_name(saver_def.restore_op_name)
  if restore_op not in nodes:
    raise UserError(f"the SaverDef's restore op {restore_op} is not a node of "
                    "the graph: pass the saver written with this graph")
  sources = {}
  for name in graph_utils.needed_nodes(graph_def, [restore_op]):
    assign = nodes[name]
    if assign.op not in _ASSIGNS:
      continue
    target = nodes[graph_utils.node_name(assign.input[0])]
    if target.op not in _VARIABLES:
      continue
    value = assign.input[1]
    # Resource variables are restored through an Identity (a device copy).
    while nodes[graph_utils.node_name(value)].op == "Identity":
      value = nodes[graph_utils.node_name(value)].input[0]
    restore = nodes[graph_utils.node_name(value)]
    if restore.op != "RestoreV2":
      raise UserError(f"{assign.name} restores variable {target.name} from "
                      f"{restore.name} ({restore.op}), not a RestoreV2: pass "
                      "a graph whose Saver was built by "
                      "tf.compat.v1.train.Saver")
    index = graph_utils.output_index(value)
    keys = _const_strings(nodes, restore.input[1], restore.name)
    slices = _const_strings(nodes, restore.input[2], restore.name)
    sources[target.name] = (keys[index], slices[index])
  if not sources:
    raise UserError(f"the SaverDef's restore op {restore_op} restores no "
                    "variable: pass the saver written with this graph")
  return sources


def _slice(value, spec, key):
  """The part of checkpoint tensor `key` that a Saver slice spec names.

  A spec is the full shape and one extent per dimension, `start,length` or
  `-` for all of it: "4 3 0,2:-" is rows 0-1 of a 4x3 tensor.
  """
  if not spec:
    return value
  *full_shape, extents = spec.split(" ")
  if [int(d) for d in full_shape] != list(value.shape):
    raise UserError(f"checkpoint tensor {key} has shape {list(value.shape)}, "
                    f"the graph's saver expects {full_shape}: pass the "
                    "checkpoint this graph was trained with")
  index = []
  for extent in extents.split(":"):
    if extent == "-":
      index.append(slice(None))
    else:
      start, length = (int(n) for n in extent.split(","))
      index.append(slice(start, start + length))
  return np.ascontiguousarray(value[tuple(index)])


def _missing(node, key, reader, checkpoint_path, saver_def):
  """The UserError for a variable the checkpoint gives no value."""
  whole = _PARTITION.match(key)
  if saver_def is None and whole and reader.has_tensor(whole.group(1)):
    return UserError(
        f"variable {node.name} is a slice of partitioned variable "
        f"{whole.group(1)} in checkpoint {checkpoint_path}, and a GraphDef "
        "does not say which: pass --input_meta_graph (the checkpoint's "
        ".meta), --input_saver or the SavedModel")
  if saver_def is not None and key is None:
    return UserError(f"variable {node.name} is not restored by the saver's "
                     f"{saver_def.restore_op_name}: pass the saver written "
                     "with this graph, or blacklist the variable")
  return UserError(f"variable {key} is not in checkpoint {checkpoint_path}: "
                   "pass the checkpoint this graph was trained with, or "
                   "blacklist the variable")


def _restored_values(variables, reader, checkpoint_path, saver_def,
                     sources):
  """{variable name: value, or the UserError saying why there is none}."""
  values = {}
  full = {}  # Partitions of one variable share one read of it.
  for node in variables:
    key, spec = (sources.get(node.name, (None, "")) if sources is not None
                 else (_checkpoint_key(node), ""))
    if key is None or not reader.has_tensor(key):
      values[node.name] = _missing(node, key, reader, checkpoint_path,
                                   saver_def)
      continue
    if not spec:
      values[node.name] = reader.get_tensor(key)
      continue
    if key not in full:
      full.clear()
      full[key] = reader.get_tensor(key)
    values[node.name] = _slice(full[key], spec, key)
  return values


def _run_initializers(graph_def, variables, values, initializer_nodes,
                      converted):
  """Values of `converted` after `initializer_nodes` ran on the restored
  variables, as freeze_graph.py's Session leaves them."""
  graph = tf.Graph()
  with graph.as_default():
    try:
      tf.graph_util.import_graph_def(graph_def, name="")
    except (ValueError, TypeError) as e:
      raise UserError(f"the graph does not import into TensorFlow to run "
                      f"initializer nodes ({str(e).splitlines()[0]}): pass "
                      "a graph TensorFlow 2.21 can run") from None
    feeds, restores, reads = {}, [], {}
    for node in variables:
      variable = graph.get_tensor_by_name(node.name + ":0")
      dtype = tf.dtypes.as_dtype(node.attr["dtype"].type)
      resource = node.op in _RESOURCE_VARIABLES
      if node.name in converted:
        reads[node.name] = (tf.raw_ops.ReadVariableOp(resource=variable,
                                                      dtype=dtype)
                            if resource else variable)
      if isinstance(values[node.name], UserError):
        continue
      value = tf.compat.v1.placeholder(dtype)
      feeds[value] = values[node.name]
      restores.append(tf.raw_ops.AssignVariableOp(resource=variable,
                                                  value=value)
                      if resource else tf.compat.v1.assign(variable, value))
  config = tf.compat.v1.ConfigProto(allow_soft_placement=True)
  result = dict(values)
  with tf.compat.v1.Session(graph=graph, config=config) as session:
    session.run(restores, feeds)
    try:
      session.run(list(initializer_nodes))
    except tf.errors.OpError as e:
      raise UserError(f"initializer nodes {','.join(initializer_nodes)} "
                      f"failed ({type(e).__name__}: "
                      f"{e.message.splitlines()[0]}): pass nodes that run "
                      "without feeds") from None
    for name, read in reads.items():
      try:
        result[name] = session.run(read)
      except tf.errors.FailedPreconditionError:
        pass  # Neither restored nor initialized: keeps its UserError.
  return result


def freeze_graph_def(graph_def, checkpoint_path, output_node_names,
                     variable_names_whitelist=None,
                     variable_names_blacklist=None, clear_devices=False,
                     saver_def=None, initializer_nodes=()):
  """Returns a new GraphDef with the variables the outputs need as Consts.

  Args:
    graph_def: the inference GraphDef (not modified).
    checkpoint_path: checkpoint prefix (or directory with a `checkpoint` file),
      V1 or V2.
    output_node_names: list of node names to keep computing.
    variable_names_whitelist / _blacklist: iterables of variable node names
      to convert (only these) / not to convert; None means no restriction.
    clear_devices: drop device placements.
    saver_def: a SaverDef whose restore op in `graph_def` maps variables to
      checkpoint entries (and partitions to slices); None matches by name.
    initializer_nodes: nodes to run after restoring, as freeze_graph.py
      does; the values they leave are frozen.
  Raises:
    UserError: unreadable checkpoint, unknown output, a variable missing
      from the checkpoint, or a resource variable used by something other
      than ReadVariableOp.
  """
  graph_io.check_names(graph_def, output_node_names, "output node")
  graph_io.check_names(graph_def, initializer_nodes, "initializer node")
  whitelist = set(variable_names_whitelist) if variable_names_whitelist \
      is not None else None
  blacklist = set(variable_names_blacklist) if variable_names_blacklist \
      is not None else None
  reader = _open_checkpoint(checkpoint_path)
  keep = graph_utils.needed_nodes(graph_def, output_node_names)
  converted = {node.name for node in graph_def.node
               if node.name in keep and node.op in _VARIABLES and
               _selected(node.name, whitelist, blacklist)}
  sources = (_saver_sources(graph_def, saver_def) if saver_def is not None
             else None)
  # Only initializers that reach a variable can change a frozen value.
  reached = (graph_utils.needed_nodes(graph_def, initializer_nodes)
             if initializer_nodes else set())
  run = any(node.op in _VARIABLES for node in graph_def.node
            if node.name in reached)
  variables = [node for node in graph_def.node
               if node.name in converted or (run and node.op in _VARIABLES)]
  values = _restored_values(variables, reader, checkpoint_path, saver_def,
                            sources)
  if run:
    values = _run_initializers(graph_def, variables, values,
                               initializer_nodes, converted)
  frozen = tf.compat.v1.GraphDef()
  frozen.versions.CopyFrom(graph_def.versions)
  if graph_def.HasField("library"):
    frozen.library.CopyFrom(graph_def.library)
  converted_resources = set()
  for node in graph_def.node:
    if node.name not in keep:
      continue
    if node.name in converted:
      if isinstance(values[node.name], UserError):
        raise values[node.name]
      const = graph_utils.set_const(frozen.node.add(), node.name,
                                    values[node.name],
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


def _read_proto(path, message, binary, what):
  """Parses `path` into `message`, binary or text as --input_binary says."""
  if not os.path.isfile(path):
    raise UserError(f"{what} {path} does not exist: check the path")
  try:
    if binary:
      with open(path, "rb") as f:
        message.ParseFromString(f.read())
    else:
      with open(path, encoding="utf-8") as f:
        text_format.Merge(f.read(), message)
  except (pb_message.DecodeError, text_format.ParseError,
          UnicodeDecodeError) as e:
    form = "binary" if binary else "text"
    raise UserError(f"{path} is not a {form} {type(message).__name__} "
                    f"({type(e).__name__}): pass --input_binary="
                    f"{str(not binary).lower()} if it is the other "
                    "format") from None
  return message


def load_saved_model(saved_model_dir, tags):
  """The MetaGraphDef tagged exactly `tags` (saved_model.pb or .pbtxt)."""
  try:
    saved_model = saved_model_utils.read_saved_model(saved_model_dir)
  except OSError as e:
    raise UserError(f"{str(e).splitlines()[0]}: pass a SavedModel directory "
                    "(with saved_model.pb or saved_model.pbtxt)") from None
  wanted = {tag for tag in tags if tag}
  for meta_graph in saved_model.meta_graphs:
    if set(meta_graph.meta_info_def.tags) == wanted:
      graph_io.check_graph(meta_graph.graph_def, saved_model_dir)
      return meta_graph
  found = [",".join(m.meta_info_def.tags) for m in saved_model.meta_graphs]
  tagged = f"tagged {','.join(sorted(wanted))}" if wanted else "without tags"
  raise UserError(f"{saved_model_dir} has no MetaGraph {tagged}: it has "
                  f"{found}; pass --saved_model_tags")


def _init_op(meta_graph):
  """The SavedModel's init op, where the loader looks for it; or []."""
  signature = meta_graph.signature_def.get(constants.INIT_OP_SIGNATURE_KEY)
  if signature is not None:
    return [graph_utils.node_name(
        signature.outputs[constants.INIT_OP_SIGNATURE_KEY].name)]
  for key in (constants.MAIN_OP_KEY, constants.LEGACY_INIT_OP_KEY):
    if key in meta_graph.collection_def:
      return [graph_utils.node_name(
          meta_graph.collection_def[key].node_list.value[0])]
  return []


def _refuse(flags, why):
  for flag, value in flags:
    if value:
      raise UserError(f"{flag} is not used {why}: drop it")


def freeze_graph(input_graph, input_checkpoint, output_graph,
                 output_node_names, input_binary=True, clear_devices=True,
                 variable_names_whitelist=None, variable_names_blacklist=None,
                 input_saved_model_dir=None, saved_model_tags=("serve",),
                 initializer_nodes=(), input_meta_graph=None,
                 input_saver=None, checkpoint_version=saver_pb2.SaverDef.V2):
  """File to file, like freeze_graph.freeze_graph; returns the frozen GraphDef.

  Exactly one of `input_graph` (a GraphDef), `input_meta_graph` (a
  MetaGraphDef, e.g. model.ckpt.meta: its graph and saver) and
  `input_saved_model_dir` (a TF1 SavedModel, binary or text: its graph,
  saver, variables and init op) is the input. `input_binary` is the format
  of the graph, meta graph and `input_saver` (a SaverDef) files.
  `checkpoint_version` (1 or 2) is checked only: as in freeze_graph.py,
  where it sets the write format of a Saver that only restores, both
  formats are read whatever it says.
  """
  given = [flag for flag, value in (
      ("--input_graph", input_graph), ("--input_meta_graph", input_meta_graph),
      ("--input_saved_model_dir", input_saved_model_dir)) if value]
  if len(given) != 1:
    raise UserError("pass exactly one of --input_graph, --input_meta_graph "
                    "and --input_saved_model_dir"
                    + (f", not {' and '.join(given)}" if given else ""))
  if checkpoint_version not in (saver_pb2.SaverDef.V1, saver_pb2.SaverDef.V2):
    raise UserError(f"checkpoint version {checkpoint_version} is not 1 or 2: "
                    "pass --checkpoint_version=1 or 2")
  saver_def = None
  if input_saved_model_dir:
    _refuse((("--input_checkpoint", input_checkpoint),
             ("--input_saver", input_saver),
             ("--initializer_nodes", initializer_nodes)),
            "with --input_saved_model_dir (freeze_graph.py restores the "
            "SavedModel's own variables with its own saver and init op)")
    meta_graph = load_saved_model(input_saved_model_dir, saved_model_tags)
    input_checkpoint = os.path.join(input_saved_model_dir,
                                    constants.VARIABLES_DIRECTORY,
                                    constants.VARIABLES_FILENAME)
    initializer_nodes = _init_op(meta_graph)
  elif input_meta_graph:
    _refuse((("--input_saver", input_saver),),
            "with --input_meta_graph (the MetaGraph's own saver restores)")
    meta_graph = _read_proto(input_meta_graph, meta_graph_pb2.MetaGraphDef(),
                             input_binary, "meta graph")
    graph_io.check_graph(meta_graph.graph_def, input_meta_graph)
  else:
    meta_graph = None
    graph_def = graph_io.load_graph_def(input_graph, binary=input_binary)
    if input_saver:
      _refuse((("--initializer_nodes", initializer_nodes),),
              "with --input_saver (freeze_graph.py does not run them then)")
      saver_def = _read_proto(input_saver, saver_pb2.SaverDef(),
                              input_binary, "saver")
  if meta_graph is not None:
    graph_def = meta_graph.graph_def
    if meta_graph.HasField("saver_def"):
      saver_def = meta_graph.saver_def
  if not input_checkpoint:
    raise UserError("pass --input_checkpoint")
  if not output_node_names:
    raise UserError("pass --output_node_names, e.g. probabilities")
  frozen = freeze_graph_def(graph_def, input_checkpoint, output_node_names,
                            variable_names_whitelist, variable_names_blacklist,
                            clear_devices, saver_def, initializer_nodes)
  graph_io.save_graph_def(frozen, output_graph)
  return frozen
