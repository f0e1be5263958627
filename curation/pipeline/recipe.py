"""Recipes: YAML files listing the stages of a run, each validated by its stage's pydantic model.

A recipe entry is `{stage: NAME, ...options}`; the options are checked against the stage's `Config`
model with unknown keys forbidden, and every error names the entry and key that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from curation.pipeline import stages as stage_registry
from curation.pipeline.executor import ExecutorConfig
from lakehouse.config import StrictModel, format_validation_error, read_yaml_mapping
from lakehouse.errors import ConfigError
from lakehouse.runs import stable_hash


class RecipeError(ConfigError):
    """A recipe that cannot be loaded; the message names the file, the entry and the key."""


class RecipeFile(StrictModel):
    name: str
    description: str = ""
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    stages: list[dict] = Field(min_length=1)


@dataclass
class Step:
    name: str
    config: BaseModel


@dataclass
class Recipe:
    path: Path | None
    name: str
    steps: list[Step]
    raw: dict
    executor: ExecutorConfig | None = None  # None: the local executor

    @property
    def hash(self) -> str:
        """Over what the recipe makes, not where it runs: the executor is left out, so a recipe moved
        from a laptop to a cluster keeps its hash (and its releases their content hashes)."""
        return stable_hash({k: v for k, v in self.raw.items() if k != "executor"})

    def config(self, stage: str) -> BaseModel | None:
        """The config of the first step of a stage in this recipe (stages read each other's settings)."""
        return next((s.config for s in self.steps if s.name == stage), None)


def parse(raw: dict, where: str = "recipe", path: Path | None = None) -> Recipe:
    if not isinstance(raw, dict):
        raise RecipeError(f"{where}: a recipe must be a mapping with `name` and `stages`")
    try:
        top = RecipeFile.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(format_validation_error(exc, where)) from None
    steps = []
    for index, entry in enumerate(top.stages):
        entry = dict(entry)
        name = entry.pop("stage", None)
        label = f"{where}: stages[{index}]"
        if not isinstance(name, str):
            raise RecipeError(f"{label}: missing key `stage` (one of: {', '.join(stage_registry.available())})")
        try:
            module = stage_registry.load(name, check_dependencies=False)  # the runner checks what it runs
        except stage_registry.UnknownStage as exc:
            raise RecipeError(f"{label}: {exc}") from None
        try:
            config = module.Config.model_validate(entry)
        except ValidationError as exc:
            raise RecipeError(format_validation_error(exc, f"{label} ({name})")) from None
        steps.append(Step(name, config))
    return Recipe(path, top.name, steps, raw, top.executor)


def load(path: Path) -> Recipe:
    if not path.exists():
        raise RecipeError(f"recipe {path} does not exist")
    try:
        raw = read_yaml_mapping(path)
    except ConfigError as exc:
        raise RecipeError(str(exc)) from None
    return parse(raw, str(path), path)
