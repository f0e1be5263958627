"""Stage `ingest`: input files -> bronze tables and quarantine (see curation.ingest.ingest)."""

from __future__ import annotations

import os
from collections import Counter

from curation.ingest import pseudonymize, sources
from curation.ingest.config import IngestConfig as Config
from curation.ingest.ingest import Ingestor, IngestRefused
from curation.pipeline.context import StageContext, StageFailed
from curation.pipeline.details import IngestDetails
from lakehouse.lake import ConflictError
from lakehouse.runs import StageStats

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("isal", "isal"),)
# Attempts when another writer commits to bronze while this ingest runs: each retry checks ids against
# the version that writer committed, so its conversations become duplicates here, never a second copy.
CONFLICT_ATTEMPTS = 3


def _input_files(config: Config, ctx: StageContext) -> list:
    paths = list(config.paths)
    for optional in config.optional_paths:
        if optional.exists():
            paths.append(optional)
        else:
            ctx.console.print(f"[yellow]note[/yellow] optional input {optional} not found: skipped")
    try:
        return sources.discover(paths)
    except sources.InputError as exc:
        raise StageFailed(str(exc)) from None


def _size(path) -> int:
    """The file's size for the progress bar; 0 for what cannot be stat'ed (ingest quarantines it)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _ingest_all(ctx: StageContext, config: Config, files: list, key, total: int) -> list:
    """One attempt: every file in one transaction (nothing is visible unless all of it commits)."""
    reports = []
    with ctx.lake.transaction() as tx, ctx.progress("ingest", total, unit="bytes") as bar:
        ingestor = Ingestor(ctx.lake, config, ctx.run_id, tx, key, advance=lambda n: bar.advance(n))
        try:
            for path in files:
                report = ingestor.ingest_file(path)
                bar.advance(0, rows=report.records)
                reports.append(report)
            _strict_check(config, reports)
            ingestor.finish()
        except IngestRefused as exc:
            tx.abort()
            raise StageFailed(str(exc)) from None
    return reports


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    files = _input_files(config, ctx)
    key = pseudonymize.load_key()
    if key is not None and not os.environ.get(pseudonymize.KEY_ENV):
        pseudonymize.check_key_outside_lake(pseudonymize.key_file_path(), ctx.lake.root)
    total = sum(_size(f) for f in files)
    for attempt in range(1, CONFLICT_ATTEMPTS + 1):
        try:
            reports = _ingest_all(ctx, config, files, key, total)
            break
        except ConflictError as exc:
            if attempt == CONFLICT_ATTEMPTS:
                raise StageFailed(str(exc)) from None
            ctx.console.print(f"[yellow]note[/yellow] {exc}; ingesting again (attempt {attempt + 1})")
    quarantined: Counter[str] = Counter()
    for report in reports:
        quarantined.update(report.quarantined)
    stats.rows_in = sum(r.records for r in reports)
    stats.rows_out = sum(r.accepted for r in reports)
    stats.dropped.update(quarantined)
    details: IngestDetails = {
        "files_ingested": sum(r.status == "ingested" for r in reports),
        "files_skipped": [r.path for r in reports if r.status == "skipped"],
        "conversations": sum(r.conversations for r in reports),
        "files": [
            {
                "path": r.path,
                "format": r.format,
                "status": r.status,
                "records": r.records,
                "accepted": r.accepted,
                "quarantined": dict(r.quarantined),
                "note": r.note,
            }
            for r in reports
        ],
    }
    stats.details = dict(details)
    for report in reports:
        if report.status == "skipped":
            ctx.console.print(f"[dim]skipped {report.path}: {report.note}[/dim]")


def _strict_check(config: Config, reports: list) -> None:
    """`--strict`: every record is validated first, and one quarantined record means nothing is committed
    (the transaction is aborted: no bronze rows, no quarantine rows, no ledger entries)."""
    if not config.strict:
        return
    dropped: Counter[str] = Counter()
    for report in reports:
        dropped.update(report.quarantined)
    if dropped:
        raise IngestRefused(
            f"--strict: {sum(dropped.values()):,} records quarantined "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(dropped.items()))}); nothing was written"
        )
