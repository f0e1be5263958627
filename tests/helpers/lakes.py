"""Small lakes for tests and the two ways tests read or fill them: SQL over the catalog, and a recipe run
through the real pipeline runner."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa

from lakehouse import catalog, schemas
from lakehouse.lake import Lake


def query(lake: Lake | Path | str, sql: str) -> list[tuple]:
    """The rows of one SQL statement over the lake's catalog (a read-only connection, closed after)."""
    con = catalog.connect(lake if isinstance(lake, Lake) else Lake(Path(lake)))
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def exposures(n: int, day: int = 1, arm: str | None = None) -> pa.Table:
    """`n` exposures of experiment `e` on 2026-10-`day`, one user each; `arm` None alternates control and test."""
    return pa.Table.from_pylist(
        [
            {
                "experiment_id": "e",
                "arm": arm or ("test" if i % 2 else "control"),
                "user_id": f"u{i}",
                "exposed_at": dt.datetime(2026, 10, day, i % 24, tzinfo=dt.UTC),
                "origin": None,
            }
            for i in range(n)
        ],
        schema=schemas.EXPOSURES,
    )


def run_recipe(lake: Lake, stages: list[dict], name: str = "test", **options):
    """Run a recipe of `stages` through curation's runner (quietly) and return its run record."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse

    return runner.run(parse({"name": name, "stages": stages}), lake, Console(quiet=True), **options)


def run_ingest(lake: Lake, *paths, **options):
    """The `ingest` stage alone over `paths`, with stage `options` (format, strict, ...)."""
    stage = {"stage": "ingest", "paths": [str(p) for p in paths], **options}
    return run_recipe(lake, [stage], command="ingest")
