"""The one error hierarchy of the project (after Dolma's `core/errors.py`).

Every error a user can meet derives from `FlywheelError`, and its subclass says what the caller should do:

- `UserError`: the input, flags, recipe or lake given are wrong; the user fixes them and reruns. The CLI prints
  `error: <message>` without a traceback and exits 2.
- `CheckFailed`: a check ran to the end and found a problem (a leak scan, `verify`, `eval --strict`). The CLI
  prints the message and exits 1.

Anything else that escapes is a bug and keeps its traceback. Packages subclass these (e.g. `LakeError`,
`RecipeError`) so a caller can catch one package's errors, and the CLI catches them all in one place.
"""


class FlywheelError(Exception):
    """Base of every error this project raises on purpose."""

    exit_code = 1


class UserError(FlywheelError):
    """Bad input, flags, configuration or lake: fix it and rerun (exit 2)."""

    exit_code = 2


class CheckFailed(FlywheelError):
    """A check completed and failed; its message says what it found (exit 1)."""

    exit_code = 1


class MissingDependency(UserError):
    """An optional heavy library or model a stage needs is not installed; the message names the package."""


class ConfigError(UserError, ValueError):
    """A config file, recipe or override is missing, not YAML, or fails validation; the message names the
    file and the bad key. (A ValueError too, so callers that caught the packages' old ConfigErrors still do.)"""


class InputError(UserError, ValueError):
    """An input file or path that cannot be read as promised (missing, wrong format, a bad line); the message
    names the file and, where there is one, the line."""
