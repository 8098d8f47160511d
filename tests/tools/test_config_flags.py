"""tools/config_flags.py: flags defined from the configs, and what was given.

Run in a subprocess: absl's flags are process-global.
"""

import json
import os
import subprocess
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

_SCRIPT = """
import json, sys
sys.path.insert(0, "tools")
from absl import flags
from alexnet.core.config import TrainConfig
from config_flags import define_config_flags, given_flags
# A tool's own flag with a field's name, as tools/pipeline.py's --seed.
flags.DEFINE_integer("seed", 0, "the data's seed")
define_config_flags(TrainConfig, skip=("seed",), overrides_only=True)
flags.FLAGS(sys.argv)
print(json.dumps(given_flags()))
"""


def _given(*args):
  proc = subprocess.run([sys.executable, "-c", _SCRIPT, *args], cwd=REPO_ROOT,
                        capture_output=True, text=True, check=True)
  return json.loads(proc.stdout.strip().splitlines()[-1])


def test_only_the_config_flags_that_were_set_are_overrides():
  assert _given() == {}
  # --seed is the tool's own flag, never the skipped TrainConfig.seed.
  assert _given("--seed=5") == {}
  assert _given("--epochs=3", "--augment_color") == {"epochs": 3,
                                                      "augment_color": True}


_RANGES = """
import sys
sys.path.insert(0, "tools")
from absl import app
from alexnet.core.config import TrainConfig
from config_flags import define_config_flags, define_float, define_integer
define_config_flags(TrainConfig)
define_integer("top_k", 5, "k", low=1)
define_integer("threads", [1], "n", low=1, multi=True)
define_float("fraction", 0.1, "f", low=0, high=1, high_open=True)
define_integer("limit", None, "n", low=1)
app.run(lambda argv: print("main ran"))
"""


def _ranges(*args):
  return subprocess.run([sys.executable, "-c", _RANGES, *args], cwd=REPO_ROOT,
                        capture_output=True, text=True)


def test_numeric_flags_are_refused_at_parse_time_naming_the_range():
  assert "main ran" in _ranges().stdout  # defaults, and an unset None, pass
  for flag, expected in (
      ("--top_k=0", "flag --top_k=0: 0 is out of range: it must be >= 1"),
      ("--threads=0", "flag --threads=[0]: 0 is out of range: it must be >= 1"),
      ("--fraction=1", "flag --fraction=1.0: 1.0 is out of range: it must be "
       "in [0, 1)"),
      ("--batch_size=0", "flag --batch_size=0: 0 is out of range: it must be "
       ">= 1"),
      ("--learning_rate=0", "it must be > 0"),
      ("--limit=-3", "flag --limit=-3: -3 is out of range"),
  ):
    proc = _ranges(flag)
    assert proc.returncode == 1, flag
    assert "main ran" not in proc.stdout and "Traceback" not in proc.stderr
    assert expected in proc.stderr, (flag, proc.stderr)
  assert "main ran" in _ranges("--top_k=1", "--fraction=0",
                               "--threads=2").stdout


_CHOICES = """
import sys
sys.path.insert(0, "tools")
from absl import app
from alexnet.core.config import TrainConfig
from config_flags import define_config_flags, parse_flags
define_config_flags(TrainConfig)
app.run(lambda argv: print("main ran"), flags_parser=parse_flags)
"""


def test_a_bad_choice_is_one_line_at_parse_time():
  def run(*args):
    return subprocess.run([sys.executable, "-c", _CHOICES, *args],
                          cwd=REPO_ROOT, capture_output=True, text=True)
  proc = run("--class_balance=weights")
  assert proc.returncode == 1 and "main ran" not in proc.stdout
  assert proc.stderr.strip() == ("error: flag --class_balance=weights: value "
                                 "should be one of <none|sampling|loss>")
  assert "main ran" in run("--class_balance=loss", "--augment_blur",
                           "--augment_occlusion").stdout
