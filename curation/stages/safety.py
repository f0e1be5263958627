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

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

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


class SafetyBatches:
    """The batch function's factory (picklable: the config travels to Ray actors): `factory()` loads every
    classifier once (once per actor on Ray) and returns a function from one scoring call's conversations
    (a `_part` column says which file of the call each came from) to their `attributes/safety` rows, with
    `_part` and the call's distinct-text count `_distinct` beside them for the driver to split and count."""

    def __init__(self, config: Config):
        self.config = config

    def __call__(self):
        from curation.safety.classifiers import ClassifierError
        from curation.safety.scorer import SafetyScorer

        try:
            scorer = SafetyScorer(self.config)
        except ClassifierError as exc:
            raise StageFailed(f"safety: {exc}") from None

        def score(table: pa.Table) -> pa.Table:
            parts = table.column("_part").to_numpy()
            numbers = sorted(set(parts.tolist()))
            scored = scorer.score_tables([table.filter(pa.array(parts == n)).drop_columns(["_part"]) for n in numbers])
            distinct = scored[0][1].distinct if scored else 0
            tables = [
                rows.append_column("_part", pa.array([n] * rows.num_rows, pa.int32()))
                for n, (rows, _) in zip(numbers, scored, strict=True)
            ]
            out = pa.concat_tables(tables) if tables else _empty_rows()
            return out.append_column("_distinct", pa.array([distinct] * out.num_rows, pa.int64()))

        return score


def _empty_rows() -> pa.Table:
    from lakehouse.schemas import SAFETY

    empty = SAFETY.empty_table().append_column("_part", pa.array([], pa.int32()))
    return empty.append_column("_distinct", pa.array([], pa.int64()))


def _score_files(ctx: StageContext, config: Config, config_hash: str, pending: list[str]):
    """Score the pending files, committing each file's rows with its ledger row (an interrupted run keeps
    what it scored): small files together in one scoring call, a large one in calls of GROUP_CONVERSATIONS.
    The calls run on the recipe's executor (classifiers loaded once per Ray actor) and come back in input
    order; the driver knows from the sizes how many calls each group makes, and commits in file order."""
    import pyarrow.parquet as pq

    from curation.safety.scorer import Counts

    lake, total = ctx.lake, Counts()
    sizes = {name: pq.ParquetFile(lake.root / name).metadata.num_rows for name in pending}
    groups = _groups(pending, sizes)
    results = iter(ctx.executor.map_batches(_calls(lake, groups, sizes), SafetyBatches(config)))
    names = [str(c.name) for c in config.classifiers]  # every name is set once the config validated
    with ctx.progress("safety", sum(sizes.values())) as bar:
        for group in groups:
            if _is_large(group, sizes):
                calls = -(-sizes[group[0]] // GROUP_CONVERSATIONS)
                _commit(ctx, config_hash, group[0], _counted(results, calls, names, total))
                bar.advance(sizes[group[0]], rows=sizes[group[0]])
                continue
            scored = next(results) if sum(sizes[n] for n in group) else _empty_rows()
            total.add(_counts(scored, names))
            for number, name in enumerate(group):
                rows = scored.filter(pc.equal(scored["_part"], number))
                _commit(ctx, config_hash, name, [_strip(rows)])
                bar.advance(sizes[name], rows=rows.num_rows)
    return total


def _is_large(group: list[str], sizes: dict[str, int]) -> bool:
    return len(group) == 1 and sizes[group[0]] > GROUP_CONVERSATIONS


def _calls(lake, groups: list[list[str]], sizes: dict[str, int]):
    """The input table of every scoring call, in order: a group of small files in one table (`_part`: the
    file's place in the group; none when the group has no rows), a large file in GROUP_CONVERSATIONS slices."""
    import pyarrow.parquet as pq

    for group in groups:
        if _is_large(group, sizes):
            yield from (_tagged(t, 0) for t in _slices(pq.ParquetFile(lake.root / group[0])))
        elif sum(sizes[n] for n in group):
            tables = [pq.ParquetFile(lake.root / n).read(columns=READ_COLUMNS) for n in group]
            yield pa.concat_tables([_tagged(t, i) for i, t in enumerate(tables)])


def _slices(parquet) -> Iterator[pa.Table]:
    """The file's rows in tables of exactly GROUP_CONVERSATIONS (the last one fewer), whatever its row
    groups: the number of calls per file follows from its size alone."""
    buffered: list[pa.RecordBatch] = []
    rows = 0
    for batch in parquet.iter_batches(GROUP_CONVERSATIONS, columns=READ_COLUMNS):
        buffered.append(batch)
        rows += batch.num_rows
        while rows >= GROUP_CONVERSATIONS:
            table = pa.Table.from_batches(buffered)
            yield table.slice(0, GROUP_CONVERSATIONS)
            rest = table.slice(GROUP_CONVERSATIONS)
            buffered, rows = rest.to_batches(), rest.num_rows
    if rows:
        yield pa.Table.from_batches(buffered)


def _tagged(table: pa.Table, part: int) -> pa.Table:
    return table.append_column("_part", pa.array([part] * table.num_rows, pa.int32()))


def _counted(results: Iterator[pa.Table], calls: int, names: list[str], total) -> Iterator[pa.Table]:
    """The next `calls` results (one large file's), counted as they stream into its writer."""
    for _ in range(calls):
        scored = next(results)
        total.add(_counts(scored, names))
        yield _strip(scored)


def _strip(scored: pa.Table) -> pa.Table:
    from lakehouse.schemas import SAFETY

    return scored.select(SAFETY.names).cast(SAFETY)


def _counts(scored: pa.Table, names: list[str]):
    """What one scoring call did, from its rows: the same numbers wherever the call ran."""
    from curation.safety.scorer import Counts

    entries = pc.list_flatten(scored["scores"])
    flags = pc.struct_field(entries, "flagged").to_numpy(zero_copy_only=False).reshape(-1, max(len(names), 1))
    return Counts(
        scored.num_rows,
        scored["_distinct"][0].as_py() if scored.num_rows else 0,
        int(pc.sum(scored["flagged"]).as_py() or 0),
        {name: int(flags[:, k].sum()) for k, name in enumerate(names)},
    )


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


def _summary(config: Config, counts, layer: str, files: int) -> str:
    by = ", ".join(f"{name} {n:,}" for name, n in counts.by_classifier.items())
    share = counts.flagged / counts.messages if counts.messages else 0.0
    return (
        f"safety: {counts.messages:,} {'/'.join(config.roles)} messages of {files} {layer} file(s) "
        f"({counts.distinct:,} distinct texts) scored; {counts.flagged:,} flagged ({share:.1%}; {by})"
    )
