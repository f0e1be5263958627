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


RecipeOption = Annotated[
    Optional[Path],
    typer.Option("--recipe", help="Recipe YAML; its `scrub` section configures detection (default: built-in).",
                 show_default=False),
]


def _scrub_config(recipe: Optional[Path], **overrides):
    from curation.scrub.config import ScrubConfig, load_recipe_scrub

    try:
        config = load_recipe_scrub(recipe) if recipe else ScrubConfig()
        updates = {k: v for k, v in overrides.items() if v is not None}
        return ScrubConfig.model_validate({**config.model_dump(), **updates}) if updates else config
    except (OSError, ValueError) as err:
        typer.echo(f"error: scrub config{f' in {recipe}' if recipe else ''}: {err}", err=True)
        raise typer.Exit(2)


def scrub(
    in_path: Annotated[Path, typer.Option("--in", help="Input JSONL: {\"id\", \"text\"} per line.", exists=True,
                                          dir_okay=False)],
    out_path: Annotated[Path, typer.Option("--out", help="Output JSONL: id, scrubbed text, entities.")],
    recipe: RecipeOption = None,
    mode: Annotated[Optional[str], typer.Option(help="placeholder or surrogate (overrides the recipe).",
                                                show_default=False)] = None,
) -> None:
    """Remove personal data from texts; entities are reported with offsets into the input text."""
    from curation.scrub.engine import ModelNotInstalled
    from curation.scrub.jsonl import ScrubInputError, scrub_jsonl

    if mode is not None and mode not in ("placeholder", "surrogate"):
        raise typer.BadParameter("must be placeholder or surrogate", param_hint="--mode")
    config = _scrub_config(recipe, mode=mode)
    try:
        summary = scrub_jsonl(in_path, out_path, config)
    except (ScrubInputError, ModelNotInstalled) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    typer.echo(summary)


def scan_leaks(
    paths: Annotated[list[Path], typer.Argument(help="Parquet files or directories (a release, a table).")],
    recipe: RecipeOption = None,
    entities: Annotated[Optional[str], typer.Option(help="Comma-separated entity types (default: the recipe's "
                                                    "scan_entities).", show_default=False)] = None,
) -> None:
    """Scan every text column for high-risk identifiers; exit 1 and list the rows if any is found."""
    from curation.scrub.engine import ModelNotInstalled
    from curation.scrub.leaks import scan_paths

    wanted = [e.strip() for e in entities.split(",") if e.strip()] if entities else None
    config = _scrub_config(recipe, scan_entities=wanted)
    try:
        report = scan_paths(paths, config)
    except (FileNotFoundError, ModelNotInstalled) as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2)
    except Exception as err:  # a file that is not Parquet, a corrupt footer: name it, exit 2
        typer.echo(f"error: cannot scan: {type(err).__name__}: {err}", err=True)
        raise typer.Exit(2)
    for row_id, types in report.by_row().items():
        typer.echo(f"LEAK {row_id}: {', '.join(types)}")
    typer.echo(report.summary(), err=not report.clean)
    raise typer.Exit(0 if report.clean else 1)


def scrub_eval(
    messages: Annotated[int, typer.Option(min=100, help="Generated labeled messages.")] = 1200,
    seed: Annotated[int, typer.Option(help="Seed of the generated evaluation set.")] = 13,
    recipe: RecipeOption = None,
    real: Annotated[int, typer.Option(min=0, help="Real messages from ../shared/data as hard negatives.")] = 1000,
    traffic: Annotated[Optional[Path], typer.Option(help="Simulated traffic JSONL, with --sidecar.",
                                                    show_default=False)] = None,
    sidecar: Annotated[Optional[Path], typer.Option(help="The simulator's truth sidecar JSONL.",
                                                    show_default=False)] = None,
    examples: Annotated[int, typer.Option(min=0, help="Print this many missed and false-positive spans.")] = 0,
) -> None:
    """Precision and recall of the scrubber per entity type on a labeled set; exit 1 if a target is missed."""
    from curation.scrub.evalset import (HH_FILE, PERSONA_CHAT_FILE, generate, load_simulator_sidecar,
                                        real_messages, shared_data_dir)
    from curation.scrub.evaluation import evaluate

    config = _scrub_config(recipe)
    conversations = generate(messages, seed)
    if traffic or sidecar:
        if not (traffic and sidecar):
            raise typer.BadParameter("--traffic and --sidecar go together", param_hint="--sidecar")
        conversations += load_simulator_sidecar(traffic, sidecar)
    shared = shared_data_dir()
    negatives = real_messages(shared / HH_FILE, shared / PERSONA_CHAT_FILE, limit=real) if real else []
    report = evaluate(conversations, config, negatives, keep_examples=examples)
    typer.echo(report.table())
    for kind, rows in (("MISSED", report.misses), ("FALSE POSITIVE", report.false_positives)):
        for entity_type, value, text in rows:
            typer.echo(f"{kind} {entity_type}: {value!r} in {text[:160]!r}")
    removed = [e for policy in config.tiers.values() if policy.action != "keep" for e in policy.entities]
    failures = report.failures(removed)
    for failure in failures:
        typer.echo(f"TARGET MISSED: {failure}", err=True)
    raise typer.Exit(1 if failures else 0)


def register(app: typer.Typer) -> None:
    app.command()(simulate)
    app.command("scrub")(scrub)
    app.command("scan-leaks")(scan_leaks)
    app.command("scrub-eval")(scrub_eval)
