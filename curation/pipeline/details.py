"""The `details` each stage records in its StageStats (the runs ledger's `run_stages.details`, the
end-of-run table, `flywheel runs`): one TypedDict per stage, so a reader knows the keys without reading
the stage, and mypy checks the stage writes what it promises. The ledger stores them as JSON, unchanged.
"""

# No `from __future__ import annotations` here: TypedDict finds NotRequired keys only in evaluated annotations
# (Python 3.11), and `engine_details` checks the required keys at run time.
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, TypeVar, cast

if TYPE_CHECKING:
    from lakehouse.runs import StageStats

T = TypeVar("T")


class IngestedFile(TypedDict):
    path: str
    format: str
    status: str  # ingested | skipped
    records: int
    accepted: int
    quarantined: dict[str, int]  # reason -> records
    note: str | None


class IngestDetails(TypedDict):
    files_ingested: int
    files_skipped: list[str]
    conversations: int
    files: list[IngestedFile]


class ScrubDetails(TypedDict):
    files_scrubbed: int
    files_reused: int
    stale_outputs_removed: int
    entities_replaced: dict[str, int]  # entity type -> replacements
    config_hash: str
    executor: str  # local or ray: where the batches ran
    conversations_by_language: NotRequired[dict[str, int]]  # counted where the scrubber ran here (local)


class SafetyDetails(TypedDict):
    files_scored: int
    files_reused: int
    stale_outputs_removed: int
    text_layer: str
    config_hash: str
    up_to_date: NotRequired[bool]  # nothing to score: every input file was scored under this config
    messages: NotRequired[int]
    distinct_texts: NotRequired[int]
    flagged: NotRequired[int]
    flagged_by: NotRequired[dict[str, int]]  # classifier name -> flagged messages


class ReleaseDetails(TypedDict):
    releases: dict[str, dict[str, Any]]  # release name -> status, ref, rows in/out, timings, builder details
    refused: list[str]  # the refusal message of each release not published


class EncodeDetails(TypedDict):
    """`embed_texts` (curation.embed.encode) on one list of texts."""

    model: str
    distinct_texts: int
    cache_hits: int
    encoded: int
    batches: int
    precision: str | None  # None when every text came from the cache (no model was loaded)


class EmbedDetails(TypedDict):
    model: str
    precision: str  # float32 | bfloat16 (what `auto` resolved to)
    distinct_texts: int
    cache_hits: int
    encoded: int
    batches: int
    cache_files: int
    compacted: bool


class TopicDetails(TypedDict):
    """`cluster_topics` (curation.cluster.topics)."""

    k: int
    k_source: str  # recipe | sqrt(n/2)
    prune_threshold: float | None
    largest_topic: int


class ClusterDetails(TopicDetails):
    distinct_messages: int
    encoded: int  # messages the model embedded; the others came from the embedding cache
    config_hash: str


class DedupClusterDetails(TypedDict):
    """`dedup` clustering (curation.dedup.clusters) of one kind of unit; the MinHash keys only for `near`."""

    method: str  # near | exact
    distinct_texts: int
    null_texts: int
    scopes: NotRequired[int]  # with a scope column: how many distinct scopes
    threshold: NotRequired[float]
    max_edit_rate: NotRequired[float]
    edit_words: NotRequired[int]
    num_perm: NotRequired[int]
    seed: NotRequired[int]
    bands: NotRequired[int]
    rows: NotRequired[int]
    word_ngram: NotRequired[int]
    char_ngram: NotRequired[int]
    min_words: NotRequired[int]
    band_candidates: NotRequired[int]
    pairs: NotRequired[int]
    char_shingled_texts: NotRequired[int]
    texts_without_shingles: NotRequired[int]
    edit_checked_texts: NotRequired[int]
    clusters: int
    multi_row_clusters: int
    largest_cluster: int


class DedupUnitDetails(DedupClusterDetails):
    units: int
    representatives: int
    dropped: dict[str, int]  # exact_duplicate / near_duplicate -> units


class DedupDetails(TypedDict):
    config_hash: str
    conversations: DedupUnitDetails
    prompts: DedupUnitDetails


class ErasureDetails(TypedDict):
    """`erasure_stats` (curation.erase_command) over the erasures applied."""

    erasures: list[str]  # erasure ids
    superseded_releases: list[str]  # release refs that held erased rows


class EraseDetails(TypedDict):
    erasures: NotRequired[list[str]]  # NotRequired: absent when no request was applied (none, or a dry run)
    superseded_releases: NotRequired[list[str]]
    requests: int
    dry_run: NotRequired[bool]  # absent when there were no pending requests


class StratifiedDetails(TypedDict):
    """`stratified_sample` (curation.sample.stratified)."""

    target: int
    strata: list[str]  # the stratum columns


class SampleDetails(StratifiedDetails):
    filter: str
    config_hash: str


def engine_details(stats: "StageStats", kind: type[T]) -> T:
    """`stats.details` as the TypedDict `kind` its engine built (StageStats keeps a plain dict, the ledger's
    JSON): its required keys are checked, so a stage reading them fails here, by name, if an engine changes."""
    missing = sorted(kind.__dict__["__required_keys__"] - stats.details.keys())  # every TypedDict class has it
    if missing:
        raise TypeError(f"{stats.name} details lack {', '.join(missing)} (see {kind.__name__})")
    return cast(T, stats.details)
