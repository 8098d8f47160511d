"""Flags defined from the library's config tables (alexnet.core.config).

One flag per config field, with the field's name, default and help, so the
flag names (those of TensorFlow's original tools) and the defaults have one
owner; `config_from_flags` builds the checked config back from them.

Every numeric flag has its allowed range checked when the command line is
parsed, before main runs (so a refused run writes nothing): the config
flags with their field's range, a tool's own numeric flags with the range
given to `define_integer` / `define_float`; both by config.range_problem.
With `parse_flags` as app.run's flags_parser (every tool), a bad value, an
unknown or a missing flag exits 1 with one line, e.g.
`error: flag --batch_size=0: 0 is out of range: it must be >= 1`.
"""

import sys
import typing

from absl import flags

from alexnet.core import config

# The flags define_config_flags defined, in order: only these are config
# settings (a tool's own flag may share a field's name, as pipeline's --seed).
_DEFINED = []


def parse_flags(argv):
  """absl's flag parsing (app.run's flags_parser) with a bad command line as
  one `error: ...` line and exit status 1, as exit_on_user_error words the
  rest."""
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    print(f"error: {e}", file=sys.stderr)
    sys.exit(1)


def _flag_type(kind):
  """The plain type of a field (Optional[int] -> int)."""
  args = [a for a in typing.get_args(kind) if a is not type(None)]
  if typing.get_origin(kind) is typing.Union:
    return args[0]
  return kind


def define_config_flags(config_class, skip=(), overrides_only=False,
                        only=None):
  """Defines a flag for each field of `config_class` not in `skip` (and, if
  given, in `only`); with `overrides_only` every flag defaults to None
  (unset: the preset's value)."""
  for name, kind, default, help_text, choices, bounds in config.flag_fields(
      config_class):
    if name in skip or (only is not None and name not in only):
      continue
    _DEFINED.append(name)
    if overrides_only:
      default = None
      help_text += " (default: the preset's)"
    kind = _flag_type(kind)
    if choices:
      flags.DEFINE_enum(name, default, list(choices), help_text)
    elif kind is bool:
      flags.DEFINE_boolean(name, default, help_text)
    elif kind is int:
      define_integer(name, default, help_text, **_bounds(bounds))
    elif kind is float:
      define_float(name, default, help_text, **_bounds(bounds))
    elif typing.get_origin(kind) is tuple:
      flags.DEFINE_list(name, None if default is None else list(default),
                        help_text)
    else:
      flags.DEFINE_string(name, default, help_text)


def _bounds(meta):
  return {k: meta[k] for k in ("low", "high", "low_open", "high_open")}


def _check_range(name, meta):
  def check(value):
    for v in value if isinstance(value, list) else [value]:
      problem = config.range_problem(v, meta)
      if problem:
        raise flags.ValidationError(f"{v} is out of range: {problem}")
    return True
  flags.register_validator(name, check)


def define_integer(name, default, help_text, low=None, high=None,
                   low_open=False, high_open=False, multi=False):
  """An integer flag (repeatable if `multi`) whose values must lie in the
  range (None: unbounded; an unset flag, None, is not checked)."""
  define = flags.DEFINE_multi_integer if multi else flags.DEFINE_integer
  define(name, default, help_text)
  _check_range(name, {"low": low, "high": high, "low_open": low_open,
                      "high_open": high_open})


def define_float(name, default, help_text, low=None, high=None,
                 low_open=False, high_open=False):
  """A float flag whose value must lie in the range (see define_integer)."""
  flags.DEFINE_float(name, default, help_text)
  _check_range(name, {"low": low, "high": high, "low_open": low_open,
                      "high_open": high_open})


def given_flags():
  """{field: value} of the config flags that were set (overrides_only)."""
  given = {}
  for name in _DEFINED:
    value = getattr(flags.FLAGS, name)
    if value is not None:
      given[name] = tuple(value) if isinstance(value, list) else value
  return given


def config_from_flags(config_class, skip=(), **fixed):
  """The config made from the flags `define_config_flags` defined, plus
  `fixed` fields."""
  values = dict(fixed)
  for name, *_ in config.flag_fields(config_class):
    if name not in skip and name not in fixed:
      value = getattr(flags.FLAGS, name)
      values[name] = tuple(value) if isinstance(value, list) else value
  return config_class(**values)
