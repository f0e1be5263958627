"""The one way the project reads a settings file: a strict pydantic model, loaded from YAML, whose every
error names the file and the bad key.

Every config model derives from `StrictModel` (unknown keys are errors, so a typo never falls back to a
default silently), or from `FrozenStrictModel` where a settings object is shared and must not change after
validation (engine configs, manifest sections); `load_yaml_model()` reads a file into one and turns
each failure (missing file, broken YAML, wrong top level, a bad key) into a `ConfigError` whose message
the CLI prints as `error: ...`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from lakehouse.errors import ConfigError

Model = TypeVar("Model", bound=BaseModel)


class StrictModel(BaseModel):
    """A config section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


class FrozenStrictModel(BaseModel):
    """A strict config section that cannot be changed once validated (and so can be hashed and shared)."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def repeated(values: Iterable[str]) -> list[str]:
    """The values that occur more than once, sorted: what a "names must be unique" validator reports."""
    counts = Counter(values)
    return sorted(value for value, count in counts.items() if count > 1)


def format_validation_error(error: ValidationError, where: str) -> str:
    """One line per problem, `WHERE: dotted.key: what is wrong`; an unknown key says `unknown key`."""
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"{where}: {key}: {message}")
    return "\n".join(lines)


def validate_model(model: type[Model], raw: object, where: str) -> Model:
    """`model` validated from `raw`; a ValidationError becomes a ConfigError naming `where` and the key."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, where)) from None


def read_yaml(path: str | Path) -> object:
    """What a YAML file holds (an empty file is None); a missing file or broken YAML is a ConfigError
    naming the file."""
    import yaml

    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a YAML file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def read_yaml_mapping(path: str | Path) -> dict:
    """The mapping at the top of a YAML file (an empty file is an empty mapping); anything else, a missing
    file or broken YAML is a ConfigError naming the file."""
    raw = read_yaml(path)
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of settings, not {type(raw).__name__}")
    return raw


def load_yaml_model(path: str | Path, model: type[Model]) -> Model:
    """Read a YAML file into `model`; every failure is a ConfigError that names the file and the key."""
    return validate_model(model, read_yaml_mapping(path), str(path))
