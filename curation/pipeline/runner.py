"""Running a recipe: each stage in order, timed and memory-sampled, recorded in the runs ledger, with the
catalog refreshed after every stage (so each stage sees what the previous one wrote) and before the
command exits (also when a stage fails)."""

from __future__ import annotations

from typing import Literal

from curation.pipeline import stages as stage_registry
from curation.pipeline.context import StageContext, StageFailed
from curation.pipeline.recipe import Recipe
from lakehouse import catalog
from lakehouse.lake import Lake, fault_point
from lakehouse.runs import RunRecord, StageStats, recorded_run, timed_stage


def run(
    recipe: Recipe,
    lake: Lake,
    console,
    command: str = "curate",
    only: list[str] | None = None,
    options: dict | None = None,
) -> RunRecord:
    """Run the recipe's stages (or only the named ones) and return the run record; `options` reach every
    stage as `ctx.options`."""
    with recorded_run(lake, command, recipe=recipe.raw, recipe_hash=recipe.hash) as record:
        ctx = StageContext(lake, record.run_id, console, recipe, options=dict(options or {}))
        try:
            steps = [step for step in recipe.steps if not only or step.name in only]
            loaded = [stage_registry.load(step.name) for step in steps]  # a missing library fails before any work
            for step, stage in zip(steps, loaded, strict=True):
                stats = StageStats(step.name)
                record.stages.append(stats)
                fault_point(step.name)
                with timed_stage(stats):
                    stage_registry.run_stage(step.name, stage, ctx, step.config, stats)
                catalog.refresh(lake)  # the next stage reads what this one wrote
                console.print(f"[green]done[/green] {stats.summary()}")
        except StageFailed as exc:
            record.status, record.error = "failed", str(exc)
    return record


SHOWN_REASONS = 4


def summary_table(record: RunRecord):
    """The end-of-run table: per stage rows in, rows out, dropped by reason, seconds and peak memory."""
    from rich.table import Table

    table = Table(title=f"run {record.run_id}: {record.status}", title_justify="left")
    columns: tuple[tuple[str, Literal["left", "right"]], ...] = (
        ("stage", "left"),
        ("rows in", "right"),
        ("rows out", "right"),
        ("quarantined / dropped", "left"),
        ("seconds", "right"),
        ("peak MB", "right"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify)
    for stats in record.stages:
        ranked = sorted(stats.dropped.items(), key=lambda item: (-item[1], item[0]))
        drops = ", ".join(f"{reason}: {n:,}" for reason, n in ranked[:SHOWN_REASONS]) or "-"
        if len(ranked) > SHOWN_REASONS:
            drops += f", and {len(ranked) - SHOWN_REASONS} more reasons (run_stages.dropped)"
        table.add_row(
            stats.name,
            f"{stats.rows_in:,}",
            f"{stats.rows_out:,}",
            drops,
            f"{stats.seconds:,.1f}",
            f"{stats.peak_rss_mb:,.0f}",
        )
    return table
