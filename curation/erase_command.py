"""`flywheel erase`: delete one user's data from every table of the lake now, list what would go
(`--dry-run`), or queue the request for the `erase` stage of the next `flywheel curate` (`--queue`).
docs/erasure.md describes what is erased and what is kept."""

from __future__ import annotations

from typing import Annotated

import typer

from lakehouse.cli_options import LakeOption, open_existing_lake
from lakehouse.errors import UserError


def erase(
    user: Annotated[
        str | None,
        typer.Option(
            "--user",
            metavar="USER_ID",
            help="The user's id in clear (pseudonymized with the lake's key) or their pseudonym.",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted and superseded.")] = False,
    queue: Annotated[
        bool,
        typer.Option(
            "--queue",
            help="Record the request for the `erase` stage of the next `flywheel curate` instead of erasing now.",
        ),
    ] = False,
    pending: Annotated[
        bool, typer.Option("--pending", help="Apply the queued requests now (what the `erase` stage does).")
    ] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who asks, for the erasure log (default: $USER).", show_default=False)
    ] = None,
    reason: Annotated[
        str | None, typer.Option(help="Why (e.g. a ticket number), for the log; never the id.", show_default=False)
    ] = None,
    lake: LakeOption = None,
) -> None:
    """Erase a user: conversations, exposures, samples, attributes, embeddings and labels, from every
    table; mark the releases that held them superseded; record the erasure without the id."""
    from lakehouse import erasure

    if pending == (user is not None):
        raise UserError("give --user USER_ID, or --pending to apply the queued requests")
    if queue and (dry_run or pending):
        raise UserError("--queue records a request; it does not go with --dry-run or --pending")
    the_lake = open_existing_lake(lake)
    requested_by = by or erasure.requested_by_default()
    if user is None:  # --pending: the check above lets no other call through without a user
        _apply_pending(the_lake, dry_run)
    elif queue:
        _queue(the_lake, user, requested_by, reason)
    else:
        _erase_now(the_lake, user, dry_run, requested_by, reason)


def _erase_now(lake, user: str, dry_run: bool, requested_by: str, reason: str | None) -> None:
    from curation import erasure as curation_erasure
    from lakehouse import erasure

    the_plan, previous = curation_erasure.prepare(lake, user)
    if the_plan.empty:
        last = previous[-1]
        typer.echo(
            f"already erased by {last['erasure_id']} at {last['erased_at']:%Y-%m-%d %H:%M:%S} UTC; "
            "nothing of this user is left in the lake"
        )
        return
    if dry_run:
        typer.echo("\n".join(the_plan.lines()))
        return
    result = erasure.apply(lake, the_plan, requested_by=requested_by, reason=reason)
    _finish(lake, [result])


def _queue(lake, user: str, requested_by: str, reason: str | None) -> None:
    from curation import erasure as curation_erasure
    from lakehouse import catalog, erasure

    the_plan, previous = curation_erasure.prepare(lake, user)
    if the_plan.empty:
        typer.echo(f"already erased by {previous[-1]['erasure_id']}; nothing to queue")
        return
    request_id = erasure.queue_request(lake, the_plan.subject.pseudonym, requested_by=requested_by, reason=reason)
    catalog.refresh(lake)
    typer.echo(
        f"queued {request_id} ({the_plan.rows:,} rows now): the `erase` stage of the next `flywheel curate` "
        "applies it, or `flywheel erase --pending`"
    )


def _apply_pending(lake, dry_run: bool) -> None:
    from curation import erasure as curation_erasure

    done = curation_erasure.apply_pending(lake, dry_run=dry_run)
    if not done:
        typer.echo("no pending erasure requests")
        return
    for request, the_plan, _ in done:
        typer.echo(f"request {request['request_id']} (by {request['requested_by']}):")
        typer.echo("\n".join("  " + line for line in the_plan.lines("would delete" if dry_run else "deleted")))
    if not dry_run:
        _finish(lake, [result for _, _, result in done])


def _finish(lake, results: list) -> None:
    """The run record (rows deleted per table, no ids), the catalog, and what was done."""
    from lakehouse.runs import recorded_run

    with recorded_run(lake, "erase") as record:
        record.stages.append(erasure_stats(results))
    for result in results:
        typer.echo("\n".join(result.plan.lines("deleted")))
        typer.echo(
            f"erasure {result.record['erasure_id']}: {result.record['rows_deleted']:,} rows in "
            f"{result.record['files_rewritten']:,} files, {result.record['seconds']:.1f}s; recorded in "
            'meta/erasures (flywheel sql "SELECT * FROM erasures")'
        )
        if result.plan.releases:
            typer.echo(
                "rebuild the superseded releases: flywheel releases build configs/curate.yaml "
                "(add --refreeze when a frozen evaluation set is among them)"
            )


def erasure_stats(results: list):
    """One StageStats for the run record and the recipe summary: rows deleted by table."""
    from curation.pipeline.details import ErasureDetails
    from lakehouse.runs import StageStats

    stats = StageStats("erase")
    for result in results:
        for table, (deleted, _) in result.plan.counts().items():
            stats.drop(f"erased:{table}", deleted)
        for what, n in result.plan.outside.items():
            stats.drop(f"erased:{what}", n)
    stats.rows_in = sum(r.plan.rows for r in results)
    details: ErasureDetails = {
        "erasures": [r.record["erasure_id"] for r in results],
        "superseded_releases": sorted({ref for r in results for ref in r.plan.releases}),
    }
    stats.details = dict(details)
    return stats
