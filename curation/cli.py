"""`flywheel simulate`, `ingest`, `curate`, `keygen` and the other curation commands.

Each command imports its stage inside the function body: the heavy libraries a stage needs are loaded
only when that stage runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

LakeOption = Annotated[
    Optional[Path],
    typer.Option("--lake", help="Lake directory (default: $FLYWHEEL_LAKE or ./lake).", show_default=False),
]

NEXT_STEPS = """Next:
  make sql                                    interactive SQL over the lake (or: .venv/bin/flywheel sql)
  flywheel sql "SELECT source, count(*) FROM conversations GROUP BY 1"
  flywheel sql "SELECT reason, count(*) FROM quarantine GROUP BY 1"
  flywheel sql "SELECT * FROM run_stages ORDER BY started_at DESC LIMIT 10\""""


def _console():
    from rich.console import Console

    return Console(stderr=False)


def simulate(
    conversations: Annotated[int, typer.Option("--conversations", "-n", min=1, help="Conversations to generate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 7,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("data/simulated"),
    days: Annotated[int, typer.Option(min=1, help="Days of traffic, ending on --end-date.")] = 28,
    end_date: Annotated[str, typer.Option(help="Last day of traffic (YYYY-MM-DD).")] = "2026-11-01",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
) -> None:
    """Generate synthetic chat traffic in the native format, with exposures and a ground-truth sidecar."""
    from curation.simulator import SimulationConfig, run_simulation

    config = SimulationConfig(conversations=conversations, seed=seed, days=days, end_date=end_date)
    summary = run_simulation(config, out, workers=workers)
    typer.echo(summary)


def _run_and_report(recipe, lake_path: Path | None, command: str, next_steps: str | None) -> None:
    from curation.pipeline import runner
    from lakehouse.lake import Lake

    console = _console()
    lake = Lake(lake_path)
    record = runner.run(recipe, lake, console, command=command)
    console.print(runner.summary_table(record))
    if record.status != "succeeded":
        console.print(f"[red]error:[/red] {record.error}")
        raise typer.Exit(1)
    console.print(f"lake: {lake.root}   catalog: {lake.catalog_path}")
    if next_steps:
        console.print(next_steps, markup=False, highlight=False)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (read recursively).")],
    format: Annotated[str, typer.Option("--format", help="auto, native, openai, sharegpt, hh, persona-chat or exposures.")] = "auto",
    source: Annotated[str, typer.Option(help="source (user|internal) for formats that do not carry one.")] = "internal",
    started_at: Annotated[str, typer.Option(help="started_at for formats without timestamps.")] = "1970-01-01T00:00:00Z",
    lake: LakeOption = None,
    drop_user_ids: Annotated[bool, typer.Option("--drop-user-ids", help="Drop user ids instead of pseudonymizing them.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit non-zero if any record is quarantined.")] = False,
) -> None:
    """Ingest traffic logs into the lake; rejected records go to quarantine with a reason."""
    from curation.pipeline.recipe import RecipeError, parse

    stage = {"stage": "ingest", "paths": [str(p) for p in paths], "format": format, "source": source,
             "started_at": started_at, "drop_user_ids": drop_user_ids, "strict": strict}
    try:
        recipe = parse({"name": "ingest", "stages": [stage]}, "flywheel ingest")
    except RecipeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _run_and_report(recipe, lake, "ingest", None)


def curate(
    recipe_path: Annotated[Path, typer.Argument(help="Recipe YAML.")] = Path("configs/curate.yaml"),
    lake: LakeOption = None,
) -> None:
    """Run a curation recipe end to end and print a summary per stage."""
    from curation.pipeline.recipe import RecipeError, load

    try:
        recipe = load(recipe_path)
    except RecipeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    _run_and_report(recipe, lake, "curate", NEXT_STEPS)


def keygen(
    key_file: Annotated[Optional[Path], typer.Option(help="Where to write it (default $FLYWHEEL_HMAC_KEY_FILE or .flywheel/hmac.key).")] = None,
) -> None:
    """Create the user-id pseudonymization key file if it does not exist (keep it outside the lake)."""
    from curation.ingest import pseudonymize

    path = key_file or pseudonymize.key_file_path()
    existed = path.exists()
    pseudonymize.create_key_file(path)
    if existed:
        typer.echo(f"pseudonymization key: {path} (existing)")
    else:
        typer.echo(f"created pseudonymization key {path}: keep it outside the lake and back it up; "
                   "a different key gives different user ids")


def register(app: typer.Typer) -> None:
    for command in (simulate, ingest, curate, keygen):
        app.command()(command)
