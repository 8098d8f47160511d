"""inline_partitionedcall: replace function calls by the function's nodes.

Options: none.

Graphs traced from `tf.function` code hold `PartitionedCall` (and, for
functions with side effects, `StatefulPartitionedCall`) nodes that run a
function of the graph's library. Each call node is replaced by a copy of
the function body, its nodes named `CALL/NODE`; the body reads the call's
inputs directly and every reader of `CALL:k` reads the node that computes
the function's k-th output. Control inputs of the call move to the body
nodes that read nothing else of the body. A call named in --outputs or read
through a control input ('^CALL') is kept as an IdentityN of the inlined
outputs (waiting, too, for the function's control outputs), so those still
find it. The library stays; calls inside function bodies are inlined by
running the transform again.

Use it before transforms and converters that see only the graph's nodes:
folding, quantizing and TFLite conversion of a graph that still calls
functions cannot look inside them.
"""

from tensorflow.core.framework import node_def_pb2
from tensorflow.python.framework import op_def_registry

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

_CALL_OPS = ("PartitionedCall", "StatefulPartitionedCall")


# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()


def _fail(message):
  return TransformError(f"inline_partitionedcall: {message}")


def _is_list(arg):
  return bool(arg.number_attr or arg.type_list_attr)


def _output_slot(node, arg_name, index, signatures):
  """Flat output index of element `index` of output argument `arg_name` of a
  body node; list outputs are sized from the node's attributes."""
  op_def = signatures.get(node.op) or op_def_registry.get(node.op)
  if op_def is None:
    raise _fail(f"node '{node.name}' of a function has the op '{node.op}', "
                "which TensorFlow 2.21 does not know")
  slot = 0
  for arg in op_def.output_arg:
    if arg.name == arg_name:
      return slot + index
    if arg.number_attr:
      slot += node.attr[arg.number_attr].i
    elif arg.type_list_attr:
      slot += len(node.attr[arg.type_list_attr].list.type)
    else:
      slot += 1
  raise _fail(f"op '{node.op}' of '{node.name}' has no output '{arg_name}'")


class _Body:
  """Translates a function's input strings ('arg', 'node:out:i', '^node')
  into graph input strings for one call."""

  def __init__(self, call, function, signatures):
    self.prefix = call.name + "/"
    self.function = function
    self.signatures = signatures
    self.nodes = {node.name: node for node in function.node_def}
    args = graph_utils.data_inputs(call)
    signature = function.signature
    if len(args) != len(signature.input_arg) or any(
        _is_list(a) for a in list(signature.input_arg) +
        list(signature.output_arg)):
      raise _fail(f"call '{call.name}' does not match the signature of "
                  f"function '{signature.name}' (one input per argument, no "
                  "list arguments)")
    self.args = {arg.name: inp for arg, inp in zip(signature.input_arg, args)}

  def translate(self, ref):
    """(graph input string, whether it reads a node of the body)."""
    if graph_utils.is_control(ref):
      if ref[1:] not in self.nodes:
        raise self._unknown(ref)
      return "^" + self.prefix + ref[1:], True
    parts = ref.split(":")
    if parts[0] in self.args and len(parts) <= 2:
      if parts[1:] not in ([], ["0"]):
        raise self._unknown(ref)
      return self.args[parts[0]], False
    node = self.nodes.get(parts[0])
    if node is None or len(parts) > 3:
      raise self._unknown(ref)
    if len(parts) == 1:
      slot = 0
    elif len(parts) == 2 and parts[1].isdigit():
      slot = int(parts[1])
    else:
      index = int(parts[2]) if len(parts) == 3 else 0
      slot = _output_slot(node, parts[1], index, self.signatures)
    name = self.prefix + node.name
    return (f"{name}:{slot}" if slot else name), True

  def _unknown(self, ref):
    return _fail(f"function '{self.function.signature.name}' reads '{ref}', "
                 "which is no argument or node of it")


