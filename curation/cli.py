"""`flywheel simulate`, `ingest`, `curate` and the other curation commands.

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


def register(app: typer.Typer) -> None:
    app.command()(simulate)
