"""exit_on_user_error: one line for user errors and full disks, never a
traceback; everything else still raises."""

import pytest
import tensorflow as tf

from alexnet.core.errors import UserError, exit_on_user_error, first_line


def _exit(error, capsys):
  def main(argv):
    del argv
    raise error
  with pytest.raises(SystemExit) as raised:
    exit_on_user_error(main)(["tool"])
  return raised.value.code, capsys.readouterr().err


def test_user_error_is_one_line(capsys):
  assert _exit(UserError("--x=0 is out of range"), capsys) == (
      1, "error: --x=0 is out of range\n")


def test_tensorflows_full_disk_is_one_line_without_temporary_names(capsys):
  error = tf.errors.ResourceExhaustedError(
      None, None, "/run/m/model.ckpt-5.index.tempstate1f2e3d; No space left "
      "on device\n\tfurther context")
  code, err = _exit(error, capsys)
  assert code == 1 and err.count("\n") == 1
  assert err.startswith("error: the disk is full (/run/m/model.ckpt-5.index;")
  assert "tempstate" not in err


def test_other_errors_still_raise():
  def main(argv):
    raise RuntimeError("a bug")
  with pytest.raises(RuntimeError):
    exit_on_user_error(main)(["tool"])


def test_first_line_cuts_long_messages():
  assert first_line(ValueError("a\nb")) == "a"
  assert first_line(ValueError("x" * 500), limit=10) == "x" * 10 + "..."
  assert first_line(ValueError("")) == "ValueError"
