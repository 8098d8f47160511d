"""Finding, checking and restoring the checkpoints of a model directory.

model_dir/model.ckpt-STEP.*   written while training (with optimizer state)
model_dir/best/model.ckpt-STEP.*  the model variables of the checkpoint with
                              the best validation top-1 so far (without a
                              validation split: the last epoch's), and
                              best.json

A run trained with moving averages (model_fn's moving_average_decay) saves
each network variable's average as VARIABLE/ExponentialMovingAverage beside
it; `restore` reads the averages when the checkpoint has them all, so
validation, best/ (which stores them under the plain names), evaluation and
export all use the averaged model.
"""

import glob
import json
import os

import tensorflow as tf

from alexnet.core.errors import UserError, first_line

PREFIX = "model.ckpt"  # Checkpoints are PREFIX-STEP.* (export/: PREFIX.*).
BEST_DIR = "best"
BEST_JSON = "best.json"
CHOICES = ("best", "latest")
MOVING_AVERAGE = "ExponentialMovingAverage"  # Name of the averages' scope.


def latest(model_dir):
  """Path prefix of the newest training checkpoint, or None."""
  return tf.train.latest_checkpoint(model_dir)


def global_step(checkpoint_path):
  """The step a checkpoint was written at, from its name (model.ckpt-STEP)."""
  suffix = checkpoint_path.rsplit("-", 1)[-1]
  return int(suffix) if suffix.isdigit() else None


def read_best(model_dir):
  """The best checkpoint's record {step, epoch, val_top1, ...} or None."""
  path = os.path.join(model_dir, BEST_DIR, BEST_JSON)
  if not os.path.exists(path):
    return None
  with open(path) as f:
    return json.load(f)


def resolve(model_dir, which="best"):
  """The checkpoint path for "best", "latest" or an explicit path prefix."""
  if which == "latest":
    path = latest(model_dir)
    if path is None:
      raise UserError(f"{model_dir} has no checkpoint: train into it with "
                      "tools/train.py first")
    return path
  if which == "best":
    path = tf.train.latest_checkpoint(os.path.join(model_dir, BEST_DIR))
    if path is None:
      what = ("has no checkpoint: train into it with tools/train.py first"
              if latest(model_dir) is None else
              f"has no {BEST_DIR}/ checkpoint (it is kept at the end of "
              "each epoch): pass --checkpoint=latest")
      raise UserError(f"{model_dir} {what}")
    return path
  if not tf.io.gfile.exists(which + ".index"):
    raise UserError(f"checkpoint {which} not found (no {which}.index): pass "
                    "best, latest or a path prefix like DIR/model.ckpt-1000")
  return which


def average_name(name):
  """The checkpoint name of the moving average of the variable `name`."""
  return f"{name}/{MOVING_AVERAGE}"


def _by_name(variables):
  """{checkpoint name: variable}: a mapping as given (a committee column's
  variables under the names its own checkpoint has), else each variable
  under its own name."""
  if isinstance(variables, dict):
    return variables
  return {v.op.name: v for v in variables}


def _unreadable(checkpoint_path, error, what=""):
  """The UserError of a checkpoint that TensorFlow cannot read."""
  return UserError(f"checkpoint {checkpoint_path} is corrupt or truncated"
                   f"{what} ({first_line(error)}): pass another checkpoint (e.g. an "
                   "earlier model.ckpt-STEP) or train it again")


class Reader:
  """tf.train.load_checkpoint's reader, checked: every failure to read the
  checkpoint is a UserError naming it (and the variable). The one way the
  project reads checkpoint values."""

  def __init__(self, checkpoint_path):
    self.path = checkpoint_path
    # V2 checkpoints are PATH.index + PATH.data-*, V1 ones the file PATH.
    if not (glob.glob(glob.escape(checkpoint_path) + "*") and (
        not os.path.isdir(checkpoint_path) or latest(checkpoint_path))):
      raise UserError(f"checkpoint {checkpoint_path} not found (no "
                      f"{checkpoint_path}.index): pass a path prefix like "
                      "DIR/model.ckpt-1000")
    try:
      self._reader = tf.train.load_checkpoint(checkpoint_path)
    except (tf.errors.OpError, ValueError, IndexError) as e:
      raise _unreadable(checkpoint_path, e) from None

  def shapes(self):
    """{name: shape} of every saved tensor."""
    return self._reader.get_variable_to_shape_map()

  def has_tensor(self, name):
    return self._reader.has_tensor(name)

  def get_tensor(self, name):
    try:
      return self._reader.get_tensor(name)
    except (tf.errors.OpError, ValueError, IndexError) as e:
      raise _unreadable(self.path, e, f" (reading {name})") from None


