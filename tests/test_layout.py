"""The library's shape: stages in one order, each documented, none reaching up.

The order is README's "The library, by stage": a module may import from its
own stage and the stages before it, never from a later one.
"""

import ast
import collections
import importlib
import os

import pytest

STAGES = ("core", "datasets", "nets", "estimator", "evaluation", "training",
          "serving", "graph_tools", "lite", "runner", "pipeline")
PACKAGE = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "alexnet")


def _modules():
  for root, _, files in os.walk(PACKAGE):
    for name in files:
      if name.endswith(".py"):
        yield os.path.join(root, name)


def _stage(path):
  return os.path.relpath(path, PACKAGE).split(os.sep)[0]


def _imported_stages(path):
  with open(path) as f:
    tree = ast.parse(f.read(), path)
  for node in ast.walk(tree):
    names = []
    if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
      names = [node.module]
    elif isinstance(node, ast.Import):
      names = [alias.name for alias in node.names]
    for name in names:
      parts = name.split(".")
      if parts[0] == "alexnet" and len(parts) > 1:
        yield node.lineno, parts[1]


def test_every_module_is_in_a_stage():
  loose = [p for p in _modules()
           if os.path.dirname(p) == PACKAGE and not p.endswith("__init__.py")]
  assert not loose
  assert sorted({_stage(p) for p in _modules()} - {"__init__.py"}) == sorted(
      STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_says_what_is_inside(stage):
  doc = importlib.import_module(f"alexnet.{stage}").__doc__
  assert doc and len(doc.strip()) > 20, stage


def test_no_module_imports_a_later_stage():
  upward = []
  for path in _modules():
    if os.path.dirname(path) == PACKAGE:
      continue
    own = STAGES.index(_stage(path))
    for line, stage in _imported_stages(path):
      if stage in STAGES and STAGES.index(stage) > own:
        upward.append(f"{os.path.relpath(path, PACKAGE)}:{line} imports "
                      f"alexnet.{stage}")
  assert not upward, "\n".join(upward)


def test_no_two_modules_share_a_name():
  by_name = collections.defaultdict(list)
  for path in _modules():
    name = os.path.basename(path)
    if name != "__init__.py":
      by_name[name].append(os.path.relpath(path, PACKAGE))
  assert not {n: p for n, p in by_name.items() if len(p) > 1}
