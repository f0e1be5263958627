"""`flywheel train sft|reward|dpo|kto|generate|score|rejection-sample|gpu-check` and `flywheel eval model`.

Every command records a run in the lake's ledger (`runs/`), writes its tables in one transaction and
rebuilds the catalog before it exits, so `flywheel sql` sees the result at once. Heavy libraries (torch,
transformers, trl) are imported inside the command bodies only.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Literal

import typer

from lakehouse.cli_options import LakeOption, open_existing_lake
from lakehouse.errors import CheckFailed

TRAINER_HELP = {
    "sft": "Supervised fine-tuning on an `sft` release (assistant-only loss where the chat template allows).",
    "reward": "A reward model (sequence classifier, one output) on a `preference` release.",
    "dpo": "Direct preference optimization on a `preference` release, against a frozen reference copy.",
    "kto": "KTO on an `unpaired` release (or a `preference` release, unpaired), against a frozen reference copy.",
    "grpo": "GRPO (online RL) on a `prompt` release: replies sampled during training, scored by --reward models.",
    "online-dpo": "Online DPO on a `prompt` release: two sampled replies per prompt, the --reward model judges.",
}
ONLINE_KINDS = ("grpo", "online-dpo")


@contextmanager
def command_run(name: str, lake_path: str | Path | None, recipe: dict | None = None) -> Iterator[tuple]:
    """Open the existing lake and record the command as a run with one timed stage (`recorded_run`).

    A bad input (unknown release, tampered release, invalid config, missing model) raises a UserError: the
    run is recorded as failed with that reason, and the CLI prints it and exits 2.
    """
    from lakehouse.runs import StageStats, recorded_run, timed_stage

    lake = open_existing_lake(lake_path)
    with recorded_run(lake, name, recipe=recipe) as record:
        stats = StageStats(name.split(" ")[-1])
        record.stages.append(stats)
        with timed_stage(stats):
            yield lake, record, stats


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


def _run_training(
    kind: str,
    release: str,
    model: str,
    out: Path,
    config: Path | None,
    lake: str | Path | None,
    overwrite: bool,
    overrides: dict,
    rewards: list | None = None,
) -> None:
    """Load the settings, train in a recorded run and print the outcome (every trainer command)."""
    from train import config as config_module

    settings = config_module.load(kind, config, overrides)
    with command_run(f"train {kind}", lake, settings.model_dump(mode="json")) as (the_lake, record, stats):
        from train import trainers

        _quiet_datasets()
        result = trainers.train(
            kind,
            the_lake,
            release,
            model,
            out,
            settings,
            run_id=record.run_id,
            overwrite=overwrite,
            rewards=rewards,
            log=typer.echo,
        )
        stats.rows_in = result["train_rows"] + sum(result["dropped"].values())
        stats.rows_out = result["train_rows"]
        for reason, rows in result["dropped"].items():
            stats.drop(reason, rows)
        shown = {k: v for k, v in result["metrics"].items() if "loss" in k or "accuracy" in k or k.startswith("reward")}
        typer.echo(
            f"{kind}: {result['steps']} steps in {result['seconds']:.1f}s -> {result['output_dir']} "
            f"(run {result['run_id']}); " + ", ".join(f"{k} {v:.4g}" for k, v in sorted(shown.items()))
        )
        for note in result["notes"]:
            typer.echo(f"note: {note}")


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
        reward: Annotated[
            list[str] | None,
            typer.Option("--reward", help="grpo, online-dpo: a reward term rm:PATH or rm:PATH*WEIGHT; repeat to sum."),
        ] = None,
        lake: LakeOption = None,
    ) -> None:
        from lakehouse.errors import UserError
        from train.online import RewardSpec

        if reward and kind not in ONLINE_KINDS:
            raise UserError(f"--reward is for the online trainers ({', '.join(ONLINE_KINDS)}), not {kind}")
        _run_training(
            kind,
            release,
            model,
            out,
            config,
            lake,
            overwrite,
            _overrides(max_steps, lr, lora, batch_size, epochs, seed, assignments or []),
            [RewardSpec.parse(text) for text in reward or []],
        )

    command.__doc__ = TRAINER_HELP[kind]
    return command


def generate(
    model: Annotated[
        str, typer.Option("--model", help="Local model directory (a policy checkpoint), or a --pool model's name.")
    ],
    prompts: Annotated[str, typer.Option("--prompts", help="NAME[@VERSION] of a prompt (or any) release.")],
    n: Annotated[int, typer.Option("--num-candidates", min=1, help="Candidates per prompt (K).")] = 4,
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Tokens per reply at most.")] = 64,
    temperature: Annotated[
        float, typer.Option(min=0.0, help="Sampling temperature (0: greedy, needs --num-candidates 1).")
    ] = 1.0,
    top_p: Annotated[float, typer.Option("--top-p", help="Nucleus sampling mass.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Sampling seed; same seed, same candidates.")] = 42,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Prompts per generate call.")] = 16,
    split: Annotated[str | None, typer.Option(help="Only this split of the release.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N prompts.")] = None,
    pool: Annotated[
        Path | None, typer.Option("--pool", help="A model pool YAML: --model names a served model in it.")
    ] = None,
    lake: LakeOption = None,
) -> None:
    """K candidate replies per prompt into attributes/candidates (model, sample_id, candidate, text, seconds),
    from a local checkpoint or from a served model of a pool (docs/serving.md)."""
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
        "pool": str(pool) if pool else None,
    }
    with command_run("train generate", lake, recipe) as (the_lake, _, stats):
        from lakehouse.serving import load_pool
        from train import generate as generation

        served = load_pool(pool).get(model) if pool else None
        settings = generation.SamplingSettings(
            n=n, max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed, batch_size=batch_size
        )
        result = generation.run(
            the_lake, model, prompts, settings, split=split, limit=limit, progress=True, served=served
        )
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
    signal_models: SignalModelsOption = None,
    config: CompositeConfigOption = None,
    lake: LakeOption = None,
) -> None:
    """Reward-model scores of a generation run's candidates into attributes/reward_scores (and the mean
    composite reward, when the composite config applies signal models to scoring)."""
    composite = _composite(config, signal_models)
    recipe = {"reward_model": reward_model, "candidates": candidates, "composite": composite.model_dump(mode="json")}
    with command_run("train score", lake, recipe) as (the_lake, _, stats):
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
        if composite.signal_models and composite.apply_to == "score-and-rejection-sampling":
            values = scoring.composite_values(the_lake, generation_id, result.table, composite)
            typer.echo(f"mean composite reward {sum(values) / max(1, len(values)):.4f} (weights {composite.weights})")


SignalModelsOption = Annotated[
    str | None,
    typer.Option(
        "--signal-models", help="DIR of `flywheel train signals`: auxiliary rewards (overrides the config's)."
    ),
]
CompositeConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Composite-reward YAML (configs/train/composite.yaml).")
]


def _composite(config: Path | None, signal_models: str | None):
    from train import config as config_module

    return config_module.load("composite", config, {"signal_models": signal_models})


def rejection_sample(
    reward_model: Annotated[str, typer.Option("--reward-model", help="Local reward model directory.")],
    name: Annotated[str, typer.Option("--name", help="Name of the best-of-K `sft` release.")],
    rl_name: Annotated[str, typer.Option("--rl-name", help="Name of the `prompt` release for RL.")],
    candidates: Annotated[str, typer.Option("--candidates", help="Generation id (or `latest`).")] = "latest",
    criterion: Annotated[
        Literal["high-variance", "low-mean"], typer.Option(help="RL prompts: high reward variance or low mean.")
    ] = "high-variance",
    fraction: Annotated[float, typer.Option(help="Share of prompts kept for RL.")] = 0.25,
    signal_models: SignalModelsOption = None,
    config: CompositeConfigOption = None,
    lake: LakeOption = None,
) -> None:
    """Best of K per prompt (by the composite reward when signal models are given) as an `sft` release,
    and the RL prompts (by the reward model) as a `prompt` release."""
    composite = _composite(config, signal_models)
    recipe = {"reward_model": reward_model, "candidates": candidates, "criterion": criterion, "fraction": fraction}
    recipe["composite"] = composite.model_dump(mode="json")
    with command_run("train rejection-sample", lake, recipe) as (the_lake, _, stats):
        from train import rejection

        result = rejection.run(
            the_lake,
            candidates,
            reward_model,
            sft_name=name,
            prompt_name=rl_name,
            criterion=criterion,
            fraction=fraction,
            composite=composite,
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
    out: Annotated[Path | None, typer.Option("--out", help="Report directory (default: NEW/evals/EVAL_ID).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with code 1 when a guardrail is flagged.")] = False,
    lake: LakeOption = None,
) -> None:
    """Reward win rate of --new over --old by traffic source, guardrail flags and style artifacts."""
    from train import config as config_module

    settings = config_module.load("eval", config, {"max_new_tokens": max_new_tokens})
    flagged = False
    with command_run("eval model", lake, settings.model_dump(mode="json")) as (the_lake, _, stats):
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
        raise CheckFailed("eval --strict: guardrail flags raised (see FLAG lines above)")


def eval_artifacts(
    model: Annotated[list[str], typer.Argument(help="Checkpoint directories in training order (SFT DPO RL).")],
    prompts: Annotated[str, typer.Option("--prompts", help="NAME[@VERSION] of the frozen eval prompt release.")],
    out: Annotated[Path, typer.Option("--out", help="Directory of report.md, artifacts.json, artifacts.png.")],
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1, help="Tokens per reply at most.")] = 128,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature (same for every model).")] = 0.7,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 42,
    split: Annotated[str | None, typer.Option(help="Only this split of the release.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Only the first N prompts.")] = None,
    lake: LakeOption = None,
) -> None:
    """Style artifacts (emoji, lists, length, refusals ...) of each checkpoint on the same prompts, and which
    training step shifted which feature past its threshold."""
    recipe = {"models": model, "prompts": prompts, "max_new_tokens": max_new_tokens, "temperature": temperature}
    with command_run("eval artifacts", lake, recipe) as (the_lake, _, stats):
        from train import artifact_trail, generate

        sampling = generate.SamplingSettings(n=1, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed)
        trail = artifact_trail.run(the_lake, model, prompts, sampling, out, split=split, limit=limit, log=typer.echo)
        stats.rows_out = len(trail.models)
        for step in trail.steps:
            shifted = ", ".join(s.feature for s in step.flagged) or "none"
            typer.echo(f"{step.old} -> {step.new}: shifted {shifted}")
        typer.echo(f"report: {trail.report}")


def serve(
    model: Annotated[Path, typer.Option("--model", help="A local Hugging Face model directory (a checkpoint).")],
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    host: Annotated[str, typer.Option("--host", help="Address to bind; 127.0.0.1 keeps it on this machine.")] = (
        "127.0.0.1"
    ),
    name: Annotated[str | None, typer.Option("--name", help="Pool name printed in the YAML hint.")] = None,
) -> None:
    """Serve a model over an OpenAI-compatible API (transformers serve) for model pools: labeling candidates,
    generation. Runs until interrupted; on a GPU machine use vLLM instead (docs/gpu.md)."""
    import os

    from train import serve as serving

    directory = serving.check_model(model)
    typer.echo(f"serving {directory} at http://{host}:{port}/v1 (ready when /health answers); pool entry:")
    typer.echo(serving.pool_entry(name or directory.name, directory, host, port))
    command = serving.command_line(directory, host, port)
    os.execve(command[0], command, serving.server_env())


def register(app: typer.Typer) -> None:
    from lakehouse.cli import group
    from train.gpu_check import gpu_check
    from train.side_by_side_command import side_by_side
    from train.signals_command import train_signals

    train_app = group(app, "train")
    for kind in TRAINER_HELP:
        train_app.command(kind)(_train_command(kind))
    train_app.command("generate")(generate)
    train_app.command("score")(score)
    train_app.command("rejection-sample")(rejection_sample)
    train_app.command("gpu-check")(gpu_check)
    train_app.command("signals")(train_signals)
    evaluations = group(app, "eval")
    evaluations.command("model")(evaluate)
    evaluations.command("artifacts")(eval_artifacts)
    evaluations.command("side-by-side")(side_by_side)
    app.command("serve")(serve)
