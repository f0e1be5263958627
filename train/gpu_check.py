"""End-to-end check of the training loop on one machine: `flywheel train gpu-check --model PATH`.

Runs the real commands, in order, on small synthetic releases (train.synthetic, so that a fresh machine
needs no lake) or on a lake's releases (--lake, --release; the test suite uses curation's releases of
simulated traffic): train sft -> train reward -> train dpo -> train kto -> train generate -> train score ->
train rejection-sample -> train grpo -> train online-dpo (two steps each on the RL prompts, rewarded by the
reward model) -> eval model; then checks what a team would check before
trusting a new machine: the device (CUDA with bf16 when a GPU is present), finite losses, a reward model
that ranks held-out pairs better than chance, the lineage chain (every checkpoint names its release and
its base model's run), the catalog's `models` and `evals` views. On an H100 with a 0.5B instruct model it
takes a few minutes; on a CPU with `--model tiny`, well under one (that is how the test suite runs it).
Exit code 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lakehouse.lake import Lake

if TYPE_CHECKING:
    from train.lineage import Lineage


@dataclass
class ChainResult:
    workdir: Path
    lake: Path
    releases: dict[str, str]
    timings: dict[str, float] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    details: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(self.checks.values())


def _cli():
    import typer
    import typer.main

    from train import cli

    app = typer.Typer()
    cli.register(app)
    return typer.main.get_command(app)


def _invoke(command, args: list[str]) -> None:
    code = command.main(args=args, prog_name="flywheel", standalone_mode=False)
    if code not in (None, 0):
        raise RuntimeError(f"flywheel {' '.join(args)} exited with code {code}")


ONLINE = ("grpo", "online-dpo")  # online RL on the rejection-sampled RL prompts, rewarded by the RM
ONLINE_STEPS = 2  # a smoke test: the trainers run, sample, get rewards and save with lineage


def run_chain(
    model: str,
    workdir: Path,
    *,
    steps: int = 30,
    rows: int = 240,
    lr: float | None = None,
    lora: bool = False,
    n: int = 4,
    max_new_tokens: int = 32,
    expect_cuda: bool | None = None,
    releases: dict[str, str] | None = None,
    lake: Path | None = None,
    reward_steps: int | None = None,
) -> ChainResult:
    """Run the whole chain in `workdir`. `releases` maps sft/preference/unpaired/prompt to release refs
    already in `lake` (e.g. built by curation from simulated traffic); by default synthetic ones are made.
    `reward_steps` (default `steps`) lets the reward model, whose held-out accuracy is checked, train longer
    than the smoke-tested trainers."""
    from train import models, synthetic

    workdir = workdir.resolve()
    lake_path = (lake or workdir / "lake").resolve()
    lake_path.mkdir(parents=True, exist_ok=True)
    the_lake = Lake(lake_path)
    if releases is None:
        releases = {kind: r.ref for kind, r in synthetic.write_all(the_lake, rows=rows).items()}
    result = ChainResult(workdir, lake_path, releases)
    command = _cli()
    common = ["--lake", str(lake_path)]
    tuning = [*(["--lr", str(lr)] if lr else []), *(["--lora"] if lora else [])]
    max_steps = {name: str(steps) for name in ("train sft", "train dpo", "train kto")}
    max_steps["train reward"] = str(reward_steps or steps)
    max_steps |= {f"train {kind}": str(ONLINE_STEPS) for kind in ONLINE}
    out = {kind: workdir / kind for kind in ("sft", "reward", "dpo", "kto", *ONLINE)}
    steps_to_run = [
        ("train sft", ["train", "sft", "--release", releases["sft"], "--model", model, "--out", str(out["sft"])]),
        (
            "train reward",
            [
                "train",
                "reward",
                "--release",
                releases["preference"],
                "--model",
                str(out["sft"]),
                "--out",
                str(out["reward"]),
            ],
        ),
        (
            "train dpo",
            ["train", "dpo", "--release", releases["preference"], "--model", str(out["sft"]), "--out", str(out["dpo"])],
        ),
        (
            "train kto",
            ["train", "kto", "--release", releases["unpaired"], "--model", str(out["sft"]), "--out", str(out["kto"])],
        ),
        (
            "train generate",
            [
                "train",
                "generate",
                "--model",
                str(out["dpo"]),
                "--prompts",
                releases["prompt"],
                "--num-candidates",
                str(n),
                "--max-new-tokens",
                str(max_new_tokens),
            ],
        ),
        ("train score", ["train", "score", "--reward-model", str(out["reward"]), "--candidates", "latest"]),
        (
            "train rejection-sample",
            [
                "train",
                "rejection-sample",
                "--reward-model",
                str(out["reward"]),
                "--name",
                "check-best-of-k",
                "--rl-name",
                "check-rl-prompts",
            ],
        ),
        *[
            (
                f"train {kind}",
                [
                    "train",
                    kind,
                    "--release",
                    "check-rl-prompts",
                    "--model",
                    str(out["sft"]),
                    "--out",
                    str(out[kind]),
                    "--reward",
                    f"rm:{out['reward']}",
                ],
            )
            for kind in ONLINE
        ],
        (
            "eval model",
            [
                "eval",
                "model",
                "--new",
                str(out["dpo"]),
                "--old",
                str(out["sft"]),
                "--reward-model",
                str(out["reward"]),
                "--prompts",
                releases["prompt"],
                "--max-new-tokens",
                str(max_new_tokens),
                "--out",
                str(workdir / "eval"),
            ],
        ),
    ]
    for name, args in steps_to_run:
        began = time.perf_counter()
        _invoke(command, args + common + (["--max-steps", max_steps[name], *tuning] if name in max_steps else []))
        result.timings[name] = time.perf_counter() - began
    _check(result, out, models.device(), expect_cuda)
    return result


def _lineage(path: Path) -> Lineage:
    """The lineage of a checkpoint the chain just trained (every finished training writes one)."""
    from lakehouse.errors import CheckFailed
    from train.models import read_lineage

    found = read_lineage(path)
    if found is None:
        raise CheckFailed(f"gpu-check failed: {path} has no lineage.json, so its training did not finish")
    return found


def _check(result: ChainResult, out: dict[str, Path], device, expect_cuda: bool | None) -> None:
    from lakehouse import catalog

    lineages = {kind: _lineage(path) for kind, path in out.items()}
    sft_run = lineages["sft"]["run_id"]
    checks = result.checks
    if expect_cuda is None:
        expect_cuda = device.type == "cuda"
    checks["device"] = (device.type == "cuda") == expect_cuda and all(
        lin["device"].startswith(device.type) for lin in lineages.values()
    )
    checks["losses finite"] = all(
        math.isfinite(lin["metrics"].get("train_loss", float("nan"))) for lin in lineages.values()
    )
    accuracy = lineages["reward"]["metrics"].get("heldout_pairwise_accuracy", 0.0)
    checks["reward model beats chance on held-out pairs"] = accuracy > 0.5
    trained_from_sft = ("reward", "dpo", "kto", *ONLINE)
    checks["lineage chain"] = all(lineages[k]["base_model"]["run_id"] == sft_run for k in trained_from_sft) and all(
        lineages[k]["ancestry"][1]["release"] == lineages["sft"]["release"]["ref"] for k in trained_from_sft
    )
    checks["online RL rewarded by the reward model"] = all(
        [r["run_id"] for r in lineages[k].get("reward_models", [])] == [lineages["reward"]["run_id"]] for k in ONLINE
    )
    lake = Lake(result.lake)
    with catalog.connect(lake) as con:
        trained = {row[0] for row in con.execute("SELECT run_id FROM models").fetchall()}
        evals = con.execute("SELECT win_rate, flags FROM evals").fetchall()
    checks["models view"] = {lin["run_id"] for lin in lineages.values()} <= trained
    checks["evals view"] = len(evals) == 1 and 0.0 <= evals[0][0] <= 1.0
    from lakehouse.releases import resolve

    best_of_k = resolve(lake, "check-best-of-k").manifest
    checks["rejection-sampled release names policy and reward model"] = (
        best_of_k["policy"]["run_id"] == lineages["dpo"]["run_id"]
        and best_of_k["reward_model"]["run_id"] == lineages["reward"]["run_id"]
    )
    result.details = {
        "device": device.describe(),
        "reward_heldout_accuracy": accuracy,
        "win_rate": evals[0][0] if evals else None,
        "flags": evals[0][1] if evals else None,
        "sft_tokens_per_second": lineages["sft"]["metrics"].get("train_tokens_per_second"),
    }


KINDS = ("sft", "preference", "unpaired", "prompt")


def gpu_check(
    model: Annotated[str, typer.Option("--model", help="Local Hugging Face causal LM directory, or `tiny`.")] = "tiny",
    max_steps: Annotated[
        int | None,
        typer.Option(
            "--max-steps", min=1, help="Max steps per trainer (default 10 tiny, 60 real).", show_default=False
        ),
    ] = None,
    reward_max_steps: Annotated[
        int | None,
        typer.Option(
            "--reward-max-steps",
            min=1,
            help="Max steps of the reward model, whose held-out accuracy is checked (default: --max-steps).",
            show_default=False,
        ),
    ] = None,
    num_rows: Annotated[int, typer.Option("--num-rows", min=1, help="Rows per synthetic release.")] = 240,
    lr: Annotated[
        float | None,
        typer.Option(
            "--lr",
            help="Learning rate of every trainer (default 1e-3 tiny, the configs' otherwise).",
            show_default=False,
        ),
    ] = None,
    lora: Annotated[bool, typer.Option("--lora", help="Train LoRA adapters.")] = False,
    workdir: Annotated[
        Path | None,
        typer.Option("--workdir", help="Where to write (default: a temporary directory).", show_default=False),
    ] = None,
    expect_cuda: Annotated[bool, typer.Option("--expect-cuda", help="Fail unless training ran on CUDA.")] = False,
    lake: Annotated[
        Path | None,
        typer.Option(
            "--lake", help="Use this lake's releases (with --release) instead of synthetic ones.", show_default=False
        ),
    ] = None,
    release: Annotated[
        list[str] | None,
        typer.Option(
            "--release",
            metavar="KIND=REF",
            help="Release per kind (sft, preference, unpaired, prompt; all four), e.g. sft=chat-sft@3.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the whole training chain (sft, reward, dpo, kto, generate, score, rejection-sample, eval) and check
    device, losses, reward accuracy, lineage and the catalog; exit 1 if a check fails."""
    tiny = model == "tiny"
    releases = dict(item.split("=", 1) for item in release) if release else None
    if releases is not None and set(releases) != set(KINDS):
        raise typer.BadParameter("must name all of sft, preference, unpaired and prompt", param_hint="--release")
    workdir = workdir or Path(tempfile.mkdtemp(prefix="flywheel-gpu-check-"))
    began = time.perf_counter()
    result = run_chain(
        model,
        workdir,
        steps=max_steps or (10 if tiny else 60),
        rows=num_rows,
        lr=lr or (1e-3 if tiny else None),
        lora=lora,
        expect_cuda=True if expect_cuda else None,
        releases=releases,
        lake=lake,
        reward_steps=reward_max_steps,
    )
    typer.echo(f"\n{'step':<24} {'seconds':>8}")
    for name, seconds in result.timings.items():
        typer.echo(f"{name:<24} {seconds:>8.1f}")
    typer.echo(f"{'total':<24} {time.perf_counter() - began:>8.1f}\n")
    for name, passed in result.checks.items():
        typer.echo(f"[{'ok' if passed else 'FAIL'}] {name}")
    typer.echo(json.dumps(result.details, indent=2, default=str))
    typer.echo(f"outputs: {result.workdir}")
    if not result.ok:
        from lakehouse.errors import CheckFailed

        failed = ", ".join(name for name, passed in result.checks.items() if not passed)
        raise CheckFailed(f"gpu-check failed: {failed}")