def check_readable(checkpoint_path):
  """Reads every tensor of the checkpoint once; UserError naming it (and the
  first unreadable variable) when one cannot be read."""
  reader = Reader(checkpoint_path)
  for name in sorted(reader.shapes()):
    reader.get_tensor(name)


def remove_leftovers(save_dir):
  """Deletes the temporary files (PREFIX*.tempstate*) that a killed or
  failed checkpoint save leaves in save_dir; their paths."""
  leftovers = glob.glob(os.path.join(glob.escape(save_dir),
                                     f"{PREFIX}*.tempstate*"))
  for path in leftovers:
    os.remove(path)
  return leftovers


def resume_point(model_dir):
  """The checkpoint training resumes from (None for a new run), checked
  readable, after removing leftovers of interrupted saves (also in best/)."""
  remove_leftovers(model_dir)
  remove_leftovers(os.path.join(model_dir, BEST_DIR))
  path = latest(model_dir)
  if path is not None:
    check_readable(path)
  return path


def _saved_shapes(checkpoint_path):
  """The checkpoint's {name: shape}; UserError if it cannot be read."""
  return dict(Reader(checkpoint_path).shapes())


def averaged_names(checkpoint_path):
  """The names of the checkpoint's variables that have a moving average."""
  saved = _saved_shapes(checkpoint_path)
  return sorted(n for n in saved if average_name(n) in saved)


def check_compatible(checkpoint_path, variables):
  """The checkpoint's {name: shape}; UserError unless it holds each variable
  (a list, or a {checkpoint name: variable} mapping) with its shape."""
  saved = _saved_shapes(checkpoint_path)
  for name, v in _by_name(variables).items():
    shape = v.shape.as_list()
    if name not in saved:
      raise UserError(f"checkpoint {checkpoint_path} has no variable {name}: "
                      "it is not from this network (check --normalization)")
    if list(saved[name]) != shape:
      raise UserError(
          f"checkpoint {checkpoint_path} holds {name} as {saved[name]} but "
          f"this model needs {shape}: it was trained with another image size "
          "or class count; use its model_dir's settings or a new model_dir")
  return saved


def restorer(checkpoint_path, variables=None):
  """A Saver restoring `variables` (default: all global ones; a list, or a
  {checkpoint name: variable} mapping) from `checkpoint_path`, after
  checking them; built before a graph is finalized.

  From the variables' moving averages where the checkpoint has one for each.
  """
  variables = _by_name(tf.compat.v1.global_variables() if variables is None
                       else variables)
  saved = check_compatible(checkpoint_path, variables)
  averages = {average_name(name): v for name, v in variables.items()}
  if averages and all(name in saved for name in averages):
    variables = averages
  return tf.compat.v1.train.Saver(variables)


def restore(session, checkpoint_path, variables=None, saver=None):
  """Restores `variables` as `restorer` says, or with `saver`, a restorer
  built before the graph was finalized."""
  saver = saver or restorer(checkpoint_path, variables)
  try:
    saver.restore(session, checkpoint_path)
  except (tf.errors.OpError, ValueError, IndexError) as e:
    raise _unreadable(checkpoint_path, e) from None


def save(session, save_dir, step=None, variables=None):
  """Saves `variables` into save_dir/model.ckpt[-step] with relative paths.

  Relative paths in the `checkpoint` file keep save_dir valid after it is
  renamed or copied elsewhere.
  """
  saver = tf.compat.v1.train.Saver(variables, save_relative_paths=True)
  return saver.save(session, os.path.join(save_dir, PREFIX),
                    global_step=step)
