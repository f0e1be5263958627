"""One release being built: the recipe entry, the open inputs, and what the build records on the way
(rows dropped by reason, notes, the tables and releases it read, manifest sections)."""

from __future__ import annotations

from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field

from curation.releases.config import ReleaseEntry, Source
from curation.releases.inputs import Inputs
from curation.releases.rows import last_user_sql, quote, where
from lakehouse.errors import UserError


class BuildError(UserError):
    """A release cannot be built or is refused; the message names the release and says why."""


@dataclass
class Job:
    inputs: Inputs
    entry: ReleaseEntry
    dropped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    tables_read: set[str] = field(default_factory=set)
    releases_read: dict[str, dict] = field(default_factory=dict)
    sections: dict = field(default_factory=dict)  # extra manifest sections (leakage, mixture, ...)
    timings: dict[str, float] = field(default_factory=dict)
    stats: dict = field(default_factory=dict)  # facts about this build that are not the release's content

    @property
    def con(self):
        return self.inputs.con

    def sample_filter(self, source: Source) -> str:
        """The release filter and the source filter, for a subquery over `release_samples`."""
        return where(self.entry.filter, source.filter)

    def representative_check(self, alias: str) -> str:
        """A CASE branch dropping non-representatives (only when the recipe asks for representatives)."""
        if not self.entry.representatives_only:
            return ""
        return f"WHEN NOT coalesce({alias}.is_representative, true) THEN 'not_representative' "

    def sample_columns(self, alias: str, source: Source, rank: int) -> str:
        """Provenance and references of a candidate backed by the sample `alias`."""
        return (
            f"{alias}.sample_id, {quote(source.name)} AS origin, {rank} AS origin_rank, {alias}.conversation_id, "
            f"{alias}.turn, {alias}.source, {alias}.model_version, {alias}.character_id, {alias}.topic_cluster, "
            f"{alias}.dedup_cluster, {alias}.depth, {alias}.sample_id AS prompt_ref, "
            f"{last_user_sql(alias + '.prompt')} AS last_user"
        )

    @contextmanager
    def source_errors(self, source: Source):
        """Turn a DuckDB error in a source's SQL (a bad filter, a missing column) into a clear BuildError."""
        import duckdb

        try:
            yield
        except duckdb.Error as exc:
            raise BuildError(
                f"release {self.entry.name}, source {source.name!r} ({source.kind}): {type(exc).__name__}: {exc}"
            ) from None
