"""The labeling configuration (guidelines, question set, rating scale, agreement rules) and its loader.

A queue copies the parts it needs into its own spec when it is created (see `queue_spec`), so labels
always point at the guideline and question-set versions that were shown to the annotator.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, cast

from pydantic import BaseModel, Field, field_validator, model_validator

from lakehouse import config
from lakehouse.config import repeated
from lakehouse.errors import ConfigError

KINDS = ("pairwise", "questionnaire", "rewrite", "rating", "interactive")
Kind = Literal["pairwise", "questionnaire", "rewrite", "rating", "interactive"]
# The questions asked of every candidate of an interactive turn (a subset of the question set).
ALWAYS_ASKED = ("false_refusal", "templated")
ANSWERS = ("yes", "no", "unsure")
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "configs" / "labeling.yaml"


class Question(config.FrozenStrictModel):
    id: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")
    text: str = Field(min_length=1)


class QuestionSet(config.FrozenStrictModel):
    version: str = Field(min_length=1)
    items: list[Question] = Field(min_length=1)

    @field_validator("items")
    @classmethod
    def _unique_ids(cls, items: list[Question]) -> list[Question]:
        duplicates = repeated(q.id for q in items)
        if duplicates:
            raise ValueError(f"duplicate question ids: {', '.join(duplicates)}")
        return items


class RatingScale(config.FrozenStrictModel):
    min: int = 1
    max: int = 5
    labels: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _ordered(self) -> RatingScale:
        if self.max <= self.min:
            raise ValueError(f"rating.max ({self.max}) must be greater than rating.min ({self.min})")
        if self.max - self.min > 9:
            raise ValueError("a rating scale has at most 10 points (one keyboard digit each)")
        return self


class LabelingConfig(config.FrozenStrictModel):
    guideline_version: str = Field(min_length=1)
    min_agreement: float = Field(0.66, gt=0, le=1)
    rating_tolerance: int = Field(1, ge=0)
    lease_minutes: int = Field(30, ge=1)
    undo_seconds: int = Field(120, ge=0, le=3600)
    gold_rate: float = Field(0.0, ge=0, le=0.5)
    skip_reasons: list[str] = Field(min_length=1)
    rating: RatingScale = RatingScale()
    questions: QuestionSet
    guidelines: dict[Kind, str]

    @field_validator("guidelines")
    @classmethod
    def _every_kind(cls, guidelines: dict[str, str]) -> dict[str, str]:
        missing = [k for k in KINDS if not guidelines.get(k, "").strip()]
        if missing:
            raise ValueError(f"missing guideline for: {', '.join(missing)}")
        return guidelines


def load_yaml_model(path: Path, model: type[BaseModel]):
    """Read a YAML file into `model`; every failure is a ConfigError that names the file and the key."""
    return config.load_yaml_model(path, model)


def load_config(path: Path | None = None) -> LabelingConfig:
    return load_yaml_model(path or DEFAULT_CONFIG, LabelingConfig)


def queue_spec(config: LabelingConfig, kind: str) -> dict:
    """What a queue of `kind` keeps from the config: its guideline, versions and kind-specific settings."""
    if kind not in KINDS:
        raise ConfigError(f"unknown task kind {kind!r}; known: {', '.join(KINDS)}")
    spec = {
        "kind": kind,
        "guideline_version": config.guideline_version,
        "guideline": config.guidelines[cast(Kind, kind)],  # checked against KINDS above
        "min_agreement": config.min_agreement,
        "lease_minutes": config.lease_minutes,
        "undo_seconds": config.undo_seconds,
        "gold_rate": config.gold_rate,
        "skip_reasons": list(config.skip_reasons),
    }
    if kind == "questionnaire":
        spec["question_set_version"] = config.questions.version
        spec["questions"] = [q.model_dump() for q in config.questions.items]
    if kind == "interactive":
        spec["question_set_version"] = config.questions.version
        spec["questions"] = [q.model_dump() for q in config.questions.items if q.id in ALWAYS_ASKED]
    if kind == "rating":
        spec["rating"] = config.rating.model_dump()
        spec["rating_tolerance"] = config.rating_tolerance
    return spec
