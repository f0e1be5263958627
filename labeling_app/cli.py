"""`flywheel label ...` commands."""

from __future__ import annotations

import typer

label_app = typer.Typer(help="The labeling app: queues, annotators, the Streamlit server.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(label_app, name="label")
