"""Stage `erase`: apply the pending erasure requests (`flywheel erase --user X --queue`; docs/erasure.md).

Requests are queued in `meta/erasure_requests` rather than written into the recipe, so no user id ever
sits in a recipe, a run record or a shell history of `make curate`. The stage runs right after ingest:
anything the user sent since the request was queued is erased with the rest, before scrub, dedup and the
releases read it, and the later stages of the same run recompute over the changed text. Each request
becomes one erasure in `meta/erasures`; with no request pending the stage does nothing.
"""

from __future__ import annotations

from pydantic import Field

from curation.pipeline.context import StageContext
from curation.pipeline.details import EraseDetails, ErasureDetails, engine_details
from lakehouse.config import StrictModel
from lakehouse.runs import StageStats

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = ()


class Config(StrictModel):
    dry_run: bool = Field(False, description="List what the pending requests would erase; apply none of them.")


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    from curation import erasure as curation_erasure
    from curation.erase_command import erasure_stats

    done = curation_erasure.apply_pending(ctx.lake, dry_run=config.dry_run)
    if not done:
        ctx.console.print("erase: no pending erasure requests")
        no_requests: EraseDetails = {"requests": 0}
        stats.details = dict(no_requests)
        return
    verb = "would delete" if config.dry_run else "deleted"
    for request, the_plan, _ in done:
        ctx.console.print(f"erase: request {request['request_id']} (by {request['requested_by']})", highlight=False)
        for line in the_plan.lines(verb):
            ctx.console.print(f"  {line}", highlight=False, markup=False)
    results = [result for _, _, result in done if result is not None]
    details: EraseDetails = {"requests": len(done), "dry_run": config.dry_run}
    if results:
        applied = erasure_stats(results)
        stats.rows_in, stats.dropped = applied.rows_in, applied.dropped
        details = {**engine_details(applied, ErasureDetails), **details}
    stats.details = dict(details)
