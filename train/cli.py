"""`flywheel train sft|reward|dpo|kto`, `generate`, `score`, `rejection-sample` and `eval`.

Every command records a run in the lake's ledger (`runs/`), writes its tables in one transaction and
rebuilds the catalog before it exits, so `flywheel sql` sees the result at once. Heavy libraries (torch,
transformers, trl) are imported inside the command bodies only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.lake import Lake

train_app = typer.Typer(help="Train on releases with TRL: sft, reward, dpo, kto.", no_args_is_help=True)

LakeOption = Annotated[
    Path | None,
    typer.Option("--lake", help="Lake directory (default: $FLYWHEEL_LAKE or ./lake).", show_default=False),
]
TRAINER_HELP = {
    "sft": "Supervised fine-tuning on an `sft` release (assistant-only loss where the chat template allows).",
    "reward": "A reward model (sequence classifier, one output) on a `preference` release.",
    "dpo": "Direct preference optimization on a `preference` release, against a frozen reference copy.",
    "kto": "KTO on an `unpaired` release (or a `preference` release, unpaired), against a frozen reference copy.",
}


def _user_errors() -> tuple[type[Exception], ...]:
    from lakehouse.releases import ReleaseError
    from train.config import ConfigError
    from train.data import DataError
    from train.generate import GenerationError
    from train.models import ModelError
    from train.trainers import TrainError

    return (ConfigError, DataError, GenerationError, ModelError, ReleaseError, TrainError)


@contextmanager
def command_run(name: str, lake_path: Path | None, recipe: dict | None = None) -> Iterator[tuple]:
    """Open the lake, time the command, record it in `runs/` and refresh the catalog, whatever happens.

    A bad input (unknown release, tampered release, invalid config, missing model) ends the command with
    exit code 2 and a one-line reason; the run is still recorded, as failed, with that reason.
    """
    from lakehouse import catalog
    from lakehouse.runs import RunRecord, StageStats, new_run_id, stable_hash, timed_stage, utc_now, write_run

    lake = Lake(lake_path)
    if not lake.root.exists():
        typer.echo(f"error: no lake at {lake.root} (pass --lake or set $FLYWHEEL_LAKE)", err=True)
        raise typer.Exit(2)
    record = RunRecord(
        new_run_id(name), name, str(lake.root), recipe=recipe, recipe_hash=stable_hash(recipe) if recipe else None
    )
    stats = StageStats(name.split(" ")[-1])
    try:
        with timed_stage(stats):
            yield lake, record, stats
        record.status = "succeeded"
    except _user_errors() as exc:
        record.status, record.error = "failed", str(exc)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except BaseException as exc:
        record.status, record.error = "failed", f"{type(exc).__name__}: {exc}"
        raise
    finally:
        record.stages, record.finished_at = [stats], utc_now()
        write_run(lake, record)
        try:
            catalog.refresh(lake)
        except Exception as exc:  # the command's own outcome (and its error, if any) is what to report
            typer.echo(
                f"{'error' if record.status == 'succeeded' else 'warning'}: catalog not refreshed: {exc}", err=True
            )
            if record.status == "succeeded":
                raise


def _quiet_datasets() -> None:
    import datasets

    datasets.disable_progress_bars()


def _overrides(max_steps, lr, lora, batch_size, epochs, seed, assignments: list[str] | None) -> dict:
    from train.config import parse_assignment

    overrides = dict(parse_assignment(a) for a in assignments or ())
    overrides.update(
        {
            "max_steps": max_steps,
            "learning_rate": lr,
            "lora.enabled": lora,
            "per_device_train_batch_size": batch_size,
            "num_train_epochs": epochs,
            "seed": seed,
        }
    )
    return overrides


def _train_command(kind: str):
    def command(
        release: Annotated[str, typer.Option("--release", help="NAME[@VERSION] of the release to train on.")],
        model: Annotated[str, typer.Option("--model", help="A local Hugging Face model directory, or `tiny`.")],
        out: Annotated[Path, typer.Option("--out", help="Output directory of the checkpoint.")],
        config: Annotated[Path | None, typer.Option("--config", help="Settings YAML file.")] = None,
        max_steps: Annotated[int | None, typer.Option("--max-steps", help="Stop after this many steps.")] = None,
        lr: Annotated[float | None, typer.Option("--lr", help="Learning rate.")] = None,
        lora: Annotated[bool | None, typer.Option("--lora/--no-lora", help="Train LoRA adapters (peft).")] = None,
        batch_size: Annotated[int | None, typer.Option("--batch-size", help="Per-device train batch size.")] = None,
        epochs: Annotated[float | None, typer.Option("--epochs", help="Epochs (when --max-steps is -1).")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
        assignments: Annotated[
            list[str] | None, typer.Option("--set", help="Any setting, e.g. --set lora.r=8.")
        ] = None,
        overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output directory.")] = False,
        lake: LakeOption = None,
    ) -> None:
        from train import config as config_module

        try:
            settings = config_module.load(
                kind, config, _overrides(max_steps, lr, lora, batch_size, epochs, seed, assignments)
            )
        except config_module.ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        with command_run(f"train {kind}", lake, settings.model_dump(mode="json")) as (the_lake, record, stats):
            from train import trainers

            _quiet_datasets()
            result = trainers.train(
                kind, the_lake, release, model, out, settings, run_id=record.run_id, overwrite=overwrite, log=typer.echo
            )
            stats.rows_in = result["train_rows"] + sum(result["dropped"].values())
            stats.rows_out = result["train_rows"]
            for reason, rows in result["dropped"].items():
                stats.drop(reason, rows)
            shown = {k: v for k, v in result["metrics"].items() if "loss" in k or "accuracy" in k}
            typer.echo(
                f"{kind}: {result['steps']} steps in {result['seconds']:.1f}s -> {result['output_dir']} "
                f"(run {result['run_id']}); " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items()))
            )
            for note in result["notes"]:
                typer.echo(f"note: {note}")

    command.__doc__ = TRAINER_HELP[kind]
    return command


def generate(
    model: Annotated[str, typer.Option("--model", help="Local model directory (a policy checkpoint).")],
    prompts: Annotated[str, typer.Option("--prompts", help="NAME[@VERSION] of a prompt (or any) release.")],
    n: Annotated[int, typer.Option("--n", min=1, help="Candidates per prompt (K).")] = 4,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Tokens per reply at most.")] = 64,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature (0: greedy, needs --n 1).")] = 1.0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Sampling seed; same seed, same candidates.")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Prompts per generate call.")] = 16,
    split: Annotated[str | None, typer.Option(help="Only this split of the release.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N prompts.")] = None,
    lake: LakeOption = None,
) -> None:
    """K candidate replies per prompt into attributes/candidates (model, sample_id, candidate, text, seconds)."""
    recipe = {
        "model": model,
        "prompts": prompts,
        "n": n,
        "max_new_tokens": max_new_tokens,
        "temperature": temperature,
        "top_p": top_p,
        "seed": seed,
        "split": split,
        "limit": limit,
    }
    with command_run("generate", lake, recipe) as (the_lake, _, stats):
        from train import generate as generation

        settings = generation.SamplingSettings(
            n=n, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed, batch_size=batch_size
        )
        result = generation.run(the_lake, model, prompts, settings, split=split, limit=limit, progress=True)
        stats.rows_in, stats.rows_out = result.prompts + sum(result.dropped.values()), result.candidates
        for reason, rows in result.dropped.items():
            stats.drop(reason, rows)
        typer.echo(
            f"generation {result.generation_id}: {result.prompts} prompts x {n} = {result.candidates} "
            f"candidates, {result.new_tokens:,} tokens in {result.seconds:.1f}s "
            f"({result.tokens_per_second:,.0f} tokens/s)"
        )


def score(
    reward_model: Annotated[str, typer.Option("--reward-model", help="Local reward model directory.")],
    candidates: Annotated[str, typer.Option("--candidates", help="Generation id (or `latest`).")] = "latest",
    batch_size: Annotated[int, typer.Option("--batch-size", min=1)] = 16,
    lake: LakeOption = None,
) -> None:
    """Reward-model scores of a generation run's candidates into attributes/reward_scores."""
    with command_run("score", lake, {"reward_model": reward_model, "candidates": candidates}) as (the_lake, _, stats):
        from train import generate as generation
        from train import score as scoring

        generation_id = generation.generation(the_lake, candidates)["generation_id"]
        result = scoring.score_generation(the_lake, generation_id, reward_model, batch_size=batch_size, progress=True)
        stats.rows_in = stats.rows_out = result.scored
        rewards = result.table.column("reward").to_pylist()
        state = "already scored" if result.already_scored else "scored"
        typer.echo(
            f"{state}: {result.scored} candidates of {generation_id} by {result.reward_model.label}; "
            f"mean reward {sum(rewards) / max(1, len(rewards)):.4f}"
        )


