"""`flywheel label queue interactive`: a queue of live chats judged turn by turn (labeling_app/interactive.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from lakehouse.cli_options import LakeOption


def queue_interactive(
    cards: Annotated[
        str,
        typer.Option(
            "--cards",
            metavar="FILE",
            help="A YAML or JSONL file of {character, scenario} cards, or `characters`: the lake's characters "
            "crossed with --scenarios.",
        ),
    ],
    pool: Annotated[Path, typer.Option("--pool", metavar="FILE", help="The model pool (YAML, docs/serving.md).")],
    models: Annotated[
        str, typer.Option("--models", metavar="A[,B]", help="Two pool models, or one (two samples of it).")
    ],
    scenarios: Annotated[
        Path | None,
        typer.Option("--scenarios", metavar="FILE", help="Scenario cards for --cards characters (YAML list)."),
    ] = None,
    continuation: Annotated[
        Literal["random", "preferred"],
        typer.Option(help="Which reply the chat goes on with: a random one (against history bias) or the preferred."),
    ] = "random",
    max_turns: Annotated[int, typer.Option("--max-turns", min=1, max=50, help="Turns per chat.")] = 10,
    per_item: Annotated[int, typer.Option("--per-item", min=1, help="Chats per character x scenario.")] = 1,
    name: Annotated[str | None, typer.Option(help="Queue name (default: interactive and a source hash).")] = None,
    lake: LakeOption = None,
    config: Annotated[Path | None, typer.Option("--config", metavar="FILE", help="Labeling config.")] = None,
) -> None:
    """Create a queue of interactive chats: two served candidates per turn, judged side by side."""
    from labeling_app.cli import _lake
    from labeling_app.config import load_config
    from labeling_app.interactive import InteractiveSettings, create_queue
    from lakehouse.config import validate_model

    raw = {
        "pool": pool,
        "models": [m.strip() for m in models.split(",") if m.strip()],
        "continuation": continuation,
        "max_turns": max_turns,
    }
    settings = validate_model(InteractiveSettings, raw, "queue settings")
    created = create_queue(
        _lake(lake),
        source=cards,
        settings=settings,
        scenarios=scenarios,
        per_item=per_item,
        name=name,
        config=load_config(config),
    )
    typer.echo(created.summary())
