"""`flywheel train signals`: user-signal models from a `signals` release (train/signal_training.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lakehouse.cli_options import LakeOption
from train.cli import command_run


def train_signals(
    release: Annotated[str, typer.Option("--release", help="NAME[@VERSION] of a `signals` release.")],
    signal_names: Annotated[
        str,
        typer.Option(
            "--signals", help="Comma-separated: continued, thumb_up, thumb_down, love, regenerated, reported."
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="Output directory of the signal models.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="MODEL: `tiny` or a local HF model directory to fine-tune (default: MiniLM + logistic regression).",
        ),
    ] = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth", help="SIMULATED_DIR: a `flywheel simulate` output, for the true and oracle references."
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", help="Settings YAML file.")] = None,
    assignments: Annotated[list[str] | None, typer.Option("--set", help="Any setting, e.g. --set c=0.1.")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output directory.")] = False,
    lake: LakeOption = None,
) -> None:
    """One classifier per user signal, p(signal | character, conversation, reply), measured against an
    untrained model and a length-only baseline on held-out conversations."""
    from train import config as config_module
    from train import signals

    wanted = signals.parse_signals(signal_names)
    settings = config_module.load("signals", config, dict(config_module.parse_assignment(a) for a in assignments or []))
    with command_run("train signals", lake, settings.model_dump(mode="json")) as (the_lake, record, stats):
        from train import signal_training

        result = signal_training.train(
            the_lake,
            release,
            wanted,
            out,
            settings,
            run_id=record.run_id,
            model=model,
            truth=truth,
            overwrite=overwrite,
            log=typer.echo,
        )
        stats.rows_in = stats.rows_out = result["train_rows"]
        typer.echo(
            f"signals ({result['backend']}): fit in {result['fit_seconds']:.1f}s -> {result['output_dir']} (run {result['run_id']})"
        )
        for signal, entry in result["report"].items():
            m = entry["model"]
            refs = "".join(f", {k} AUC {entry[k]['roc_auc']:.3f}" for k in ("oracle", "truth") if k in entry)
            beats = ", ".join(
                f"{c['baseline']} {c['difference']:+.3f} [{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
                for c in entry["comparisons"]
            )
            typer.echo(
                f"  {signal}: AUC {m['roc_auc']:.3f}, PR AUC {m['pr_auc']:.3f}, ECE {m['ece']:.4f}{refs}; vs {beats}"
            )
