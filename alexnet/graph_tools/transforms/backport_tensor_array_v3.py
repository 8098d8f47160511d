"""backport_tensor_array_v3: rewrite TensorArray*V3 ops as their V2 versions.

Options: none.

TensorArrayV3 and TensorArrayGradV3 become TensorArrayV2 and
TensorArrayGradV2, which have no second "flow" output: whatever read
NAME:1 reads a new Const NAME/replacement_flow_node (float 1.0) instead
(flows only order TensorArray ops; the value is not used). The V3-only
attribute identical_element_shapes is dropped. TensorArrayWriteV3, ReadV3,
GatherV3, ScatterV3, ConcatV3, SplitV3, SizeV3 and CloseV3 become the V2
ops of the same name.

Use it for runtimes older than the V3 ops (TensorFlow before 1.0). The V2
ops are deprecated from GraphDef version 26, so TensorFlow itself runs the
result only with a lower `versions.producer`. Nodes that merely pass a
handle on (Identity, Enter, ...) keep their resource type, as in the C++
tool, so loops over TensorArrays need more than this. A replacement Const
whose name is taken is an error (nothing is changed).
"""

import numpy as np

from alexnet.graph_tools import graph_utils
from alexnet.graph_tools.context import TransformError

# The arguments it takes (besides ignore_errors, which every transform takes).
ARGS = ()

_CREATORS = {"TensorArrayV3": "TensorArrayV2",
             "TensorArrayGradV3": "TensorArrayGradV2"}
_USERS = ("Write", "Read", "Gather", "Scatter", "Concat", "Split", "Size",
          "Close")
_RENAMES = dict(_CREATORS, **{f"TensorArray{u}V3": f"TensorArray{u}V2"
                              for u in _USERS})


def transform(graph_def, context):
  names = {n.name for n in graph_def.node}
  flows = {graph_utils.node_name(i) for n in graph_def.node
           for i in graph_utils.data_inputs(n)
           if graph_utils.output_index(i) == 1}
  # Creator name -> its replacement flow Const, for the flows that are read.
  replacements = {}
  for node in graph_def.node:
    if node.op in _CREATORS and node.name in flows:
      const = node.name + "/replacement_flow_node"
      if const in names:
        raise TransformError(f"{context.name}: cannot add '{const}' for "
                             f"'{node.name}': a node of that name exists")
      replacements[node.name] = const
  for node in graph_def.node:
    if node.op in _CREATORS and "identical_element_shapes" in node.attr:
      del node.attr["identical_element_shapes"]
    node.op = _RENAMES.get(node.op, node.op)
  graph_utils.rename_inputs(
      graph_def, {f"{name}:1": const for name, const in replacements.items()})
  for const in replacements.values():
    graph_utils.set_const(graph_def.node.add(), const, np.float32(1.0))
  return graph_def
