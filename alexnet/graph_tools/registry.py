"""The transform registry and the pipeline that runs a `--transforms` list.

Every transform lives in its own module `alexnet.graph_tools.transforms.NAME`
and exposes `transform(graph_def, context) -> GraphDef`. A transform owns the
GraphDef it is given: it may edit it in place and return it (frozen graphs
are hundreds of MB, so no transform copies the whole graph). Callers that
still need the input pass a copy.
"""

import importlib
import logging

import tqdm

from alexnet.errors import UserError
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import transform_parser
from alexnet.graph_tools.context import TransformContext
from alexnet.graph_tools.context import TransformError

TRANSFORM_NAMES = (
    "add_default_attributes",
    "fold_batch_norms",
    "fold_constants",
    "fold_old_batch_norms",
    "obfuscate_names",
    "quantize_weights",
    "remove_attribute",
    "remove_device",
    "remove_nodes",
    "rename_attribute",
    "round_weights",
    "sort_by_execution_order",
    "strip_unused_nodes",
)

# The original project's list (scripts/convert.sh spells it out too).
ORIGINAL_TRANSFORMS = (
    'strip_unused_nodes(type=float, shape="1,227,227,3") '
    "remove_nodes(op=Identity, op=CheckNumerics) "
    "fold_constants(ignore_errors=true) round_weights(num_steps=256) "
    "obfuscate_names sort_by_execution_order fold_old_batch_norms "
    "fold_batch_norms")

# Arguments each transform understands; `ignore_errors` is accepted by all.
TRANSFORM_ARGS = {
    "add_default_attributes": (),
    "fold_batch_norms": (),
    "fold_constants": ("clear_output_shapes", "max_constant_size_in_bytes",
                       "exclude_op"),
    "fold_old_batch_norms": (),
    "obfuscate_names": (),
    "quantize_weights": ("minimum_size",),
    "remove_attribute": ("attribute_name", "op_name"),
    "remove_device": (),
    "remove_nodes": ("op", "max_inputs"),
    "rename_attribute": ("old_attribute_name", "new_attribute_name",
                         "op_name"),
    "round_weights": ("num_steps",),
    "sort_by_execution_order": (),
    "strip_unused_nodes": ("type", "shape", "name", "type_for_name",
                           "shape_for_name"),
}


def get_transform(name):
  """The `transform` function of transform `name`."""
  if name not in TRANSFORM_NAMES:
    raise UserError(f"unknown transform '{name}': available are "
                    f"{', '.join(TRANSFORM_NAMES)}")
  module = importlib.import_module(f"alexnet.graph_tools.transforms.{name}")
  return module.transform


def check_arguments(transforms):
  """Raises UserError for an unknown transform or an argument it ignores."""
  for name, params in transforms:
    get_transform(name)
    known = TRANSFORM_ARGS[name] + ("ignore_errors",)
    for arg in params:
      if arg not in known:
        allowed = ", ".join(known)
        raise UserError(f"transform {name} has no argument '{arg}': it takes "
                        f"{allowed}")


def transform_graph(graph_def, inputs, outputs, transforms, tensors=None,
                    progress=False):
  """Runs `transforms` in order, like the C++ TransformGraph.

  Args:
    graph_def: the GraphDef; it is consumed (edited in place).
    inputs, outputs: lists of node names ('x' or 'x:0').
    transforms: a `--transforms` string or a parsed list of (name, params).
    tensors: the TensorStore the graph was loaded with, if any.
    progress: show a tqdm bar over the transforms.
  Returns:
    The transformed GraphDef.
  Raises:
    UserError: bad syntax, unknown transform or argument, a transform error
      (unless that transform has ignore_errors=true), or a result that reads
      a missing node or lost a requested output.
  """
  if isinstance(transforms, str):
    transforms = transform_parser.parse_transforms(transforms)
  if not transforms:
    raise UserError("--transforms is empty: give at least one transform, e.g. "
                    "--transforms='strip_unused_nodes fold_constants'")
  check_arguments(transforms)
  graph_io.check_names(graph_def, inputs, "input")
  graph_io.check_names(graph_def, outputs, "output")
  bar = tqdm.tqdm(transforms, desc="transform", unit="transform",
                  disable=not progress)
  for name, params in bar:
    bar.set_postfix_str(name)
    context = TransformContext(inputs, outputs, params, name, tensors)
    ignore_errors = context.get_one_bool("ignore_errors", False)
    logging.info("Applying %s", name)
    library = graph_def.library if graph_def.HasField("library") else None
    try:
      result = get_transform(name)(graph_def, context)
    except TransformError as e:
      if not ignore_errors:
        raise
      # The transform failed before changing anything it was given.
      logging.warning("%s: ignoring error %s", name, e)
      result = graph_def
    if library is not None and result is not graph_def:
      result.library.CopyFrom(library)
    graph_io.check_graph(result, f"graph after {name}")
    graph_io.check_names(result, outputs, f"output (after {name})")
    context.tensors.prune(result)
    graph_def = result
  return graph_def
