"""`flywheel train ...`, `generate`, `score` and `eval` commands."""

from __future__ import annotations

import typer

train_app = typer.Typer(help="Train on releases with TRL: sft, reward, dpo, kto.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
