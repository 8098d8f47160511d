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
