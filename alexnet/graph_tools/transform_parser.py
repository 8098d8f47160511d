"""The transform_graph `--transforms` syntax, parsed the way the C++ tool does.

  strip_unused_nodes(type=float, shape="1,227,227,3")
  remove_nodes(op=Identity, op=CheckNumerics)  fold_constants()
  obfuscate_names

Transforms are separated by any whitespace (spaces, newlines). A name is
letters, digits and underscores; it may be followed by `(` and arguments
`name=value`, separated by commas and optional spaces. A bare value is
letters, digits and `-._/`; a double-quoted value may hold anything
(commas, spaces); `\\"` inside it does not end it (the backslash is kept, as
the C++ tool keeps it). Repeating an argument appends to its
list of values. `name()` is a transform without arguments.
"""

import re

from alexnet.core.errors import UserError

_NAME = re.compile(r"[A-Za-z0-9_]+")
_BARE_VALUE = re.compile(r"[A-Za-z0-9_\-./]+")


def _error(text, pos, what):
  rest = text[pos:pos + 40]
  raise UserError(f"--transforms: looking for {what} at position {pos}, "
                  f"found {rest!r}: write name(arg=value, arg=\"a,b\") ...")


def _quoted(text, pos):
  """Value after an opening quote at `pos`; returns (value, position after)."""
  out = []
  i = pos
  while i < len(text):
    ch = text[i]
    if ch == "\\" and i + 1 < len(text):
      # Like the C++ Scanner, an escaped character keeps its backslash.
      out.append(text[i:i + 2])
      i += 2
      continue
    if ch == '"':
      return "".join(out), i + 1
    out.append(ch)
    i += 1
  _error(text, pos - 1, "a closing quote")


def parse_transforms(text):
  """'a(x=1, x=2) b' -> [('a', {'x': ['1', '2']}), ('b', {})]."""
  result = []
  pos = 0
  n = len(text)
  while True:
    while pos < n and text[pos].isspace():
      pos += 1
    if pos >= n:
      return result
    match = _NAME.match(text, pos)
    if not match:
      _error(text, pos, "a transform name")
    name = match.group()
    pos = match.end()
    params = {}
    if pos < n and text[pos] == "(":
      pos += 1
      while True:
        if pos < n and text[pos] == ")":
          pos += 1
          break
        if pos < n and text[pos] == ",":
          pos += 1
        while pos < n and text[pos].isspace():
          pos += 1
        match = _NAME.match(text, pos)
        if not match:
          _error(text, pos, "an argument name or ')'")
        arg = match.group()
        pos = match.end()
        if pos >= n or text[pos] != "=":
          _error(text, pos, f"'=' after argument {arg}")
        pos += 1
        if pos < n and text[pos] == '"':
          value, pos = _quoted(text, pos + 1)
        else:
          match = _BARE_VALUE.match(text, pos)
          if not match:
            _error(text, pos, f"a value for argument {arg}")
          value = match.group()
          pos = match.end()
        params.setdefault(arg, []).append(value)
        # The C++ parser also skips a stray quote after a value.
        if pos < n and text[pos] in "\"'":
          pos += 1
    result.append((name, params))
