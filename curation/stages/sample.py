"""Stage `sample`: a diverse sample of turn samples -> `attributes/sample` and `attributes/sample_report`.

The candidates are the `samples` rows passing `filter` (by default the dedup representatives); the
sampler (curation/sample/stratified.py) rakes weights to the target shares of every stratum (source,
character, topic cluster and depth bucket by default), draws in a seeded weighted order and stops at
`target`, holding the caps per topic cluster and per character. The run prints the achieved vs target
share of every stratum value; the `samples` view's `sampled` column and the `sample_report` view keep
both.

Recomputed when the text layer, the dedup or topic tables, or this config change; otherwise the stage
prints the stored report and does nothing else.
"""

from __future__ import annotations

import pyarrow as pa
from pydantic import Field

from curation.pipeline.context import StageContext, StageFailed
from curation.pipeline.details import SampleDetails, StratifiedDetails, engine_details
from curation.sample.config import SampleConfig, Stratum
from lakehouse import catalog, ledger, tables
from lakehouse.runs import StageStats, stable_hash

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = ()
DEPTH_BUCKET = "depth_bucket"


def _default_strata() -> list[Stratum]:
    return [Stratum(column=c) for c in ("source", "character_id", "topic_cluster", DEPTH_BUCKET)]


class Config(SampleConfig):
    filter: str = Field("is_representative", description="SQL over the `samples` view: the candidates.")
    strata: list[Stratum] = Field(default_factory=_default_strata)
    cluster_column: str = "topic_cluster"


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    from curation.sample.stratified import format_report, stratified_sample

    lake = ctx.lake
    inputs = [
        *lake.files(catalog.text_layer_table(lake)),
        *lake.files(tables.DEDUP_CONVERSATIONS),
        *lake.files(tables.DEDUP_PROMPTS),
        *lake.files(tables.TOPICS),
    ]
    config_hash = stable_hash(config.model_dump())
    if ledger.skip_if_current(ctx, "sample", config_hash, inputs, stats, "inputs and config unchanged"):
        ctx.console.print(format_report(lake.read(tables.SAMPLE_REPORT)), highlight=False, markup=False)
        return
    candidates = _candidates(ctx, config)
    with ctx.progress("sample", None) as bar:
        result, report, sample_stats = stratified_sample(candidates, config, key="sample_id")
        bar.advance(0, rows=candidates.num_rows)
    rows = (
        result.rename_columns(["sample_id", *result.column_names[1:]]).sort_by("sample_id").cast(tables.SAMPLE.schema)
    )
    with lake.transaction() as tx:
        files = tx.replace(tables.SAMPLE, rows) + tx.replace(
            tables.SAMPLE_REPORT, report.cast(tables.SAMPLE_REPORT.schema)
        )
        ledger.record_table(lake, tx, "sample", config_hash, inputs, files, candidates.num_rows, ctx.run_id)
    stats.rows_in, stats.rows_out, stats.dropped = sample_stats.rows_in, sample_stats.rows_out, sample_stats.dropped
    details: SampleDetails = {
        **engine_details(sample_stats, StratifiedDetails),
        "filter": config.filter,
        "config_hash": config_hash,
    }
    stats.details = dict(details)
    ctx.console.print(
        f"sample: {stats.rows_out:,} of {stats.rows_in:,} candidate turn samples ({config.filter}), "
        f"target {config.target:,}\n" + format_report(report),
        highlight=False,
        markup=False,
    )


def _columns(config: Config) -> list[str]:
    """The `samples` columns the sampler reads besides sample_id."""
    wanted = [s.column for s in config.strata if s.column != DEPTH_BUCKET]
    if any(s.column == DEPTH_BUCKET for s in config.strata):
        wanted.append(config.depth_column)
    if config.max_per_cluster is not None:
        wanted.append(config.cluster_column)
    if config.max_per_character is not None:
        wanted.append(config.character_column)
    return list(dict.fromkeys(wanted))


def _candidates(ctx: StageContext, config: Config) -> pa.Table:
    import duckdb

    con = catalog.connect(ctx.lake)
    try:
        available = {row[0] for row in con.execute("DESCRIBE samples").fetchall()}
        unknown = [c for c in _columns(config) if c not in available]
        if unknown:
            raise StageFailed(
                f"sample: {', '.join(unknown)} is not a column of the samples view "
                f"(columns: {', '.join(sorted(available))})"
            )
        select = ", ".join(["sample_id", *_columns(config)])
        try:
            return con.sql(f"SELECT {select} FROM samples WHERE {config.filter} ORDER BY sample_id").to_arrow_table()
        except duckdb.Error as exc:
            raise StageFailed(f"sample: filter {config.filter!r}: {type(exc).__name__}: {exc}") from None
    finally:
        con.close()
