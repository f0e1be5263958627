"""The `details` each stage records in its StageStats (the runs ledger's `run_stages.details`, the
end-of-run table, `flywheel runs`): one TypedDict per stage, so a reader knows the keys without reading
the stage, and mypy checks the stage writes what it promises. The ledger stores them as JSON, unchanged.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


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
