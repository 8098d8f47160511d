"""What a transform is told: the graph's inputs and outputs and its arguments.

The Python counterpart of the C++ TransformFuncContext.
"""

from alexnet.core.errors import UserError
from alexnet.graph_tools import tensor_store


class TransformError(UserError):
  """A transform cannot run on this graph or with these arguments."""


class TransformContext:
  """input_names / output_names as given on the command line; params is a dict
  of argument name -> list of string values (repeated arguments append);
  tensors is the TensorStore holding Const values."""

  def __init__(self, input_names=(), output_names=(), params=None, name="",
               tensors=None):
    self.input_names = list(input_names)
    # Where Const values are read and written (see tensor_store).
    self.tensors = tensors or tensor_store.TensorStore(detach_min_bytes=None)
    self.output_names = list(output_names)
    self.params = dict(params or {})
    self.name = name

  def _one(self, key, default):
    values = self.params.get(key)
    if not values:
      return None if default is None else str(default)
    if len(values) != 1:
      raise TransformError(f"{self.name}: expected one value for '{key}', "
                           f"got {len(values)}")
    return values[0]

  def get_one_string(self, key, default=None):
    return self._one(key, default)

  def _converted(self, key, default, convert, what):
    value = self._one(key, default)
    try:
      return convert(value)
    except ValueError:
      raise TransformError(f"{self.name}: '{key}' must be {what}, "
                           f"got {value!r}") from None

  def get_one_int(self, key, default):
    return self._converted(key, default, int, "an integer")

  def get_one_float(self, key, default):
    return self._converted(key, default, float, "a number")

  def get_one_bool(self, key, default):
    value = self._one(key, "true" if default else "false").lower()
    if value in ("true", "1"):
      return True
    if value in ("false", "0"):
      return False
    raise TransformError(f"{self.name}: '{key}' must be true or false, "
                         f"got {value!r}")

  def require_outputs(self):
    if not self.output_names:
      raise TransformError(f"{self.name} needs the graph's outputs: pass "
                           "--outputs=NAME[,NAME...]")
