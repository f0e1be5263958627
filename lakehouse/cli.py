"""The `flywheel` command. lakehouse owns the root and the `sql` and `catalog` commands; the other
packages add theirs through the `flywheel.commands` entry-point group (see pyproject.toml), so this
module never imports them and `flywheel sql` never pays for their imports.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="flywheel",
    help="Turn production chat traffic into better training data, generation after generation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
catalog_app = typer.Typer(help="The DuckDB catalog of the lake.", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")
lake_app = typer.Typer(help="The lake's Delta tables: versions, history, vacuum, migration.", no_args_is_help=True)
app.add_typer(lake_app, name="lake")

LakeOption = Annotated[
    Path | None,
    typer.Option("--lake", help="Lake directory (default: $FLYWHEEL_LAKE or ./lake).", show_default=False),
]


FORMATS = ("table", "csv", "json")


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help="One SELECT statement (read-only: other statements are refused); omit it for an interactive prompt."
        ),
    ] = None,
    lake: LakeOption = None,
    format: Annotated[str, typer.Option("--format", "-f", help="table, csv or json.")] = "table",
    max_rows: Annotated[int, typer.Option(help="Rows shown in table format (csv and json print all).")] = 50,
) -> None:
    """Query the lake with DuckDB SQL over a read-only catalog (never blocks a running pipeline)."""
    from lakehouse import sql_shell
    from lakehouse.lake import Lake

    if format not in FORMATS:
        raise typer.BadParameter(f"must be one of {', '.join(FORMATS)}, not {format!r}", param_hint="--format")
    the_lake = Lake(lake)
    if not the_lake.root.exists():
        typer.echo(f"error: no lake at {the_lake.root} (run `make curate` or `flywheel ingest` first)", err=True)
        raise typer.Exit(2)
    if query is None:
        sql_shell.repl(the_lake, format=format, max_rows=max_rows)
        return
    code = sql_shell.run_one(the_lake, query, format=format, max_rows=max_rows)
    raise typer.Exit(code)


@catalog_app.command("refresh")
def catalog_refresh(lake: LakeOption = None) -> None:
    """Rebuild catalog.duckdb (every writing command already does this before it exits)."""
    from lakehouse import catalog
    from lakehouse.lake import Lake

    path = catalog.refresh(Lake(lake))
    typer.echo(f"catalog rebuilt: {path}")


@lake_app.command("versions")
def lake_versions(lake: LakeOption = None) -> None:
    """The latest and the catalog-visible (complete) version of every table."""
    from lakehouse import catalog  # noqa: F401 - registers every table
    from lakehouse.lake import Lake

    the_lake = Lake(lake).require()
    for name, version in the_lake.versions().items():
        complete = the_lake.complete_version(name)
        note = "" if complete == version else f"  (catalog shows {complete}: a stage has not finished)"
        typer.echo(f"{name:36s} v{version}  {len(the_lake.files(name)):6d} files{note}")


@lake_app.command("history")
def lake_history(
    table: Annotated[str, typer.Argument(help="Table name, e.g. bronze/conversations.")],
    lake: LakeOption = None,
    limit: int = 20,
) -> None:
    """A table's Delta commits, newest first: version, time, operation, partial flag."""
    import datetime as dt

    from deltalake import DeltaTable

    from lakehouse.lake import PARTIAL_KEY, Lake, LakeError

    the_lake = Lake(lake).require()
    if not the_lake.is_table(table):
        raise LakeError(f"table {table} does not exist in {the_lake.root}")
    for entry in DeltaTable(str(the_lake.table_dir(table))).history(limit):
        at = dt.datetime.fromtimestamp(entry["timestamp"] / 1000, dt.UTC).isoformat(timespec="seconds")
        partial = "  partial" if entry.get(PARTIAL_KEY) else ""
        typer.echo(f"v{entry['version']:<5d} {at}  {entry.get('operation', '')}{partial}")


@lake_app.command("vacuum")
def lake_vacuum(
    lake: LakeOption = None,
    retention_hours: Annotated[
        float, typer.Option(min=0, help="Keep the files of versions this recent (time travel reaches this far).")
    ] = 168,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
) -> None:
    """Delete data files no version of the last --retention-hours uses and staging of dead writers;
    refuses while another command writes the lake."""
    from lakehouse.lake import Lake, vacuum

    removed = vacuum(Lake(lake).require(), retention_hours=retention_hours, dry_run=dry_run)
    for name, files in removed.items():
        typer.echo(f"{'would delete' if dry_run else 'deleted'} {len(files)} files of {name}")
    if not removed:
        typer.echo("nothing to delete")


@lake_app.command("migrate")
def lake_migrate(lake: LakeOption = None) -> None:
    """Adopt the tables of a lake written by the earlier format as Delta tables (files stay in place)."""
    from lakehouse import catalog
    from lakehouse.lake import Lake, migrate

    the_lake = Lake(lake).require()
    adopted = migrate(the_lake)
    for name, count in adopted.items():
        typer.echo(f"{name}: {count} files adopted")
    catalog.refresh(the_lake)
    typer.echo("nothing to migrate" if not adopted else f"{len(adopted)} tables migrated")


@app.command()
def retention(
    keep_days: Annotated[int, typer.Option(min=0, help="Keep partitions of the last N days.")],
    lake: LakeOption = None,
    as_of: Annotated[str | None, typer.Option(help="Reference date YYYY-MM-DD (default: today, UTC).")] = None,
    table: Annotated[list[str] | None, typer.Option(help="Table(s) to purge (default: the raw-text tables).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
) -> None:
    """Purge day partitions of raw-text tables (bronze conversations, quarantine) older than --keep-days."""
    import datetime as dt

    from lakehouse import catalog
    from lakehouse import retention as policy
    from lakehouse.lake import Lake
    from lakehouse.runs import RunRecord, StageStats, new_run_id, utc_now, write_run

    the_lake = Lake(lake).require()
    reference = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(dt.UTC).date()
    purges = policy.plan(the_lake, keep_days, reference, tuple(table) if table else policy.RAW_TABLES)
    for item in purges:
        typer.echo(f"{'would delete' if dry_run else 'deleting'} {item.table} day={item.day} ({len(item.files)} files)")
    if dry_run or not purges:
        typer.echo("nothing to delete" if not purges else f"{len(purges)} partitions would be deleted")
        return
    removed = policy.purge(the_lake, purges)
    stats = StageStats("retention", rows_in=len(purges), rows_out=0)
    stats.drop("expired_partition", len(purges))
    record = RunRecord(
        new_run_id("retention"),
        "retention",
        str(the_lake.root),
        status="succeeded",
        stages=[stats],
        finished_at=utc_now(),
    )
    write_run(the_lake, record)
    catalog.refresh(the_lake)
    typer.echo(f"deleted {len(purges)} partitions ({removed} files)")


def _register_plugins() -> None:
    for entry in sorted(entry_points(group="flywheel.commands"), key=lambda e: e.name):
        entry.load()(app)


def main() -> None:
    from lakehouse.lake import ConflictError, LakeError, LakeNotFoundError

    _register_plugins()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except LakeNotFoundError as exc:  # a mistyped --lake: an error, never a new empty lake
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (ConflictError, LakeError) as exc:  # e.g. another writer won the race: nothing was committed
        typer.echo(f"error: {exc}", err=True)
        sys.exit(1)
