"""What every package's commands share: the `--lake` option, opening an existing lake, and the one place
that turns a `FlywheelError` into a message and an exit code.

The packages register their commands on the root app (lakehouse/cli.py) through entry points; a command
raises `UserError`/`CheckFailed` (lakehouse/errors.py) instead of printing and exiting itself, and
`ErrorBoundary`, the root group's class, prints `error: <message>` (exit 2 for a user error) or the
check's message (exit 1), never a traceback for a user mistake.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, get_args, get_origin

import typer
from typer.core import TyperGroup

from lakehouse.errors import CheckFailed, FlywheelError

if TYPE_CHECKING:
    from lakehouse.lake import Lake

# A string, not a Path: `s3://BUCKET/PREFIX` must survive argument parsing (lakehouse/location.py).
LakeOption = Annotated[
    str | None,
    typer.Option(
        "--lake",
        metavar="LAKE",
        help="Lake directory or s3://BUCKET/PREFIX (default: $FLYWHEEL_LAKE or ./lake).",
        show_default=False,
    ),
]


def open_existing_lake(lake: str | Path | None) -> Lake:
    """The lake at `--lake` for a command that needs one; a missing one is a `LakeNotFoundError` (exit 2),
    never a new empty lake."""
    from lakehouse.lake import Lake

    return Lake(lake).require()


def report(exc: FlywheelError) -> int:
    """Print `exc` the way the CLI shows every deliberate error and return its exit code."""
    message = str(exc) if isinstance(exc, CheckFailed) else f"error: {exc}"
    typer.echo(message, err=True)
    return exc.exit_code


class ErrorBoundary(TyperGroup):
    """A command group whose commands (and nested groups) end in `report()` when they raise a
    FlywheelError: one place for the message and the exit code, wherever the group is mounted."""

    def invoke(self, ctx):
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        try:
            return super().invoke(ctx)
        except FlywheelError as exc:
            raise typer.Exit(report(exc)) from None
        except NoArgsIsHelpError:
            raise
        except UsageError as exc:  # a bad flag or value: one line, like every other user error
            hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
            typer.echo(f"error: {exc.format_message()}{hint}", err=True)
            raise typer.Exit(exc.exit_code) from None


def app(**kwargs) -> typer.Typer:
    """A Typer app (or sub-app) whose errors go through the boundary; plain-text help, no rich tracebacks."""
    kwargs.setdefault("no_args_is_help", True)
    return typer.Typer(cls=ErrorBoundary, pretty_exceptions_enable=False, rich_markup_mode=None, **kwargs)


# -- help placeholders ------------------------------------------------------------------------------------
# Typer 0.29 prints `<int>`, `<list[str]>` and `{ref}` in help; the house style (and click's own default) is
# an UPPERCASE placeholder (`REF`, `INTEGER`) and the choices of an option listed (`[table|csv|json]`).
# Typer picks its parameter classes itself, so the rendering is set here once for every command.


def _placeholder(self, ctx) -> str:
    """An option's placeholder: its metavar, its choices listed, or its type's name in capitals."""
    if self.param_type_name == "argument":
        return ""  # the argument's own NAME is its placeholder
    if self.metavar is not None:
        return self.metavar
    desc = self.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    annotation = desc.annotation
    if get_origin(annotation) is list:
        annotation = get_args(annotation)[0]
    return _TYPE_NAMES.get(annotation, getattr(annotation, "__name__", "VALUE").upper())


_TYPE_NAMES = {str: "TEXT", int: "INTEGER", float: "FLOAT", bool: "BOOLEAN", Path: "PATH"}


def _argument_name(self) -> str:
    name = self.metavar or self.name.upper()
    name = name if self.required else f"[{name}]"
    return name + "..." if self.nargs != 1 else name


def _uppercase_placeholders() -> None:
    from typer import core

    # Replacing typer's methods on its own classes, on purpose: setattr says so (to mypy too, which rejects
    # assigning to a method), hence B010's "use plain assignment" is off here.
    display_name = property(lambda self: self.metavar or self.name.upper())
    setattr(core._TyperParameter, "display_name_raw", display_name)  # noqa: B010
    setattr(core._TyperParameter, "display_type", _placeholder)  # noqa: B010
    setattr(core.TyperArgument, "_usage_display_name", _argument_name)  # noqa: B010


_uppercase_placeholders()
