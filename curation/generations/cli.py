"""`flywheel generation create|show|list|report`: the flywheel's generations and their ship decisions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    help="Flywheel generations: what each was built from, how it did, whether it ships.", no_args_is_help=True
)
LakeOption = Annotated[Path | None, typer.Option("--lake", help="Lake directory (default: $FLYWHEEL_LAKE or ./lake).")]
FormatOption = Annotated[str, typer.Option("--format", help="table or json.")]


def _lake(path: Path | None):
    from lakehouse.lake import Lake

    return Lake(path).require()


def _check_format(format: str) -> None:
    from curation.generations.record import GenerationError

    if format not in ("table", "json"):
        raise GenerationError(f"--format {format!r}: expected table or json")


def _print(rows: list[dict], format: str) -> None:
    if format == "json":
        typer.echo(json.dumps(rows, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("name", "parent", "experiment", "breadth", "depth", "decision", "reasons"):
        table.add_column(column)
    for r in rows:
        metric = {m["metric"]: m for m in r["ab_metrics"]}
        lifts = [
            f"{metric[k]['lift']:+.1%}" if k in metric and metric[k]["lift"] is not None else "n/a"
            for k in ("breadth", "depth")
        ]
        table.add_row(
            r["name"], r["parent"] or "", r["experiment_id"] or "", *lifts, r["decision"], "; ".join(r["reasons"])
        )
    Console(width=160).print(table)


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Generation name, e.g. gen-16.")],
    parent: Annotated[str | None, typer.Option(help="The generation it follows, e.g. gen-15.")] = None,
    experiment: Annotated[
        str | None, typer.Option("--experiment", help="Its A/B experiment id (latest `ab report`).")
    ] = None,
    ab_report: Annotated[str | None, typer.Option("--ab-report", help="A specific A/B report id instead.")] = None,
    model_version: Annotated[
        list[str] | None, typer.Option("--model-version", help="Traffic model_version values of it (default: NAME).")
    ] = None,
    release: Annotated[
        list[str] | None, typer.Option("--release", help="Release it was trained on, NAME@VERSION.")
    ] = None,
    model: Annotated[list[str] | None, typer.Option("--model", help="Train run id of one of its models.")] = None,
    eval: Annotated[
        list[str] | None, typer.Option("--eval", help="Offline eval id (evals of its models are found anyway).")
    ] = None,
    format: FormatOption = "table",
    lake: LakeOption = None,
) -> None:
    """Record a generation: links, A/B result, offline evals, style artifacts and the ship decision."""
    from curation.generations import record

    _check_format(format)
    row = record.create(
        _lake(lake),
        name,
        parent=parent,
        model_versions=model_version,
        experiment_id=experiment,
        ab_report_id=ab_report,
        releases=release,
        models=model,
        evals=eval,
    )
    _print(record.load(_lake(lake), row["name"]), format)


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Generation name.")],
    format: FormatOption = "json",
    lake: LakeOption = None,
) -> None:
    """One generation's record (JSON by default)."""
    from curation.generations import record

    _check_format(format)
    _print(record.load(_lake(lake), name), format)


@app.command("list")
def list_(format: FormatOption = "table", lake: LakeOption = None) -> None:
    """Every generation, oldest first, with its decision."""
    from curation.generations import record

    _check_format(format)
    _print(record.load(_lake(lake)), format)


@app.command("report")
def report(
    out: Annotated[Path | None, typer.Option("--out", help="Directory for generations.md and its charts.")] = None,
    lake: LakeOption = None,
) -> None:
    """A Markdown page across generations: A/B lifts, RM win rates, style artifacts, decisions."""
    from curation.generations import record
    from curation.generations.report import write

    the_lake = _lake(lake)
    path = write(record.load(the_lake), out or the_lake.root / "reports" / "generations")
    typer.echo(f"report: {path}")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="generation")
