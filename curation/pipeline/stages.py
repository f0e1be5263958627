"""Stage discovery and the `Stage` protocol: stage NAME is the module `curation.stages.NAME`, which defines

    Config        a pydantic model of the stage's recipe options (extra keys forbidden)
    REQUIRES      the heavy libraries it imports, as (import name, pip package) pairs
    run(ctx, config, stats)   does the work, reading and writing the lake through ctx, and records what
                  it did in `stats` (rows in and out, dropped rows by reason, the stage's `details`)

so adding a stage is adding a module and a recipe entry. This is datatrove's `PipelineStep` contract
(`run` plus per-step stats plus a dependency check) for stages that are modules rather than classes: a
stage's heavy libraries are imported inside `run`, so a missing one is found by `load` (before the recipe
runs anything) and, should the import still fail inside `run`, reported by `run_stage` the same way: as
`MissingDependency` naming the pip package, instead of a traceback from deep inside the stage.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

from pydantic import BaseModel

import curation.stages
from lakehouse.errors import MissingDependency
from lakehouse.runs import StageStats

if TYPE_CHECKING:
    from curation.pipeline.context import StageContext

from lakehouse.errors import UserError


class UnknownStage(UserError):
    """A recipe names a stage that is not registered; the message lists the known ones."""


@runtime_checkable
class Stage(Protocol):
    """What every module under `curation/stages/` provides (a module satisfies a protocol structurally)."""

    Config: type[BaseModel]
    REQUIRES: tuple[tuple[str, str], ...]

    def run(self, ctx: StageContext, config: Any, stats: StageStats) -> None: ...


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(curation.stages.__path__) if not m.name.startswith("_"))


def load(name: str, check_dependencies: bool = True) -> Stage:
    """The stage module, checked against the protocol and (unless told not to) for its libraries."""
    if name not in available():
        raise UnknownStage(f"unknown stage {name!r} (available: {', '.join(available())})")
    module = importlib.import_module(f"curation.stages.{name}")
    if not isinstance(module, Stage):
        missing = [attr for attr in ("Config", "REQUIRES", "run") if not hasattr(module, attr)]
        raise TypeError(
            f"stage module curation.stages.{name} lacks {', '.join(missing)} (see curation/pipeline/stages.py)"
        )
    stage = cast(Stage, module)
    if check_dependencies:
        require(name, stage.REQUIRES)
    return stage


def require(stage: str, requires: tuple[tuple[str, str], ...]) -> None:
    """Raise MissingDependency naming every pip package whose module cannot be found (nothing is imported)."""
    missing = [pip for module, pip in requires if importlib.util.find_spec(module) is None]
    if missing:
        raise MissingDependency(_missing_message(stage, missing))


def run_stage(name: str, stage: Stage, ctx: StageContext, config: Any, stats: StageStats) -> None:
    """`stage.run`, with an import of one of its REQUIRES that fails turned into MissingDependency."""
    try:
        stage.run(ctx, config, stats)
    except ImportError as exc:
        root = (exc.name or "").split(".")[0]
        packages = [pip for module, pip in stage.REQUIRES if module == root]
        if not packages:
            raise
        raise MissingDependency(_missing_message(name, packages) + f" ({exc})") from exc


def _missing_message(stage: str, packages: list[str]) -> str:
    return (
        f"stage {stage!r} needs {', '.join(packages)}, which {'is' if len(packages) == 1 else 'are'} not "
        f"installed: pip install {' '.join(packages)} (pinned in requirements.txt)"
    )
