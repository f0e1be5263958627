"""Stage `dedup`: exact and near-duplicate clusters of the lake's conversations and prompts.

Two units (curation/dedup/units.py), each its own attribute table:
- `attributes/dedup_conversations`: whole conversations (message contents, system messages left out),
  compared across the lake: a conversation re-sent by a bot, or lightly edited, joins the original's
  cluster;
- `attributes/dedup_prompts`: prompts (a user message with the turn before it), one row per turn sample,
  compared within a character by default (`prompt_scope`): the same opener sent to another character asks
  for another reply (the release leakage check reasons the same way).

A cluster's representative is its earliest row (started_at, then smallest id). The `samples` view keeps a
sample as a representative when its prompt and its conversation both are (docs/dedup.md).

Both tables are recomputed from the text layer when its files or this config change (the ledger says
which made them); otherwise the stage does nothing.
"""

from __future__ import annotations

from typing import Literal

import pyarrow as pa
from pydantic import Field

from curation.dedup.config import DedupConfig
from curation.pipeline.context import StageContext
from curation.pipeline.details import DedupClusterDetails, DedupDetails, DedupUnitDetails, engine_details
from lakehouse import catalog, ledger, tables
from lakehouse.config import StrictModel
from lakehouse.runs import StageStats, stable_hash

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("datasketch", "datasketch"), ("rapidfuzz", "rapidfuzz"))
READ_BATCH = 2000


class Config(StrictModel):
    conversations: DedupConfig = Field(
        default_factory=DedupConfig, description="Dedup settings of the conversation unit (docs/dedup.md)."
    )
    prompts: DedupConfig = Field(default_factory=DedupConfig, description="Dedup settings of the prompt unit.")
    prompt_scope: Literal["character", "global"] = Field(
        "character", description="Compare prompts within one character (default) or across the lake."
    )


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    lake = ctx.lake
    source = catalog.text_layer_table(lake)
    inputs = lake.files(source)
    config_hash = stable_hash({"config": config.model_dump(), "text_layer": source.name})
    if ledger.skip_if_current(ctx, "dedup", config_hash, inputs, stats, f"{len(inputs)} {source.name} files unchanged"):
        return
    conversations, prompts, samples = _read_units(ctx)
    from curation.dedup.clusters import dedup

    by_conversation, conversation_stats = dedup(
        conversations, config.conversations, name="conversations", executor=ctx.executor
    )
    by_prompt, prompt_stats = _dedup_prompts(prompts, config, ctx.executor)
    conversation_rows = _conversation_rows(by_conversation)
    sample_rows = _sample_rows(samples, by_prompt)
    with lake.transaction() as tx:
        files = tx.replace(tables.DEDUP_CONVERSATIONS, conversation_rows)
        files += tx.replace(tables.DEDUP_PROMPTS, sample_rows)
        ledger.record_table(lake, tx, "dedup", config_hash, inputs, files, conversations.num_rows, ctx.run_id)
    details = _fill_stats(stats, conversation_rows, sample_rows, conversation_stats, prompt_stats, config_hash)
    ctx.console.print(_summary(stats, details), highlight=False)