def rejection_sample(
    reward_model: Annotated[str, typer.Option("--reward-model", help="Local reward model directory.")],
    name: Annotated[str, typer.Option("--name", help="Name of the best-of-K `sft` release.")],
    rl_name: Annotated[str, typer.Option("--rl-name", help="Name of the `prompt` release for RL.")],
    candidates: Annotated[str, typer.Option("--candidates", help="Generation id (or `latest`).")] = "latest",
    criterion: Annotated[str, typer.Option(help="RL prompts: high-variance or low-mean reward.")] = "high-variance",
    fraction: Annotated[float, typer.Option(help="Share of prompts kept for RL.")] = 0.25,
    lake: LakeOption = None,
) -> None:
    """Best of K per prompt as an `sft` release, and the RL prompts as a `prompt` release."""
    recipe = {"reward_model": reward_model, "candidates": candidates, "criterion": criterion, "fraction": fraction}
    with command_run("rejection-sample", lake, recipe) as (the_lake, _, stats):
        from train import rejection

        result = rejection.run(
            the_lake,
            candidates,
            reward_model,
            sft_name=name,
            prompt_name=rl_name,
            criterion=criterion,
            fraction=fraction,
        )
        stats.rows_in = len(result.stats)
        stats.rows_out = sum(result.sft.manifest["splits"].values())
        for reason, rows in result.sft.manifest["dropped"].items():
            stats.drop(reason, rows)
        typer.echo(
            f"released {result.sft.ref} (best of {result.sft.manifest['k']}, "
            f"{stats.rows_out} rows) and {result.prompts.ref} "
            f"({result.prompts.manifest['selected']} {criterion} prompts)"
        )


