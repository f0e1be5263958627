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

import pyarrow as pa

from curation.pipeline.context import StageContext
from curation.pipeline.details import ScrubDetails
from curation.scrub.config import ScrubConfig as Config
from lakehouse import ledger, tables
from lakehouse.runs import StageStats, stable_hash

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("presidio_analyzer", "presidio-analyzer"), ("spacy", "spacy"))
BATCH_ROWS = 2000


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    import pyarrow.parquet as pq

    from curation.scrub.arrow import scrub_record_batch
    from curation.scrub.scrubber import Scrubber

    lake = ctx.lake
    config_hash = stable_hash(config.model_dump())
    inputs = lake.files(tables.BRONZE_CONVERSATIONS)
    work = ledger.plan(lake, "scrub", config_hash, inputs)
    if work.stale_outputs:
        with lake.transaction() as tx:
            ledger.forget_stale(lake, "scrub", config_hash, inputs, tx)
    total = sum(pq.ParquetFile(lake.root / name).metadata.num_rows for name in work.pending)
    entities: Counter = Counter()
    scrubber = Scrubber(config) if work.pending else None
    with ctx.progress("scrub", total) as bar:
        for name in work.pending:
            with lake.transaction(partial=True) as tx:
                writer = tx.writer(tables.SILVER_CONVERSATIONS)
                rows = 0
                for batch in pq.ParquetFile(lake.root / name).iter_batches(batch_size=BATCH_ROWS):
                    scrubbed = scrub_record_batch(batch, scrubber=scrubber)
                    writer.write(pa.Table.from_batches([scrubbed]))
                    entities.update(_counts(scrubbed))
                    rows += batch.num_rows
                    bar.advance(batch.num_rows, rows=batch.num_rows)
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
        "conversations_by_language": dict(sorted(scrubber.languages_seen.items())) if scrubber else {},
    }
    stats.details = dict(details)
    if entities:
        ctx.console.print("scrub: replaced " + ", ".join(f"{t} {n:,}" for t, n in sorted(entities.items())))


def _counts(batch: pa.RecordBatch) -> Counter:
    found: Counter = Counter()
    for per_conversation in batch.column("pii_counts").to_pylist():
        for item in per_conversation:
            found[item["entity_type"]] += item["count"]
    return found
