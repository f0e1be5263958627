"""Release recipes: the `releases` list of the `release` stage, one entry per release (docs/releases.md).

An entry names its TRL type, a base filter (SQL over the `samples` view), the sources its rows come from
(each with its own filter and an optional cap or ratio), how it is split, the pair filters, the leakage
check against the frozen evaluation prompts and the style-artifact thresholds. Every model forbids
unknown keys, so a typo is an error that names the key.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, field_validator, model_validator

from lakehouse.config import StrictModel, repeated
from lakehouse.errors import ConfigError
from lakehouse.releases import NAME_PATTERN
from lakehouse.sql_guard import RefusedSQL, check_expression
from lakehouse.style_artifacts import check_feature_names

TrlType = Literal["sft", "preference", "unpaired", "prompt", "signals"]
SOURCE_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
# Columns a prompt release may be stratified by (those of the `samples` view that name a group).
STRATA_COLUMNS = (
    "source",
    "character_id",
    "model_version",
    "topic_cluster",
    "dedup_cluster",
    "locale",
    "app",
    "experiment_id",
    "arm",
    "depth",
    "day",
)

Split = Literal["train", "validation", "test"]


def _one_expression(value: str | None, info) -> str | None:
    """A recipe's SQL condition is pasted into the build's queries: it must be one expression (DuckDB's
    parser decides), so `true)) s; COPY ...` is refused when the recipe loads, before any query runs."""
    if value is None:
        return value
    try:
        return check_expression(value, what=info.field_name)
    except RefusedSQL as exc:
        raise ValueError(str(exc)) from None


class SourceBase(StrictModel):
    """What every source has: a name (recorded on each row as `origin`), a filter, a cap and a ratio."""

    name: str = Field(pattern=SOURCE_NAME)
    filter: str | None = Field(None, description="SQL condition over the anchor sample (the `samples` view).")
    cap: int | None = Field(None, gt=0, description="At most this many rows from this source.")
    ratio: float | None = Field(
        None,
        gt=0,
        description="Share of the mixture (sources with a ratio are mixed in these proportions; see `total`).",
    )

    _filter_expression = field_validator("filter")(_one_expression)


class SamplesSource(SourceBase):
    """Turn samples (`sft`: the sample's prompt and reply; `prompt`: its prompt)."""

    kind: Literal["samples"] = "samples"
    stratify_by: list[str] = Field(
        default_factory=list, description="prompt releases: sample evenly across these columns' values"
    )
    per_stratum: int | None = Field(None, gt=0, description="prompt releases: at most this many per stratum")

    @field_validator("stratify_by")
    @classmethod
    def _known_strata(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in STRATA_COLUMNS]
        if unknown:
            raise ValueError(f"unknown stratum column(s) {', '.join(unknown)}; known: {', '.join(STRATA_COLUMNS)}")
        return value


class RegenerationsSource(SourceBase):
    """A regenerated reply is rejected; its replacement is chosen if the user went on with it or liked it."""

    kind: Literal["regenerations"] = "regenerations"
    chosen_when: str = Field(
        "continued OR thumb = 1", description="SQL condition over the replacement sample that makes it `chosen`"
    )

    _chosen_expression = field_validator("chosen_when")(_one_expression)


class PairsSource(SourceBase):
    """Pairs that arrived as pairs (hh-rlhf): the `preference_pairs` view."""

    kind: Literal["preference_pairs"] = "preference_pairs"


class SignalsSource(SourceBase):
    """Unpaired rows from user signals: desirable and undesirable replies by SQL conditions."""

    kind: Literal["signals"] = "signals"
    desirable: str = Field("thumb = 1", description="SQL condition over a sample that makes it desirable")
    undesirable: str = Field("thumb = -1 OR reported", description="SQL condition that makes it undesirable")

    _signal_expressions = field_validator("desirable", "undesirable")(_one_expression)


class LabelsSource(SourceBase):
    """Consensus labels from the labeling app (the `labels_consensus` view; contract in docs/releases.md).

    Preference releases take pairwise items with a winner (ties are dropped); unpaired releases take the
    answer to `question`. Only kept items (full labels and agreement at the queue's bar) are used, and at
    least `min_agreement` of annotators must agree.
    """

    kind: Literal["labels"] = "labels"
    queue: str | None = Field(None, description="only items of this labeling queue")
    min_agreement: float = Field(0.0, ge=0, le=1)
    question: str | None = Field(None, description="unpaired: the question whose answer labels the reply")
    desirable_answers: list[str] = Field(default_factory=lambda: ["yes"])
    undesirable_answers: list[str] = Field(default_factory=lambda: ["no"])


class ReleaseSource(SourceBase):
    """The rows of another release of the same type (safety sets, rejection-sampled replies, patches)."""

    kind: Literal["release"] = "release"
    ref: str = Field(description="NAME or NAME@VERSION")
    splits: list[Split] = Field(default_factory=lambda: list[Split](["train"]))


Source = Annotated[
    SamplesSource | RegenerationsSource | PairsSource | SignalsSource | LabelsSource | ReleaseSource,
    Field(discriminator="kind"),
]

ALLOWED_KINDS = {
    "sft": ("samples", "labels", "release"),
    "preference": ("regenerations", "preference_pairs", "labels", "release"),
    "unpaired": ("signals", "labels", "release"),
    "prompt": ("samples", "release"),
    "signals": ("samples",),
}
_SOURCE_ADAPTER = TypeAdapter(Source)
DEFAULT_SOURCES = {
    "sft": [{"name": "samples", "kind": "samples"}],
    "preference": [
        {"name": "regenerations", "kind": "regenerations"},
        {"name": "preference_pairs", "kind": "preference_pairs"},
        {"name": "labels", "kind": "labels"},
    ],
    "unpaired": [{"name": "signals", "kind": "signals"}],
    "prompt": [{"name": "samples", "kind": "samples"}],
    "signals": [{"name": "samples", "kind": "samples"}],
}


class SplitConfig(StrictModel):
    """Train/validation/test by group, never by row: every row of a group lands in the same split."""

    by: Literal["auto", "topic_cluster", "dedup_cluster", "conversation"] = Field(
        "auto", description="auto: dedup clusters when the samples carry them, else conversations"
    )
    validation: float = Field(0.05, ge=0, lt=1)
    test: float = Field(0.05, ge=0, lt=1)
    salt: str = Field(
        "flywheel-split-v1",
        description="keep it the same across releases so that a group lands in the same split in every release",
    )

    @model_validator(mode="after")
    def _fractions(self) -> SplitConfig:
        if self.validation + self.test >= 1:
            raise ValueError("validation + test must leave room for train (sum < 1)")
        return self


class PairFilters(StrictModel):
    """The report's guards against learning "longer wins" or "more emoji wins"."""

    max_length_ratio: float | None = Field(3.0, ge=1, description="longer/shorter side, in whitespace tokens")
    max_emoji_diff: int | None = Field(3, ge=0, description="absolute difference of emoji counts")


class LeakageConfig(StrictModel):
    """Near-duplicate check of every training prompt against the frozen evaluation prompt sets."""

    eval_sets: list[str] | None = Field(None, description="release names; default: every frozen_eval release")
    threshold: float = Field(0.7, gt=0, le=1, description="MinHash Jaccard at or above which a prompt is a leak")
    num_perm: int = Field(128, ge=16, le=1024)
    shingle_words: int = Field(3, ge=1, le=8)
    min_tokens: int = Field(5, ge=1, description="shorter last user messages are matched exactly, not fuzzily")


class ArtifactsConfig(StrictModel):
    thresholds: dict[str, float] = Field(default_factory=dict, description="per-feature flag thresholds")
    fail_on_flag: bool = Field(False, description="refuse the release when a feature is flagged")

    @field_validator("thresholds")
    @classmethod
    def _known_features(cls, value: dict[str, float]) -> dict[str, float]:
        return check_feature_names(value)


class ReleaseEntry(StrictModel):
    """One release of the recipe."""

    name: str
    type: TrlType
    description: str = ""
    license: str | None = Field(
        None, description="the dataset card's license (an SPDX id such as cc-by-4.0; default: other)"
    )
    filter: str | None = Field(None, description="SQL condition over the `samples` view applied to every source")
    sources: list[Source] | None = Field(None, description="default: every source kind of the type")
    total: int | None = Field(None, gt=0, description="mixture size for the sources with a ratio")
    seed: int = 0
    frozen_eval: bool = Field(False, description="a frozen evaluation prompt set: built once, then reused")
    allow_unscrubbed: bool = Field(False, description="allow building from bronze (unscrubbed) text")
    leak_scan: Literal["required", "skip"] = Field(
        "required", description="skip: publish without the leak gate (needs leak_scan_reason; recorded in the manifest)"
    )
    leak_scan_reason: str | None = Field(None, description="why the leak scan is skipped")
    representatives_only: bool = Field(True, description="keep only dedup representatives (when dedup ran)")
    exclude_unsafe: bool = Field(True, description="drop rows the safety stage flagged (`unsafe`; when it ran)")
    unsafe_scope: Literal["row", "target"] = Field(
        "row",
        description="row: any message of the row (prompt and replies) flagged; target: only the reply "
        "trained towards (sft response, preference chosen, unpaired desirable completion)",
    )
    split: SplitConfig = Field(default_factory=SplitConfig)
    pair_filters: PairFilters = Field(default_factory=PairFilters)
    leakage: LeakageConfig = Field(default_factory=LeakageConfig)
    artifacts: ArtifactsConfig = Field(default_factory=ArtifactsConfig)

    _filter_expression = field_validator("filter")(_one_expression)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME_PATTERN.match(value):
            raise ValueError(f"release name {value!r} must match {NAME_PATTERN.pattern}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ReleaseEntry:
        if self.sources is None:
            self.sources = [_SOURCE_ADAPTER.validate_python(s) for s in DEFAULT_SOURCES[self.type]]
        wrong = [s.name for s in self.sources if s.kind not in ALLOWED_KINDS[self.type]]
        if wrong:
            raise ValueError(
                f"sources {', '.join(wrong)}: a {self.type} release takes source kinds "
                f"{', '.join(ALLOWED_KINDS[self.type])}"
            )
        names = [s.name for s in self.sources]
        if len(set(names)) != len(names):
            raise ValueError(f"source names must be unique: {', '.join(names)}")
        if self.leak_scan == "skip" and not (self.leak_scan_reason or "").strip():
            raise ValueError("leak_scan: skip needs leak_scan_reason (it is recorded in the manifest)")
        if self.frozen_eval and self.type != "prompt":
            raise ValueError("frozen_eval: only a prompt release can be a frozen evaluation set")
        if self.total is not None and not any(s.ratio for s in self.sources):
            raise ValueError("total: needs at least one source with a ratio")
        unasked = [s.name for s in self.sources if s.kind == "labels" and self.type == "unpaired" and not s.question]
        if unasked:
            raise ValueError(f"sources {', '.join(unasked)}: unpaired labels need `question`")
        strata = [s.name for s in self.sources if getattr(s, "stratify_by", None) and self.type != "prompt"]
        if strata:
            raise ValueError(f"sources {', '.join(strata)}: stratify_by is for prompt releases")
        return self

    @property
    def source_list(self) -> list[Source]:
        """`sources` as validated: the type's default sources when the recipe named none."""
        if self.sources is None:
            raise ConfigError(f"release {self.name}: sources were never resolved (construct entries by validation)")
        return self.sources

    def recipe(self) -> dict:
        """The entry as recorded in the manifest (every default spelled out, so the hash covers them). The
        license is the card's, not the content's: changing it never makes a new version."""
        return self.model_dump(mode="json", exclude={"license"})


class ReleaseStageConfig(StrictModel):
    """The `release` stage: every release of the recipe, built in order (frozen eval sets first)."""

    releases: list[ReleaseEntry] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> ReleaseStageConfig:
        duplicates = repeated(r.name for r in self.releases)
        if duplicates:
            raise ValueError(f"release names must be unique: {', '.join(duplicates)}")
        return self
