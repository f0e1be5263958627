"""Stage discovery: stage NAME is the module `curation.stages.NAME`, which defines

    Config        a pydantic model of the stage's recipe options (extra keys forbidden)
    run(ctx, config, stats)   does the work, reading and writing the lake through ctx

so adding a stage is adding a module and a recipe entry.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from lakehouse.errors import UserError


class UnknownStage(UserError):
    """A recipe names a stage that is not registered; the message lists the known ones."""


def available() -> list[str]:
    import curation.stages

    return sorted(m.name for m in pkgutil.iter_modules(curation.stages.__path__) if not m.name.startswith("_"))


def load(name: str) -> ModuleType:
    if name not in available():
        raise UnknownStage(f"unknown stage {name!r} (available: {', '.join(available())})")
    return importlib.import_module(f"curation.stages.{name}")
