"""The transform registry and the pipeline that runs a `--transforms` list.

Every transform lives in its own module `alexnet.graph_tools.transforms.NAME`
and exposes `transform(graph_def, context) -> GraphDef` and `ARGS`, the names
of the arguments it takes; the registry finds the modules and collects their
arguments, so adding a transform is adding its module (and its section in
docs/graph_transforms.md, which a test holds to ARGS). A transform owns the
GraphDef it is given: it may edit it in place and return it (frozen graphs
are hundreds of MB, so no transform copies the whole graph). Callers that
still need the input pass a copy.
"""

import collections
import importlib
import logging
import pkgutil
import time

import tqdm

from alexnet.core.errors import UserError
from alexnet.graph_tools import graph_io
from alexnet.graph_tools import tensor_store
from alexnet.graph_tools import transform_parser
from alexnet.graph_tools import wire
from alexnet.graph_tools.context import TransformContext
from alexnet.graph_tools.context import TransformError

def _discover():
  """{name: module} of every module in alexnet.graph_tools.transforms."""
  package = importlib.import_module(_PACKAGE)
  return {info.name: importlib.import_module(f"{_PACKAGE}.{info.name}")
          for info in pkgutil.iter_modules(package.__path__)}


_PACKAGE = "alexnet.graph_tools.transforms"
_MODULES = _discover()
TRANSFORM_NAMES = tuple(sorted(_MODULES))
# Arguments each transform declares; `ignore_errors` is accepted by all.
TRANSFORM_ARGS = {name: tuple(module.ARGS)
                  for name, module in sorted(_MODULES.items())}


def original_transforms(image_size=227):
  """The original project's list (scripts/convert.sh spells it out too), for
  inputs of `image_size`."""
  return (f'strip_unused_nodes(type=float, shape="1,{image_size},'
          f'{image_size},3") '
          "remove_nodes(op=Identity, op=CheckNumerics) "
          "fold_constants(ignore_errors=true) round_weights(num_steps=256) "
          "obfuscate_names sort_by_execution_order fold_old_batch_norms "
          "fold_batch_norms")


ORIGINAL_TRANSFORMS = original_transforms()


def eight_bit_transforms(image_size=227):
  """The Graph Transform Tool README's "Eight-bit Calculations" list, for
  inputs of `image_size`."""
  return ("add_default_attributes "
          f'strip_unused_nodes(type=float, shape="1,{image_size},'
          f'{image_size},3") '
          "remove_nodes(op=Identity, op=CheckNumerics) fold_old_batch_norms "
          "quantize_weights quantize_nodes strip_unused_nodes")


def get_transform(name):
  """The `transform` function of transform `name`."""
  if name not in _MODULES:
    raise UserError(f"unknown transform '{name}': available are "
                    f"{', '.join(TRANSFORM_NAMES)}")
  return _MODULES[name].transform


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


# What one transform did: `transform` is its name and arguments as written
# in a list; bytes are the serialized GraphDef's; `ignored_error` is the
# message of an error ignore_errors=true skipped, else None.
TransformRecord = collections.namedtuple(
    "TransformRecord", "transform nodes_before nodes_after bytes_before "
    "bytes_after seconds ignored_error")


def serialized_size(graph_def, tensors=None):
  """Bytes of `graph_def` as graph_io.save_graph_def writes it, counting the
  contents held in TensorStore `tensors`, without serializing the graph."""
  size = graph_def.ByteSize()
  if tensors is None:
    return size
  for node in graph_def.node:
    if tensor_store.MARKER not in node.attr:
      continue
    # Only the small NodeDef is copied; its content is a view of the store.
    stored = sum(memoryview(part).nbytes
                 for part in tensors.serialized_parts(node))
    held = node.ByteSize()
    size += (stored + len(wire.encode_varint(stored)) -
             held - len(wire.encode_varint(held)))
  return size


def _spelled(name, params):
  """(name, params) as written in a --transforms list."""
  bare = transform_parser._BARE_VALUE  # pylint: disable=protected-access
  args = [f"{arg}={value}" if bare.fullmatch(value) else f'{arg}="{value}"'
          for arg, values in params.items() for value in values]
  return f"{name}({', '.join(args)})" if args else name


def transform_graph(graph_def, inputs, outputs, transforms, tensors=None,
                    progress=False, stats=None):
  """Runs `transforms` in order, like the C++ TransformGraph.

  Args:
    graph_def: the GraphDef; it is consumed (edited in place).
    inputs, outputs: lists of node names ('x' or 'x:0').
    transforms: a `--transforms` string or a parsed list of (name, params).
    tensors: the TensorStore the graph was loaded with, if any.
    progress: show a tqdm bar over the transforms.
    stats: a list to append one TransformRecord per transform to (its node
      counts, serialized sizes and time); None measures nothing.
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
  names = {node.name for node in graph_def.node}
  graph_io.check_names(graph_def, inputs, "input", names)
  graph_io.check_names(graph_def, outputs, "output", names)
  # A disabled bar still costs more than a small graph's transform.
  bar = tqdm.tqdm(transforms, desc="transform", unit="transform") \
      if progress else None
  size = serialized_size(graph_def, tensors) if stats is not None else None
  for name, params in bar or transforms:
    if bar is not None:
      bar.set_postfix_str(name)
    context = TransformContext(inputs, outputs, params, name, tensors)
    ignore_errors = context.get_one_bool("ignore_errors", False)
    logging.info("Applying %s", name)
    library = graph_def.library if graph_def.HasField("library") else None
    nodes_before, ignored_error = len(graph_def.node), None
    start = time.perf_counter()
    try:
      result = get_transform(name)(graph_def, context)
    except TransformError as e:
      if not ignore_errors:
        raise
      # The transform failed before changing anything it was given.
      logging.warning("%s: ignoring error %s", name, e)
      result, ignored_error = graph_def, str(e)
    if library is not None and result is not graph_def:
      result.library.CopyFrom(library)
    seconds = time.perf_counter() - start
    graph_io.check_names(result, outputs, f"output (after {name})",
                         graph_io.check_graph(result, f"graph after {name}"))
    context.tensors.prune(result)
    graph_def = result
    if stats is not None:
      size_after = serialized_size(graph_def, tensors)
      stats.append(TransformRecord(_spelled(name, params), nodes_before,
                                   len(graph_def.node), size, size_after,
                                   seconds, ignored_error))
      size = size_after
  return graph_def


def format_report(records):
  """A markdown table of TransformRecords, one row per transform."""
  lines = ["| transform | nodes before | nodes after | bytes before | "
           "bytes after | seconds |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
  for r in records:
    cell = f"`{r.transform}`".replace("|", "\\|")
    if r.ignored_error is not None:
      cell += " (error ignored: " + r.ignored_error.replace("|", "\\|") + ")"
    lines.append(f"| {cell} | {r.nodes_before} | {r.nodes_after} | "
                 f"{r.bytes_before:,} | {r.bytes_after:,} | {r.seconds:.3f} |")
  return "\n".join(lines)
