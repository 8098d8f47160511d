"""Runs many tool command lines, each in its own forked process, after one
import of TensorFlow and the library: what makes the tests' tool runs and the
catalogue of faults cheap (a fresh process spends seconds importing).

  python tests/fork_tools.py CASES.json RESULTS.json
  python tests/fork_tools.py --serve SCRATCH_DIR

CASES.json: {"watch": [DIR, ...], "cases": [{"tool": "evaluate", "args":
[...], "cwd": DIR}, ...]}. Each case runs `tools/TOOL.py ARGS` as its
`__main__` in a child forked from this process, so its flags, exit status
and output are exactly a command line's; only the imports are shared (the
parent defines no flags and runs no op). RESULTS.json: [{"rc", "stdout",
"stderr", "seconds", "changed"}, ...] in the cases' order; "changed" lists
the files under the watched folders that the case added, removed or
modified.

--serve reads one case a line ({"tool", "args", "cwd", "timeout"}) on stdin
and answers each with one line {"rc", "stdout", "stderr", "seconds"} on
stdout (tests/conftest.py's run_tool).
"""

import hashlib
import importlib
import json
import os
import pkgutil
import runpy
import signal
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS_DIR = os.path.join(REPO_ROOT, "tools")
CASE_TIMEOUT_S = 120


def _snapshot(roots):
  """{path: fingerprint} of every file under roots (content hash for small
  files, size and mtime for large ones)."""
  found = {}
  for root in roots:
    for folder, dirs, files in os.walk(root):
      for name in dirs + files:
        path = os.path.join(folder, name)
        if os.path.isdir(path):
          found[path] = "dir"
          continue
        stat = os.stat(path)
        if stat.st_size <= 1 << 20:
          with open(path, "rb") as f:
            found[path] = hashlib.sha1(f.read()).hexdigest()
        else:
          found[path] = (stat.st_size, stat.st_mtime_ns)
  return found


def _preimport():
  import alexnet  # noqa: F401  (first: it picks TensorFlow's kernels)
  for module in pkgutil.walk_packages(alexnet.__path__, "alexnet."):
    importlib.import_module(module.name)
  import tensorflow as tf  # pylint: disable=import-outside-toplevel
  # Finds the devices here, once: else every child logs the CUDA probe's
  # error line on its stderr, which a tool run on its own does not.
  tf.config.list_physical_devices()


def _child(case, out_path, err_path):
  os.chdir(case.get("cwd") or REPO_ROOT)
  for fd, path in ((1, out_path), (2, err_path)):
    f = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(f, fd)
    os.close(f)
  signal.alarm(case.get("timeout") or CASE_TIMEOUT_S)
  script = os.path.join(TOOLS_DIR, case["tool"] + ".py")
  sys.argv = [script] + [str(a) for a in case["args"]]
  sys.path.insert(0, TOOLS_DIR)
  code = 0
  try:
    runpy.run_path(script, run_name="__main__")
  except SystemExit as e:
    code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
  except BaseException:  # pylint: disable=broad-except
    import traceback  # pylint: disable=import-outside-toplevel
    traceback.print_exc()
    code = 1
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(code)  # no atexit handlers of the parent's imports


def run_case(case, scratch):
  """{"rc", "seconds", "stdout", "stderr"} of one case, run in a child forked
  from this process; its output goes through files under `scratch`."""
  start = time.perf_counter()
  out_path = os.path.join(scratch, f".case{os.getpid()}.out")
  err_path = os.path.join(scratch, f".case{os.getpid()}.err")
  sys.stdout.flush()
  sys.stderr.flush()
  pid = os.fork()
  if pid == 0:
    _child(case, out_path, err_path)
  _, status = os.waitpid(pid, 0)
  result = {"rc": os.waitstatus_to_exitcode(status),
            "seconds": time.perf_counter() - start}
  for key, path in (("stdout", out_path), ("stderr", err_path)):
    with open(path, errors="replace") as f:
      result[key] = f.read()
    os.remove(path)
  return result


def main(cases_path, results_path):
  _preimport()
  with open(cases_path) as f:
    config = json.load(f)
  cases, watch = config["cases"], config.get("watch", [])
  scratch = os.path.dirname(os.path.abspath(results_path))
  results = []
  before = _snapshot(watch)
  for case in cases:
    result = run_case(case, scratch)
    after = _snapshot(watch)
    result["changed"] = sorted(p for p in set(before) | set(after)
                               if before.get(p) != after.get(p))
    before = after
    results.append(result)
  with open(results_path, "w") as f:
    json.dump(results, f)


def serve(scratch):
  """Answers cases read on stdin until it closes. The answers go on the
  stdout this process started with; anything else printed goes to stderr,
  so a stray print cannot break a line of the protocol."""
  answers = os.fdopen(os.dup(1), "w")
  os.dup2(2, 1)
  _preimport()
  for line in sys.stdin:
    answers.write(json.dumps(run_case(json.loads(line), scratch)) + "\n")
    answers.flush()


if __name__ == "__main__":
  if sys.argv[1:2] == ["--serve"]:
    serve(sys.argv[2])
  else:
    main(*sys.argv[1:])