def _inline(call, functions, signatures, keep_call):
  """The NodeDefs replacing `call`, and the input strings of its outputs."""
  if "f" not in call.attr or not call.attr["f"].HasField("func"):
    raise _fail(f"call '{call.name}' has no function attribute 'f'")
  function = functions.get(call.attr["f"].func.name)
  if function is None:
    raise _fail(f"function '{call.attr['f'].func.name}' called by "
                f"'{call.name}' is not in the graph's library")
  body = _Body(call, function, signatures)
  controls = [i for i in call.input if graph_utils.is_control(i)]
  new_nodes = []
  for source in function.node_def:
    if any(v.WhichOneof("value") == "placeholder"
           for v in source.attr.values()):
      raise _fail(f"function '{function.signature.name}' has attribute "
                  "placeholders; only concrete functions can be inlined")
    node = node_def_pb2.NodeDef()
    node.CopyFrom(source)
    node.name = body.prefix + source.name
    del node.input[:]
    reads_body = False
    for ref in source.input:
      inp, from_body = body.translate(ref)
      node.input.append(inp)
      reads_body |= from_body
    if not reads_body:
      node.input.extend(controls)
    new_nodes.append(node)
  graph_utils.update_colocation(
      new_nodes, {n.name: body.prefix + n.name for n in function.node_def})
  outputs = [body.translate(function.ret[arg.name])[0]
             for arg in function.signature.output_arg]
  if keep_call:
    # Readers that need the call itself find it under its name.
    kept = node_def_pb2.NodeDef(name=call.name, device=call.device)
    kept.input.extend(outputs)
    kept.input.extend("^" + body.prefix + name
                      for name in function.control_ret.values())
    if outputs:
      kept.op = "IdentityN"
      kept.attr["T"].list.type.extend(
          arg.type for arg in function.signature.output_arg)
    else:
      kept.op = "NoOp"
      kept.input.extend(controls)
    new_nodes.append(kept)
  return new_nodes, outputs


def transform(graph_def, context):
  functions = {f.signature.name: f for f in graph_def.library.function}
  signatures = {name: f.signature for name, f in functions.items()}
  calls = [n for n in graph_def.node if n.op in _CALL_OPS]
  if not calls:
    return graph_def
  requested = {graph_utils.node_name(n) for n in context.output_names}
  control_read = {graph_utils.node_name(i) for n in graph_def.node
                  for i in n.input[:] if graph_utils.is_control(i)}
  taken = {n.name for n in graph_def.node} - {c.name for c in calls}
  # Everything is planned before the graph changes, so that an error leaves
  # it as it was.
  replaced = {}
  remap = {}
  for call in calls:
    keep = call.name in requested or call.name in control_read
    new_nodes, outputs = _inline(call, functions, signatures, keep)
    for node in new_nodes:
      if node.name in taken:
        raise _fail(f"inlining '{call.name}' would add a second node named "
                    f"'{node.name}'")
      taken.add(node.name)
    replaced[call.name] = new_nodes
    for slot, output in enumerate(outputs):
      remap[f"{call.name}:{slot}"] = output

  plain = taken.difference(replaced)  # Names no remap key starts with.

  def resolve(inp):
    if inp in plain:
      return inp  # Most inputs: a plain name of a node that is no call.
    # A function may pass an argument that is another call's output through.
    prefix, name, suffix = graph_utils.split_input(inp)
    seen = set()
    while not prefix and f"{name}{suffix or ':0'}" in remap:
      key = f"{name}{suffix or ':0'}"
      if key in seen:
        raise _fail(f"calls pass '{key}' around in a cycle")
      seen.add(key)
      prefix, name, suffix = graph_utils.split_input(remap[key])
    return prefix + name + suffix

  position = {}
  for index, node in enumerate(graph_def.node):
    position[node.name] = (index, 0)
    for rank, new in enumerate(replaced.get(node.name, ()), 1):
      position[new.name] = (index, rank)
  nodes = list(graph_def.node) + [n for ns in replaced.values() for n in ns]
  rewired = []
  for node in nodes:
    inputs = node.input[:]
    resolved = [resolve(i) for i in inputs]
    if resolved != inputs:
      rewired.append((node, resolved))
  for node, inputs in rewired:
    del node.input[:]
    node.input.extend(inputs)
  graph_utils.keep_nodes(graph_def, {n.name for n in graph_def.node
                                     if n.name not in replaced})
  for new_nodes in replaced.values():
    graph_def.node.extend(new_nodes)
  graph_def.node.sort(key=lambda n: position[n.name])
  return graph_def
