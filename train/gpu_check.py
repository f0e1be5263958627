"""End-to-end check of the training loop on one machine: `python -m train.gpu_check --model PATH`.

Runs the real commands, in order, on small synthetic releases (train.synthetic, so that a fresh machine
needs no lake) or on a lake's releases (--lake, --release; the test suite uses curation's releases of
simulated traffic): train sft -> train reward -> train dpo -> train kto -> generate -> score ->
rejection-sample -> train grpo -> train online-dpo (two steps each on the RL prompts, rewarded by the
reward model) -> eval; then checks what a team would check before
trusting a new machine: the device (CUDA with bf16 when a GPU is present), finite losses, a reward model
that ranks held-out pairs better than chance, the lineage chain (every checkpoint names its release and
its base model's run), the catalog's `models` and `evals` views. On an H100 with a 0.5B instruct model it
takes a few minutes; on a CPU with `--model tiny`, well under one (that is how the test suite runs it).
Exit code 0 when every check passes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.lake import Lake


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
            "generate",
            [
                "generate",
                "--model",
                str(out["dpo"]),
                "--prompts",
                releases["prompt"],
                "--n",
                str(n),
                "--max-new-tokens",
                str(max_new_tokens),
            ],
        ),
        ("score", ["score", "--reward-model", str(out["reward"]), "--candidates", "latest"]),
        (
            "rejection-sample",
            [
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
            "eval",
            [
                "eval",
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


def _check(result: ChainResult, out: dict[str, Path], device, expect_cuda: bool | None) -> None:
    from lakehouse import catalog
    from train.models import read_lineage

    lineages = {kind: read_lineage(path) for kind, path in out.items()}
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="local Hugging Face causal LM directory, or tiny")
    parser.add_argument("--steps", type=int, default=None, help="max steps per trainer (default 10 tiny, 60 real)")
    parser.add_argument(
        "--reward-steps",
        type=int,
        default=None,
        help="max steps of the reward model (default: --steps); its held-out accuracy is checked",
    )
    parser.add_argument("--rows", type=int, default=240, help="rows per synthetic release")
    parser.add_argument(
        "--lr",
        type=float,
        default=None,
        help="learning rate for every trainer (default 1e-3 for tiny, the configs' values otherwise)",
    )
    parser.add_argument("--lora", action="store_true", help="train LoRA adapters")
    parser.add_argument("--workdir", type=Path, default=None, help="where to write (default: a temporary dir)")
    parser.add_argument("--expect-cuda", action="store_true", help="fail unless training ran on CUDA")
    parser.add_argument(
        "--lake",
        type=Path,
        default=None,
        help="use this lake (with --release) instead of synthetic releases in the workdir",
    )
    parser.add_argument(
        "--release",
        action="append",
        default=[],
        metavar="KIND=REF",
        help="release to use per kind (sft, preference, unpaired, prompt), e.g. sft=chat-sft@3",
    )
    args = parser.parse_args(argv)
    tiny = args.model == "tiny"
    releases = dict(item.split("=", 1) for item in args.release) or None
    if releases is not None and set(releases) != {"sft", "preference", "unpaired", "prompt"}:
        parser.error("--release must name all of sft, preference, unpaired and prompt")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="flywheel-gpu-check-"))
    began = time.perf_counter()
    result = run_chain(
        args.model,
        workdir,
        steps=args.steps or (10 if tiny else 60),
        rows=args.rows,
        lr=args.lr or (1e-3 if tiny else None),
        lora=args.lora,
        expect_cuda=True if args.expect_cuda else None,
        releases=releases,
        lake=args.lake,
        reward_steps=args.reward_steps,
    )
    print(f"\n{'step':<20} {'seconds':>8}")
    for name, seconds in result.timings.items():
        print(f"{name:<20} {seconds:>8.1f}")
    print(f"{'total':<20} {time.perf_counter() - began:>8.1f}\n")
    for name, passed in result.checks.items():
        print(f"[{'ok' if passed else 'FAIL'}] {name}")
    print(json.dumps(result.details, indent=2, default=str))
    print(f"outputs: {result.workdir}")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
