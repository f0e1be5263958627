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


def dedup(
    in_path: Annotated[Path, typer.Option("--in", exists=True, dir_okay=False,
                                          help='JSONL (optionally .gz), lines {"id", "text"[, "started_at"]}.')],
    out: Annotated[Path, typer.Option("--out", dir_okay=False, help='Output JSONL: {"id", "cluster", "representative"}.')],
    threshold: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="Near-duplicate Jaccard threshold "
                                                       "(default from --config, else the measured default).")] = None,
    config: Annotated[Optional[Path], typer.Option(exists=True, dir_okay=False, help="YAML of dedup settings.")] = None,
    workers: Annotated[Optional[int], typer.Option(min=1, help="Processes computing signatures.")] = None,
) -> None:
    """Cluster exact and near-duplicate texts; every line gets its cluster (the representative's id)."""
    from curation.dedup.config import DedupConfig, load_config
    from curation.dedup.jsonl import InputError, dedup_jsonl

    try:
        settings = load_config(config) if config else DedupConfig()
        overrides = {k: v for k, v in {"threshold": threshold, "workers": workers}.items() if v is not None}
        settings = DedupConfig.model_validate({**settings.model_dump(), **overrides})
        stats = dedup_jsonl(in_path, out, settings)
    except (InputError, ValueError) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    details = stats.details
    lsh = f"bands={details['bands']} rows={details['rows']} " if "bands" in details else ""
    typer.echo(f"{stats.summary()}; clusters with copies={details['multi_row_clusters']:,}, "
               f"{lsh}threshold={settings.threshold}", err=True)


def dedup_eval(
    data: Annotated[Path, typer.Option(help="Folder with the shared real data (see tests/conftest.py).")] = Path("../shared/data"),
    seed: Annotated[int, typer.Option(help="Seed of the edited copies (the defaults were chosen on seed 1).")] = 2,
    sweep: Annotated[bool, typer.Option("--sweep", help="Also run the sweeps that chose the defaults.")] = False,
    simulated: Annotated[Optional[Path], typer.Option(help="Simulator output folder (conversations + truth.jsonl.gz).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Also write the Markdown tables here.")] = None,
) -> None:
    """Measure dedup pair precision and recall through `flywheel dedup`'s code path (docs/dedup.md)."""
    from curation.dedup.config import DedupConfig
    from curation.dedup.evaluation import SWEEPS, evaluate, real_corpora, simulated_corpora, sweep_configs, table

    corpora = real_corpora(data, seed)
    if simulated is not None:
        corpora.update(simulated_corpora(simulated))
    sections = [("defaults", table(evaluate(corpora, [DedupConfig()]), ["threshold", "word_ngram"]))]
    if sweep:
        for title, grid in SWEEPS:
            sections.append((title, table(evaluate(corpora, sweep_configs(grid)), list(grid))))
    text = "\n\n".join(f"### {title} (seed {seed})\n\n{body}" for title, body in sections)
    typer.echo(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command()(dedup)
    app.command("dedup-eval")(dedup_eval)
