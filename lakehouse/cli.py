"""The `flywheel` command. lakehouse owns the root and the `sql` and `catalog` commands; the other
packages add theirs through the `flywheel.commands` entry-point group (see pyproject.toml), so this
module never imports them and `flywheel sql` never pays for their imports. Groups that several packages
add to (`flywheel eval ...`, `flywheel train ...`) are made here by `group()`.
"""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from typing import Annotated, Literal

import typer

from lakehouse import cli_options
from lakehouse.cli_options import LakeOption, open_existing_lake
from lakehouse.errors import FlywheelError, UserError

app = cli_options.app(
    name="flywheel", help="Turn production chat traffic into better training data, generation after generation."
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"flywheel {version('flywheel')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Turn production chat traffic into better training data, generation after generation."""


catalog_app = cli_options.app(help="The DuckDB catalog of the lake.")
app.add_typer(catalog_app, name="catalog")
lake_app = cli_options.app(help="The lake's Delta tables: versions, history, vacuum, migration.")
app.add_typer(lake_app, name="lake")

# Command groups that more than one package adds to (`eval scrub` is curation's, `eval model` train's): the
# group is made here, once per root app, and each package's register() adds its commands to `group(app, NAME)`.
GROUPS = {
    "eval": "Measure quality: the scrubber (scrub), dedup (dedup), a trained model against another (model), "
    "style artifacts across checkpoints (artifacts).",
    "train": "Train on releases with TRL and work with the models: sft, reward, dpo, kto, grpo, online-dpo, "
    "signals, generate, score, rejection-sample, gpu-check.",
}


def group(app: typer.Typer, name: str) -> typer.Typer:
    """The `name` subcommand group of `app` (one of GROUPS), created on first use, so that packages which
    never import each other can add commands to the same group."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = cli_options.app(help=GROUPS[name])
    app.add_typer(sub, name=name)
    return sub


Format = Literal["table", "csv", "json"]


@app.command()
def sql(
    query: Annotated[
        str | None,
        typer.Argument(
            help="One SELECT statement (read-only: other statements are refused); omit it for an interactive prompt."
        ),
    ] = None,
    lake: LakeOption = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="How rows are printed.")] = "table",
    max_rows: Annotated[int, typer.Option(help="Rows shown in table format (csv and json print all).")] = 50,
) -> None:
    """Query the lake with DuckDB SQL over a read-only catalog (never blocks a running pipeline)."""
    from lakehouse import sql_shell

    the_lake = open_existing_lake(lake)
    if query is None:
        sql_shell.repl(the_lake, format=format, max_rows=max_rows)
        return
    code = sql_shell.run_one(the_lake, query, format=format, max_rows=max_rows)
    raise typer.Exit(code)


@catalog_app.command("refresh")
def catalog_refresh(lake: LakeOption = None) -> None:
    """Rebuild catalog.duckdb (every writing command already does this before it exits)."""
    from lakehouse import catalog

    path = catalog.refresh(open_existing_lake(lake))
    typer.echo(f"catalog rebuilt: {path}")


@lake_app.command("versions")
def lake_versions(lake: LakeOption = None) -> None:
    """The latest and the catalog-visible (complete) version of every table."""
    from lakehouse import catalog  # noqa: F401 - registers every table

    the_lake = open_existing_lake(lake)
    for name, version in the_lake.versions().items():
        complete = the_lake.complete_version(name)
        note = "" if complete == version else f"  (catalog shows {complete}: a stage has not finished)"
        typer.echo(f"{name:36s} v{version}  {len(the_lake.files(name)):6d} files{note}")


@lake_app.command("history")
def lake_history(
    table: Annotated[str, typer.Argument(metavar="TABLE", help="Table name, e.g. bronze/conversations.")],
    lake: LakeOption = None,
    limit: int = 20,
) -> None:
    """A table's Delta commits, newest first: version, time, operation, partial flag."""
    import datetime as dt

    from deltalake import DeltaTable

    from lakehouse.lake import PARTIAL_KEY, LakeError

    the_lake = open_existing_lake(lake)
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
    from lakehouse.lake import vacuum

    removed = vacuum(open_existing_lake(lake), retention_hours=retention_hours, dry_run=dry_run)
    for name, files in removed.items():
        typer.echo(f"{'would delete' if dry_run else 'deleted'} {len(files)} files of {name}")
    if not removed:
        typer.echo("nothing to delete")


@lake_app.command("migrate")
def lake_migrate(lake: LakeOption = None) -> None:
    """Adopt the tables of a lake written by the earlier format as Delta tables (files stay in place)."""
    from lakehouse import catalog
    from lakehouse.lake import migrate

    the_lake = open_existing_lake(lake)
    adopted = migrate(the_lake)
    for name, count in adopted.items():
        typer.echo(f"{name}: {count} files adopted")
    catalog.refresh(the_lake)
    typer.echo("nothing to migrate" if not adopted else f"{len(adopted)} tables migrated")


@app.command()
def retention(
    keep_days: Annotated[int, typer.Option(min=0, metavar="DAYS", help="Keep partitions of the last DAYS days.")],
    lake: LakeOption = None,
    as_of: Annotated[
        str | None, typer.Option(metavar="DATE", help="Reference date YYYY-MM-DD (default: today, UTC).")
    ] = None,
    table: Annotated[
        list[str] | None,
        typer.Option(metavar="TABLE", help="Table(s) to purge (default: the raw-text tables)."),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only list what would be deleted.")] = False,
) -> None:
    """Purge day partitions of raw-text tables (bronze conversations, quarantine) older than --keep-days."""
    from lakehouse import retention as policy
    from lakehouse.runs import StageStats, recorded_run

    the_lake = open_existing_lake(lake)
    reference = _reference_day(as_of)
    purges = policy.plan(the_lake, keep_days, reference, tuple(table) if table else policy.RAW_TABLES)
    for item in purges:
        typer.echo(f"{'would delete' if dry_run else 'deleting'} {item.table} day={item.day} ({len(item.files)} files)")
    if dry_run or not purges:
        typer.echo("nothing to delete" if not purges else f"{len(purges)} partitions would be deleted")
        return
    with recorded_run(the_lake, "retention") as record:
        removed = policy.purge(the_lake, purges)
        stats = StageStats("retention", rows_in=len(purges), rows_out=0)
        stats.drop("expired_partition", len(purges))
        record.stages.append(stats)
    typer.echo(f"deleted {len(purges)} partitions ({removed} files)")


def _reference_day(as_of: str | None):
    import datetime as dt

    if as_of is None:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(as_of)
    except ValueError:
        raise UserError(f"--as-of {as_of}: not a date YYYY-MM-DD") from None


def _register_plugins() -> None:
    for entry in sorted(entry_points(group="flywheel.commands"), key=lambda e: e.name):
        entry.load()(app)


def main() -> None:
    """The `flywheel` entry point. Errors raised inside a command are reported by the root group
    (`cli_options.ErrorBoundary`); this catches the same for what runs outside one (plugin loading)."""
    try:
        _register_plugins()
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except FlywheelError as exc:
        sys.exit(cli_options.report(exc))
