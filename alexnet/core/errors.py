"""The one error type users see, and the wrapper that turns it into one line."""

import functools
import sys


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

  return wrapped