def _read_units(ctx: StageContext) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Conversation units, prompt units and the prompt of every turn sample, from the `conversations` view."""
    from curation.dedup.units import SAMPLE_PROMPT_SCHEMA, UNIT_SCHEMA, lake_units

    parts: tuple[list, list, list] = ([], [], [])
    con = catalog.connect(ctx.lake)
    try:
        total = con.execute("SELECT count(*) FROM conversations").fetchall()[0][0]
        reader = con.sql(
            "SELECT conversation_id, started_at, character.character_id AS character_id, messages FROM conversations"
        ).to_arrow_reader(READ_BATCH)
        with ctx.progress("dedup: read", total) as bar:
            for batch in reader:
                for part, table in zip(parts, lake_units(batch), strict=True):
                    part.append(table)
                bar.advance(batch.num_rows, rows=batch.num_rows)
    finally:
        con.close()
    schemas = (UNIT_SCHEMA, UNIT_SCHEMA, SAMPLE_PROMPT_SCHEMA)
    return tuple(
        pa.concat_tables(part) if part else schema.empty_table() for part, schema in zip(parts, schemas, strict=True)
    )


def _dedup_prompts(prompts: pa.Table, config: Config, executor=None) -> tuple[pa.Table, StageStats]:
    """The engine over every prompt in one pass, compared within its scope (clusters never cross scopes)."""
    from curation.dedup.clusters import dedup

    if config.prompt_scope == "global":
        prompts = prompts.set_column(
            prompts.schema.get_field_index("scope"), "scope", pa.nulls(prompts.num_rows, pa.string())
        )
    result, stats = dedup(prompts, config.prompts, scope="scope", name="prompts", executor=executor)
    return result.append_column("scope", prompts["scope"]), stats


def _conversation_rows(result: pa.Table) -> pa.Table:
    return (
        result.rename_columns(["conversation_id", *result.column_names[1:]])
        .sort_by("conversation_id")
        .cast(tables.DEDUP_CONVERSATIONS.schema)
    )


def _sample_rows(samples: pa.Table, by_prompt: pa.Table) -> pa.Table:
    """One row per turn sample with the dedup result of its prompt."""
    joined = samples.join(by_prompt, keys="prompt_id", right_keys="key", join_type="inner")
    schema = tables.DEDUP_PROMPTS.schema
    return joined.select(schema.names).sort_by("sample_id").cast(schema)


def _fill_stats(
    stats: StageStats,
    conversations: pa.Table,
    samples: pa.Table,
    conversation_stats: StageStats,
    prompt_stats: StageStats,
    config_hash: str,
) -> DedupDetails:
    """Rows are turn samples (with a user message): out are those the `samples` view keeps as representatives.
    Returns the details it recorded, typed."""
    import pyarrow.compute as pc

    copies = pc.invert(conversations["is_representative"])
    copied = set(pc.filter(conversations["conversation_id"], copies).to_pylist())
    in_copy = pc.is_in(samples["conversation_id"], pa.array(sorted(copied), pa.string()))
    prompt_duplicate = pc.and_(pc.invert(in_copy), pc.invert(samples["is_representative"]))
    stats.rows_in = samples.num_rows
    stats.drop("duplicate_conversation", pc.sum(in_copy).as_py() or 0)
    stats.drop("duplicate_prompt", pc.sum(prompt_duplicate).as_py() or 0)
    stats.rows_out = stats.rows_in - sum(stats.dropped.values())
    details: DedupDetails = {
        "config_hash": config_hash,
        "conversations": _unit_details(conversation_stats),
        "prompts": _unit_details(prompt_stats),
    }
    stats.details = dict(details)
    return details


def _unit_details(unit_stats: StageStats) -> DedupUnitDetails:
    """One kind of unit's counts, then its clustering's details (curation.dedup.clusters)."""
    return {
        "units": unit_stats.rows_in,
        "representatives": unit_stats.rows_out,
        "dropped": dict(unit_stats.dropped),
        **engine_details(unit_stats, DedupClusterDetails),
    }


def _summary(stats: StageStats, details: DedupDetails) -> str:
    c, p = details["conversations"], details["prompts"]

    def copies(unit: DedupUnitDetails) -> str:
        return f"{unit['dropped'].get('exact_duplicate', 0):,} exact and {unit['dropped'].get('near_duplicate', 0):,} near copies"

    return (
        f"dedup: {c['units']:,} conversations ({copies(c)}); {p['units']:,} prompts in {p.get('scopes', 0):,} "
        f"scope(s) ({copies(p)}); {stats.rows_out:,} of {stats.rows_in:,} turn samples are representatives"
    )