def evaluate(
    new: Annotated[str, typer.Option("--new", help="The candidate model directory.")],
    old: Annotated[str, typer.Option("--old", help="The model it should beat (the one in production).")],
    reward_model: Annotated[str, typer.Option("--reward-model", help="Reward model directory.")],
    prompts: Annotated[str, typer.Option("--prompts", help="NAME[@VERSION] of the frozen evaluation prompts.")],
    config: Annotated[Path | None, typer.Option("--config", help="configs/train/eval.yaml or another.")] = None,
    max_new_tokens: Annotated[int | None, typer.Option("--max-new-tokens")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Report directory (default: <new>/evals/<id>).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with code 1 when a guardrail is flagged.")] = False,
    lake: LakeOption = None,
) -> None:
    """Reward win rate of --new over --old by traffic source, guardrail flags and style artifacts."""
    from train import config as config_module

    try:
        settings = config_module.load("eval", config, {"max_new_tokens": max_new_tokens})
    except config_module.ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    flagged = False
    with command_run("eval", lake, settings.model_dump(mode="json")) as (the_lake, _, stats):
        from train import evaluate as evaluation

        _quiet_datasets()
        result = evaluation.run(the_lake, new, old, reward_model, prompts, settings, out, log=typer.echo, progress=True)
        stats.rows_in = stats.rows_out = result.overall.n
        for w in [result.overall, *result.by_source]:
            low, high = w.ci
            typer.echo(f"win rate {w.source:>8}: {w.win_rate:.3f} (95% CI {low:.3f}-{high:.3f}, n={w.n})")
        for code, text in result.flags:
            typer.echo(f"FLAG {code}: {text}")
        if not result.flags:
            typer.echo("no guardrail flags")
        typer.echo(f"report: {result.report}")
        flagged = bool(result.flags)
    if strict and flagged:
        raise typer.Exit(1)


for _kind in TRAINER_HELP:
    train_app.command(_kind)(_train_command(_kind))


def register(app: typer.Typer) -> None:
    app.add_typer(train_app, name="train")
    app.command("generate")(generate)
    app.command("score")(score)
    app.command("rejection-sample")(rejection_sample)
    app.command("eval")(evaluate)
