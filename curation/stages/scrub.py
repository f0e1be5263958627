"""Stage `scrub`: bronze conversations -> silver conversations with personal data replaced.

Incremental by bronze file: each bronze file is scrubbed once per scrub config (the ledger in
`meta/processed_files` says which), its silver output committed together with its ledger row. Outputs
of bronze files that retention removed, or that were made under another config, are dropped.

The per-file commits are partial (`Lake.transaction(partial=True)`): the catalog keeps showing the last
complete silver version until the stage has scrubbed every bronze file and commits its completion, so a
crash mid-scrub never publishes half-scrubbed silver; the rerun resumes and completes it.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import pyarrow as pa

from curation.pipeline.context import StageContext
from curation.pipeline.details import ScrubDetails
from curation.scrub.config import ScrubConfig as Config
from lakehouse import ledger, tables
from lakehouse.runs import StageStats, stable_hash

if TYPE_CHECKING:
    from curation.scrub.scrubber import Scrubber

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("presidio_analyzer", "presidio-analyzer"), ("spacy", "spacy"))
BATCH_ROWS = 2000


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    import pyarrow.parquet as pq

    lake = ctx.lake
    config_hash = stable_hash(config.model_dump())
    inputs = lake.files(tables.BRONZE_CONVERSATIONS)
    work = ledger.plan(lake, "scrub", config_hash, inputs)
    if work.stale_outputs:
        with lake.transaction() as tx:
            ledger.forget_stale(lake, "scrub", config_hash, inputs, tx)
    total = sum(pq.ParquetFile(lake.root / name).metadata.num_rows for name in work.pending)
    entities: Counter = Counter()
    owners: list[int] = []  # the pending file each batch came from, in order
    factory = ScrubBatches(config)
    scrubbed = _ByFile(ctx.executor.map_batches(_bronze_batches(lake, work.pending, owners), factory), owners)
    with ctx.progress("scrub", total) as bar:
        for index, name in enumerate(work.pending):
            with lake.transaction(partial=True) as tx:
                writer = tx.writer(tables.SILVER_CONVERSATIONS)
                rows = 0
                for table in scrubbed.of(index):
                    writer.write(table)
                    entities.update(_counts(table))
                    rows += table.num_rows
                    bar.advance(table.num_rows, rows=table.num_rows)
                writer.close()
                ledger.record(lake, tx, "scrub", config_hash, name, writer.files, rows, ctx.run_id)
            stats.rows_in += rows
            stats.rows_out += rows
    lake.complete(tables.SILVER_CONVERSATIONS, tables.PROCESSED_FILES)
    details: ScrubDetails = {
        "files_scrubbed": len(work.pending),
        "files_reused": len(work.reused),
        "stale_outputs_removed": len(work.stale_outputs),
        "entities_replaced": dict(sorted(entities.items())),
        "config_hash": config_hash,
        "executor": ctx.executor.kind,
    }
    stats.details = dict(details)
    if factory.scrubber is not None:  # local executor: the scrubber ran here and counted languages
        stats.details["conversations_by_language"] = dict(sorted(factory.scrubber.languages_seen.items()))
    if entities:
        ctx.console.print("scrub: replaced " + ", ".join(f"{t} {n:,}" for t, n in sorted(entities.items())))


class ScrubBatches:
    """The batch function's factory (picklable: the config travels to Ray actors): `factory()` loads
    presidio and spaCy once and returns a function from a bronze table to its silver table."""

    def __init__(self, config: Config):
        self.config = config
        self.scrubber: Scrubber | None = None  # set where `factory()` runs; in this process only when local

    def __call__(self):
        from curation.scrub.arrow import scrub_record_batch
        from curation.scrub.scrubber import Scrubber

        scrubber = self.scrubber = Scrubber(self.config)

        def scrub(table: pa.Table) -> pa.Table:
            return pa.Table.from_batches([scrub_record_batch(batch, scrubber=scrubber) for batch in table.to_batches()])

        return scrub


def _bronze_batches(lake, pending: list[str], owners: list[int]):
    import pyarrow.parquet as pq

    for index, name in enumerate(pending):
        for batch in pq.ParquetFile(lake.root / name).iter_batches(batch_size=BATCH_ROWS):
            if not batch.num_rows:
                continue
            owners.append(index)
            yield pa.Table.from_batches([batch])


class _ByFile:
    """The executor's results (in input order) split by the pending file each came from: `owners[k]` is
    the file of the k-th input; `of(index)` yields the results of file `index`."""

    def __init__(self, results, owners: list[int]):
        self.results, self.owners, self.position, self.peeked = iter(results), owners, 0, None

    def of(self, index: int):
        while True:
            if self.peeked is None:
                self.peeked = next(self.results, None)
                if self.peeked is None:
                    return
            if self.owners[self.position] != index:
                return
            table, self.peeked = self.peeked, None
            self.position += 1
            yield table


def _counts(batch: pa.RecordBatch) -> Counter:
    found: Counter = Counter()
    for per_conversation in batch.column("pii_counts").to_pylist():
        for item in per_conversation:
            found[item["entity_type"]] += item["count"]
    return found
