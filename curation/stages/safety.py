"""Stage `safety`: safety classifiers over the text layer's messages -> `attributes/safety`.

Every message of the configured roles (user and assistant by default) of the scrubbed (silver) text, or
of bronze in a lake that was never scrubbed, is scored by every classifier of the recipe: the offline
offensive-language model of `alt-profanity-check` and any local Hugging Face sequence-classification
model (curation/safety). One row per message keeps each classifier's score beside its flag, so a
stricter threshold is a filter. The catalog's `safety` view shows the rows, and the `samples` view
derives `safety_flagged` (prompt or reply flagged) from them, which releases exclude by default
(`exclude_unsafe`) and the `flagged` labeling preset turns into a review queue (docs/safety.md).

Incremental by text-layer file, like `scrub`: each file is scored once per config and model (the ledger
in `meta/processed_files` says which), its rows committed together with its ledger row; the rows of files
that are gone (retention, erasure, a rescrub) or were scored under another config are removed. A rerun
over unchanged files loads no model.
"""

from __future__ import annotations

from curation.pipeline.context import StageContext, StageFailed
from curation.pipeline.details import SafetyDetails
from curation.safety.config import SafetyConfig as Config
from lakehouse import catalog, ledger
from lakehouse.runs import StageStats, stable_hash

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("profanity_check", "alt-profanity-check"),)
# Conversations per scoring call (some tens of thousands of messages): files are read in batches of this
# many, and smaller files are scored together up to it.
GROUP_CONVERSATIONS = 5000
READ_COLUMNS = ["conversation_id", "messages"]


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    lake = ctx.lake
    source = catalog.text_layer_table(lake)
    inputs = lake.files(source)
    config_hash = _config_hash(config, source.name)
    work = ledger.plan(lake, "safety", config_hash, inputs)
    if work.stale_outputs:
        with lake.transaction() as tx:
            ledger.forget_stale(lake, "safety", config_hash, inputs, tx)
    details: SafetyDetails = {
        "files_scored": len(work.pending),
        "files_reused": len(work.reused),
        "stale_outputs_removed": len(work.stale_outputs),
        "text_layer": source.name,
        "config_hash": config_hash,
    }
    if not work.pending:
        up_to_date: SafetyDetails = {**details, "up_to_date": True}
        stats.details = dict(up_to_date)
        ctx.console.print(f"safety: up to date ({len(inputs)} {source.name} files unchanged)")
        lake.complete(catalog.SAFETY, ledger.TABLE)
        return
    counts = _score_files(ctx, config, config_hash, work.pending)
    lake.complete(catalog.SAFETY, ledger.TABLE)
    stats.rows_in, stats.rows_out = counts.messages, counts.messages - counts.flagged
    stats.drop("flagged", counts.flagged)
    scored: SafetyDetails = {
        **details,
        "messages": counts.messages,
        "distinct_texts": counts.distinct,
        "flagged": counts.flagged,
        "flagged_by": counts.by_classifier,
    }
    stats.details = dict(scored)
    ctx.console.print(_summary(config, counts, source.name, len(work.pending)), highlight=False)


def _config_hash(config: Config, text_layer: str) -> str:
    """The config, the identity of each classifier's model and the text layer: a new model rescores."""
    from curation.safety.classifiers import fingerprint

    return stable_hash(
        {
            "config": config.model_dump(mode="json"),
            "text_layer": text_layer,
            "models": [fingerprint(c) for c in config.classifiers],
        }
    )


def _load_scorer(config: Config):
    from curation.safety.classifiers import ClassifierError
    from curation.safety.scorer import SafetyScorer

    try:
        return SafetyScorer(config)
    except ClassifierError as exc:
        raise StageFailed(f"safety: {exc}") from None


def _score_files(ctx: StageContext, config: Config, config_hash: str, pending: list[str]):
    """Score the pending files, committing each file's rows with its ledger row (an interrupted run keeps
    what it scored): small files together in one scoring call, a large one in batches."""
    import pyarrow.parquet as pq

    from curation.safety.scorer import Counts

    lake, total = ctx.lake, Counts()
    sizes = {name: pq.ParquetFile(lake.root / name).metadata.num_rows for name in pending}
    scorer = _load_scorer(config)
    with ctx.progress("safety", sum(sizes.values())) as bar:
        for group in _groups(pending, sizes):
            if len(group) == 1 and sizes[group[0]] > GROUP_CONVERSATIONS:
                parts = _score_large(ctx, scorer, config_hash, group[0], bar)
            else:
                parts = _score_small(ctx, scorer, config_hash, group, bar)
            for counts in parts:
                total.add(counts)
    return total


def _groups(pending: list[str], sizes: dict[str, int]) -> list[list[str]]:
    """Consecutive files of together at most GROUP_CONVERSATIONS conversations (a larger file alone)."""
    groups: list[list[str]] = []
    current: list[str] = []
    rows = 0
    for name in pending:
        if current and rows + sizes[name] > GROUP_CONVERSATIONS:
            groups.append(current)
            current, rows = [], 0
        current.append(name)
        rows += sizes[name]
    return groups + [current] if current else groups


def _commit(ctx: StageContext, config_hash: str, name: str, batches) -> int:
    """Write the scored tables of one input file and its ledger row in one transaction; returns messages."""
    rows = 0
    with ctx.lake.transaction(partial=True) as tx:  # shown once every file is scored (Lake.complete)
        writer = tx.writer(catalog.SAFETY)
        for table in batches:
            writer.write(table)
            rows += table.num_rows
        writer.close()
        ledger.record(ctx.lake, tx, "safety", config_hash, name, writer.files, rows, ctx.run_id)
    return rows


def _score_small(ctx: StageContext, scorer, config_hash: str, group: list[str], bar) -> list:
    import pyarrow.parquet as pq

    tables = [pq.ParquetFile(ctx.lake.root / name).read(columns=READ_COLUMNS) for name in group]
    scored = scorer.score_tables(tables)
    for name, table, (rows, counts) in zip(group, tables, scored, strict=True):
        _commit(ctx, config_hash, name, [rows])
        bar.advance(table.num_rows, rows=counts.messages)
    return [counts for _, counts in scored]


def _score_large(ctx: StageContext, scorer, config_hash: str, name: str, bar) -> list:
    """A file above GROUP_CONVERSATIONS, scored batch by batch into its (buffered) writer."""
    import pyarrow.parquet as pq

    out = []

    def scored():
        for batch in pq.ParquetFile(ctx.lake.root / name).iter_batches(GROUP_CONVERSATIONS, columns=READ_COLUMNS):
            rows, counts = scorer.score_conversations(batch)
            out.append(counts)
            bar.advance(batch.num_rows, rows=counts.messages)
            yield rows

    _commit(ctx, config_hash, name, scored())
    return out


def _summary(config: Config, counts, layer: str, files: int) -> str:
    by = ", ".join(f"{name} {n:,}" for name, n in counts.by_classifier.items())
    share = counts.flagged / counts.messages if counts.messages else 0.0
    return (
        f"safety: {counts.messages:,} {'/'.join(config.roles)} messages of {files} {layer} file(s) "
        f"({counts.distinct:,} distinct texts) scored; {counts.flagged:,} flagged ({share:.1%}; {by})"
    )
