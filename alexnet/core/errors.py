"""The one error type users see, and the wrapper that turns it into one line."""

import errno
import functools
import re
import sys

_DISK_FULL = ("No space left on device", "Disk quota exceeded")
# TensorFlow writes checkpoints as NAME.tempstateHEX and renames them.
_TEMPSTATE = re.compile(r"\.tempstate[0-9a-fA-F]+")


def is_disk_full(error):
  """True for an OSError of a full disk and for TensorFlow's errors of one
  (ResourceExhaustedError, or a message saying so)."""
  return (getattr(error, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or
          (hasattr(error, "error_code") and (
              type(error).__name__ == "ResourceExhaustedError" or
              any(s in str(error) for s in _DISK_FULL))))


def first_line(error, limit=200):
  """The first line of an exception's message (TensorFlow's `message` if it
  has one), cut to `limit` characters: library errors often run to many
  lines, or quote a whole input file on one."""
  text = str(getattr(error, "message", "") or error).strip()
  line = text.splitlines()[0] if text else type(error).__name__
  return line if len(line) <= limit else line[:limit] + "..."


class UserError(Exception):
  """Bad input or environment: the message names the file or value and what to do.

  Tools print it as a single `error: ...` line and exit with status 1, never a
  traceback: these are problems the user fixes, not bugs.
  """


def exit_on_user_error(main):
  """Wraps an absl `main(argv)` so a UserError becomes one line on stderr."""

  @functools.wraps(main)
  def wrapped(argv):
    try:
      return main(argv)
    except UserError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(1)
    except KeyboardInterrupt:
      print("interrupted: completed outputs are kept; run again to continue",
            file=sys.stderr)
      sys.exit(130)
    except OSError as e:
      # Unwritable directories and full disks are the user's to fix.
      name = f" {e.filename}" if getattr(e, "filename", None) else ""
      print(f"error:{name} {e.strerror or e}", file=sys.stderr)
      sys.exit(1)
    except Exception as e:  # pylint: disable=broad-except
      # A full disk under a write that no atomic_files wraps (TensorFlow's
      # checkpoint and summary writers): one line, our temporary names cut.
      if not is_disk_full(e):
        raise
      print(f"error: the disk is full ({_TEMPSTATE.sub('', first_line(e))}): "
            "free some space, then run the same command again",
            file=sys.stderr)
      sys.exit(1)

  return wrapped
