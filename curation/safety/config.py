"""The safety stage's recipe options: which classifiers score which roles' messages.

Every model forbids unknown keys, and whatever can be checked before a model is loaded is checked here, so
a wrong path or label is an error naming its key (`classifiers.1.hf.path: ...`) when the recipe is read,
not a traceback minutes into a run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from lakehouse.config import StrictModel, repeated

NAME = r"^[a-z0-9][a-z0-9_.:-]*$"
# Label names taken as unsafe when a model's recipe entry does not list them (`unsafe_labels`).
UNSAFE_LABEL = re.compile(
    r"unsafe|toxic|offensive|hate|harm|profan|obscen|insult|threat|abus|nsfw|sexual|violen", re.IGNORECASE
)
# ... unless the name negates it (`non-toxic`, `not_hate`, `safe`).
SAFE_LABEL = re.compile(r"^(safe|neutral|ok|clean|none|normal|benign|(non|not|no)[-_ ]?\w+)$", re.IGNORECASE)


class ProfanityClassifier(StrictModel):
    """alt-profanity-check: a linear model over character n-grams that ships in its PyPI package (offline,
    CPU, tens of thousands of messages a second)."""

    type: Literal["profanity"]
    name: str = Field("profanity", pattern=NAME, description="the classifier's name in the scores")
    threshold: float = Field(0.5, gt=0, le=1, description="flag a message whose score is at least this")


class HfClassifier(StrictModel):
    """A local Hugging Face sequence-classification model directory (config.json, weights, tokenizer).

    The score is the probability of the unsafe labels (softmax; sigmoid for multi-label models), flagged at
    `threshold`. Nothing is downloaded: the directory must hold the whole model.
    """

    type: Literal["hf"]
    path: Path = Field(description="the model directory (with config.json)")
    name: str | None = Field(None, pattern=NAME, description="default: hf:<directory name>")
    unsafe_labels: list[str] | None = Field(
        None,
        min_length=1,
        description="the model's labels that mean unsafe; default: the labels whose name says "
        "so (unsafe, toxic, hate, ...), else label 1 of a two-label model",
    )
    threshold: float = Field(0.5, gt=0, le=1)
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="auto: cuda when torch sees a GPU")
    batch_size: int = Field(32, gt=0, description="messages per forward pass (length-sorted)")
    max_length: int = Field(512, gt=0, description="tokens per message; longer ones are truncated")

    @field_validator("path")
    @classmethod
    def _model_dir(cls, value: Path) -> Path:
        if not value.is_dir():
            raise ValueError(f"{value} is not a directory (a local Hugging Face model directory is needed)")
        if not (value / "config.json").is_file():
            raise ValueError(f"{value} has no config.json: not a Hugging Face model directory")
        return value

    @model_validator(mode="after")
    def _labels(self) -> HfClassifier:
        if self.name is None:
            self.name = "hf:" + re.sub(r"[^a-z0-9_.-]+", "-", self.path.resolve().name.lower()).strip("-")
        self.unsafe_labels = resolve_unsafe_labels(self.labels(), self.unsafe_labels)
        return self

    def labels(self) -> list[str]:
        """The model's label names in id order (config.json's id2label)."""
        config = json.loads((self.path / "config.json").read_text())
        id2label = config.get("id2label") or {str(i): f"LABEL_{i}" for i in range(config.get("num_labels", 2))}
        return [id2label[k] for k in sorted(id2label, key=int)]


def resolve_unsafe_labels(labels: list[str], wanted: list[str] | None) -> list[str]:
    """The unsafe label names: the given ones (each must be a label of the model), or the default rule."""
    if wanted is not None:
        unknown = [label for label in wanted if label not in labels]
        if unknown:
            raise ValueError(f"unsafe_labels: {', '.join(unknown)} not among the model's labels ({', '.join(labels)})")
        return wanted
    named = [label for label in labels if UNSAFE_LABEL.search(label) and not SAFE_LABEL.match(label)]
    if named:
        return named
    if len(labels) == 2:
        return [labels[1]]
    raise ValueError(f"unsafe_labels: set it: none of the model's labels ({', '.join(labels)}) says unsafe")


Classifier = Annotated[ProfanityClassifier | HfClassifier, Field(discriminator="type")]


def _default_classifiers() -> list:
    return [ProfanityClassifier(type="profanity")]


Role = Literal["user", "assistant", "system"]
_DEFAULT_ROLES: tuple[Role, ...] = ("user", "assistant")


class SafetyConfig(StrictModel):
    """The `safety` stage: every listed classifier scores every message of the listed roles."""

    classifiers: list[Classifier] = Field(default_factory=_default_classifiers, min_length=1)
    roles: list[Role] = Field(
        default_factory=lambda: list(_DEFAULT_ROLES), min_length=1, description="whose messages are scored"
    )

    @model_validator(mode="after")
    def _unique_names(self) -> SafetyConfig:
        duplicates = repeated(c.name for c in self.classifiers if c.name is not None)  # each set by its validator
        if duplicates:
            raise ValueError(f"classifiers: names must be unique ({', '.join(duplicates)}); set `name`")
        return self
