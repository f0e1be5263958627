"""`flywheel label ...` commands: queues, annotators, snapshots, the demo and the Streamlit server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Literal

import typer

from labeling_app import interactive_command
from lakehouse import cli_options
from lakehouse.cli_options import LakeOption
from lakehouse.errors import UserError

PRIMARY_COLOR = "#1d4ed8"  # blue: Streamlit's default red reads as "danger" on the choice buttons
label_app = cli_options.app(help="The labeling app: queues, annotators, the Streamlit server.")
queue_app = cli_options.app(help="Task queues.")
label_app.add_typer(queue_app, name="queue")

AnnotatorsOption = Annotated[
    Path | None,
    typer.Option(
        "--annotators",
        metavar="FILE",
        help="Annotator tokens file (default: LAKE/labels/annotators.yaml).",
        show_default=False,
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="FILE", help="Labeling config (default: configs/labeling.yaml).", show_default=False
    ),
]


def _lake(lake: str | None) -> Path:
    """The local lake directory: the label store is SQLite, which needs a local filesystem."""
    from labeling_app.store import local_lake
    from lakehouse.lake import resolve_lake_path

    return local_lake(resolve_lake_path(lake))


@queue_app.command("create")
def queue_create(
    kind: Annotated[
        Literal["pairwise", "questionnaire", "rewrite", "rating"], typer.Option("--kind", help="The task kind.")
    ],
    source: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="SOURCE",
            help="SQL over the catalog, a preset (regenerations, "
            "preference-pairs, model-versions:V1,V2) or a release directory.",
        ),
    ],
    per_item: Annotated[int, typer.Option("--per-item", min=1, help="Distinct annotators per item.")] = 3,
    name: Annotated[str | None, typer.Option(help="Queue name (default: kind, date and a source hash).")] = None,
    append: Annotated[bool, typer.Option("--append", help="Add items to an existing queue of that name.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many items.")] = None,
    lake: LakeOption = None,
    config: ConfigOption = None,
) -> None:
    """Create a queue of tasks from SQL, a preset or a release."""
    from labeling_app.config import load_config
    from labeling_app.queues import create_queue

    created = create_queue(
        _lake(lake),
        kind=kind,
        source=source,
        per_item=per_item,
        name=name,
        config=load_config(config),
        append=append,
        limit=limit,
    )
    typer.echo(created.summary())


@queue_app.command("gold")
def queue_gold(
    name: Annotated[str, typer.Argument(help="The queue's NAME.")],
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="Items with known answers: SQL with a `gold` column (pairs: a, b or tie; ratings: the "
            "score; rewrites: edited or unchanged), or pairs with a `chosen` candidate (preference-pairs).",
        ),
    ],
    limit: Annotated[int | None, typer.Option(min=1, help="At most this many gold items.")] = None,
    lake: LakeOption = None,
) -> None:
    """Add gold items (known answers) that annotators meet at the queue's gold rate."""
    from labeling_app.queues import add_gold

    added, present = add_gold(_lake(lake), name, source, limit=limit)
    typer.echo(f"queue {name!r}: {added:,} gold items added" + (f", {present:,} already there" if present else ""))


@queue_app.command("list")
def queue_list(lake: LakeOption = None) -> None:
    """Queues with their progress."""
    from labeling_app.store import Store, store_path

    root = _lake(lake)
    if not store_path(root).exists():
        raise UserError(f"no label store at {store_path(root)} (create a queue first)")
    with Store.for_lake(root, read_only=True) as store:
        for q in store.queues():
            typer.echo(
                f"{q.name}\t{q.kind}\t{q.n_tasks:,} tasks\t{q.per_item} per item\t"
                f"{q.n_labels:,}/{q.target_labels:,} labels\t{q.n_complete:,} complete"
            )


@label_app.command("add-annotator")
def add_annotator(
    name: Annotated[str, typer.Argument(help="Annotator name (letters, digits, _ . -).")],
    role: Annotated[Literal["annotator", "reviewer"], typer.Option(help="What they may do.")] = "annotator",
    replace: Annotated[bool, typer.Option("--replace", help="Issue a new token to an existing name.")] = False,
    lake: LakeOption = None,
    annotators_file: AnnotatorsOption = None,
) -> None:
    """Add an annotator and print their token (only its hash is stored: keep the token safe)."""
    from labeling_app import annotators

    path = annotators_file or annotators.default_path(_lake(lake))
    annotator, token = annotators.add(path, name, role, replace=replace)
    typer.echo(f"{annotator.role} {annotator.name} added to {path}; token (shown once):")
    typer.echo(token)


@label_app.command()
def snapshot(
    lake: LakeOption = None,
    refresh: Annotated[bool, typer.Option(help="Rebuild the catalog afterwards.")] = True,
) -> None:
    """Snapshot the label store to Parquet tables of the lake (labels, tasks, consensus)."""
    from labeling_app.snapshot import snapshot as take

    result = take(_lake(lake), refresh_catalog=refresh)
    typer.echo(result.summary())


@label_app.command()
def agreement(
    lake: LakeOption = None,
    queue: Annotated[str | None, typer.Option(help="One queue by name (default: all).")] = None,
) -> None:
    """Krippendorff's alpha and consensus counts per queue and question."""
    from labeling_app.consensus import analyze
    from labeling_app.store import Store

    with Store.for_lake(_lake(lake), read_only=True) as store:
        queues = [store.queue(queue)] if queue else store.queues()
        for q in queues:
            result = analyze(q, store.labels(q.queue_id))
            for question in result.questions:
                items = [i for i in result.items if i.question == question.id]
                alpha = result.alpha[question.id]
                typer.echo(
                    f"{q.name}\t{question.id}\talpha={'n/a' if alpha is None else f'{alpha:.3f}'}\t"
                    f"{len(items):,} items\t{sum(i.kept for i in items):,} kept\t"
                    f"{len(result.disagreements()):,} to adjudicate"
                )


@label_app.command()
def demo(lake: LakeOption = None, annotators_file: AnnotatorsOption = None) -> None:
    """Create a demo queue of each kind and print demo annotator and reviewer tokens."""
    from labeling_app.demo import create_demo

    result = create_demo(_lake(lake), annotators_file)
    for line in result.lines:
        typer.echo(line)
    for name, token in result.tokens.items():
        typer.echo(f"{name} token: {token}")


@label_app.command()
def serve(
    lake: LakeOption = None,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8501,
    local_mode: Annotated[
        bool, typer.Option("--local-mode", help="Single user, no token (this machine only).")
    ] = False,
    annotators_file: AnnotatorsOption = None,
    config: ConfigOption = None,
) -> None:
    """Start the labeling app (Streamlit) on 127.0.0.1."""
    from labeling_app.settings import APP_SCRIPT, settings_env

    root = _lake(lake)
    env = {**os.environ, **settings_env(root, local_mode=local_mode, annotators_file=annotators_file, config=config)}
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP_SCRIPT),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.runOnSave",
        "false",
        "--server.fileWatcherType",
        "none",
        "--client.toolbarMode",
        "viewer",
        "--theme.primaryColor",
        PRIMARY_COLOR,
    ]
    typer.echo(f"labeling app on http://127.0.0.1:{port} over {root}" + (" (local mode)" if local_mode else ""))
    os.execve(sys.executable, command, env)


queue_app.command("interactive")(interactive_command.queue_interactive)


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
