"""The whole loop on CPU with tiny models, through the real commands:
release -> SFT -> reward model -> DPO -> KTO -> generate -> score -> rejection-sampled releases -> eval.

It runs as `flywheel train gpu-check --model tiny` (the same command that checks a CUDA machine), then the
tests below check what it left behind on their own: the lineage chain in files and in SQL, a reward model
that ranks held-out pairs better than chance, the rejection-sampled releases, the stored eval.

The releases are the simulator's: tests/helpers/sim_lake.py runs simulated traffic through ingest, scrub and the
`release` stage (curation's release builders), and the chain trains on a copy of that lake. The reward
model's held-out pairs are the preference release's test split: regenerations from conversations it never
saw, where the simulator's signal model made refusals, stock openers, walls of text and persona breaks
likelier to be regenerated and their replacements likelier to ask back (docs/simulator.md).
"""

from __future__ import annotations

import json
import math

import pyarrow.compute as pc
import pytest
import typer
from typer.testing import CliRunner

from lakehouse import catalog, tables
from lakehouse.lake import Lake
from lakehouse.releases import resolve, verify
from tests.helpers.release_lakes import copy_lake
from train import cli, gpu_check, models, score, trainers
from train.models import read_lineage

pytestmark = pytest.mark.slow
KINDS = ("sft", "reward", "dpo", "kto")
STEPS = {"sft": 5, "reward": 30, "dpo": 5, "kto": 5} | dict.fromkeys(gpu_check.ONLINE, gpu_check.ONLINE_STEPS)


@pytest.fixture(scope="session")
def chain_releases(simulated_lake, tmp_path_factory) -> tuple[Lake, dict[str, str]]:
    """A copy of the simulated lake and the release per kind (sft, preference, unpaired, prompt) the chain
    trains on; the prompts are the frozen evaluation set."""
    template = simulated_lake.lake
    lake = Lake(copy_lake(template.root, tmp_path_factory.mktemp("chain-lake") / "lake"))
    return lake, {"sft": "sft@1", "preference": "preference@1", "unpaired": "kto@1", "prompt": "eval-prompts@1"}


@pytest.fixture(scope="session")
def chain(chain_releases, tmp_path_factory):
    lake, releases = chain_releases
    workdir = tmp_path_factory.mktemp("chain")
    app = typer.Typer()
    cli.register(app)
    args = ["train", "gpu-check", "--model", "tiny", "--workdir", str(workdir), "--lake", str(lake.root)]
    args += ["--max-steps", str(STEPS["sft"]), "--reward-max-steps", str(STEPS["reward"])]
    args += [f"--release={kind}={ref}" for kind, ref in releases.items()]
    result = CliRunner().invoke(app, args)
    return {
        "code": result.exit_code,
        "output": result.output,
        "workdir": workdir,
        "lake": lake,
        "releases": releases,
        "lineage": {kind: read_lineage(workdir / kind) for kind in (*KINDS, *gpu_check.ONLINE)},
    }


def test_gpu_check_passes_on_cpu_with_the_tiny_model(chain):
    assert chain["code"] == 0, chain["output"]


def test_every_checkpoint_has_its_lineage(chain):
    for kind, lineage in chain["lineage"].items():
        manifest = resolve(chain["lake"], lineage["release"]["ref"]).manifest
        assert lineage["kind"] == kind
        assert lineage["release"]["content_hash"] == manifest["content_hash"]
        assert lineage["config"]["trainer"] == kind and len(lineage["config_hash"]) == 64
        assert {"torch", "transformers", "trl"} <= set(lineage["packages"])
        assert lineage["code_version"] and lineage["device"].startswith("cpu")
        assert math.isfinite(lineage["metrics"]["train_loss"]) and lineage["steps"] == STEPS[kind]
        assert lineage["weights_sha256"] == models.weights_sha256(chain["workdir"] / kind)


def test_lineage_chain_runs_from_tiny_through_sft(chain):
    lin = chain["lineage"]
    assert lin["sft"]["base_model"] == {"path": "tiny", "run_id": None, "kind": "tiny"}
    for kind in ("reward", "dpo", "kto"):
        assert lin[kind]["base_model"]["run_id"] == lin["sft"]["run_id"]
        releases = [a["release"] for a in lin[kind]["ancestry"]]
        assert releases == [lin[kind]["release"]["ref"], lin["sft"]["release"]["ref"]]
        assert [a["depth"] for a in lin[kind]["ancestry"]] == [0, 1]
    assert lin["dpo"]["ref_model"]["run_id"] == lin["sft"]["run_id"]  # DPO and KTO got an explicit reference
    assert lin["kto"]["ref_model"]["run_id"] == lin["sft"]["run_id"]
    assert lin["sft"]["notes"] == []  # the tiny chat template supports assistant-only loss


def test_grpo_and_online_dpo_train_from_sft_on_the_rl_prompts_rewarded_by_the_reward_model(chain):
    reward_run = chain["lineage"]["reward"]["run_id"]
    for kind in gpu_check.ONLINE:
        lineage = chain["lineage"][kind]
        assert lineage["steps"] == gpu_check.ONLINE_STEPS
        assert lineage["release"]["ref"].startswith("check-rl-prompts@")
        assert lineage["base_model"]["run_id"] == chain["lineage"]["sft"]["run_id"]
        assert [(r["run_id"], r["weight"]) for r in lineage["reward_models"]] == [(reward_run, 1.0)]
        assert (chain["workdir"] / kind / "model.safetensors").exists()
    assert chain["lineage"]["grpo"]["metrics"]["rewards/rm_reward/std"] > 0  # the group's replies were told apart


def test_sql_answers_which_data_trained_a_checkpoint(chain):
    dpo_dir = str(chain["workdir"] / "dpo")
    with catalog.connect(chain["lake"]) as con:
        rows = con.execute(
            "SELECT depth, trained_by_kind, release, release_content_hash FROM model_data "
            "WHERE output_dir = ? ORDER BY depth",
            [dpo_dir],
        ).fetchall()
        models_view = con.execute(
            "SELECT kind, release, metrics['train_loss'], lora FROM models ORDER BY kind"
        ).fetchall()
        runs = con.execute("SELECT command, status FROM runs ORDER BY started_at").fetchall()
    assert [(d, k, r) for d, k, r, _ in rows] == [
        (0, "dpo", chain["releases"]["preference"]),
        (1, "sft", chain["releases"]["sft"]),
    ]
    assert rows[0][3] == chain["lineage"]["dpo"]["release"]["content_hash"]
    assert [k for k, *_ in models_view] == sorted(chain["lineage"])
    assert all(math.isfinite(loss) and lora is False for _, _, loss, lora in models_view)
    assert [c for c, s in runs if s == "succeeded"] == [  # the simulated lake's recipe, then the chain
        "curate",
        "train sft",
        "train reward",
        "train dpo",
        "train kto",
        "train generate",
        "train score",
        "train rejection-sample",
        "train grpo",
        "train online-dpo",
        "eval model",
    ]


def test_reward_model_is_measured_against_its_untrained_self_and_length_on_the_same_held_out_pairs(chain):
    release = resolve(chain["lake"], chain["releases"]["preference"])
    pairs = trainers.held_out_pairs(release)
    model, tokenizer, _ = score.load_reward_model(str(chain["workdir"] / "reward"))
    accuracy = score.pairwise_accuracy(model, tokenizer, pairs)
    metrics = chain["lineage"]["reward"]["metrics"]
    assert len(pairs) >= 20 and metrics["heldout_pairs"] == len(pairs)
    assert metrics["heldout_pairwise_accuracy"] == pytest.approx(accuracy, abs=1 / len(pairs))  # ties count half
    for baseline in ("untrained", "length_only"):
        low, high = metrics[f"heldout_gain_vs_{baseline}_ci_low"], metrics[f"heldout_gain_vs_{baseline}_ci_high"]
        gain = metrics[f"heldout_gain_vs_{baseline}"]
        assert gain == pytest.approx(metrics["heldout_accuracy"] - metrics[f"heldout_{baseline}_accuracy"])
        assert low <= gain <= high and high - low < 0.6
    # At this lake's 48 held-out pairs the interval is about +-0.2 wide: tests/train/test_reward_honest.py
    # asserts the gain's interval above zero on 414 held-out pairs of a larger simulated release.


def test_pairwise_reward_model_is_trained_and_reported_next_to_the_pointwise_one(chain):
    metrics = chain["lineage"]["reward"]["metrics"]
    assert 0 <= metrics["pairwise_rm_accuracy"] <= 1 and math.isfinite(metrics["pairwise_rm_train_loss"])
    assert metrics["pairwise_rm_length_only_accuracy"] == metrics["heldout_length_only_accuracy"]  # same pairs
    for baseline in ("untrained", "length_only"):
        assert metrics[f"pairwise_rm_gain_vs_{baseline}_ci_low"] <= metrics[f"pairwise_rm_gain_vs_{baseline}"]
    assert (chain["workdir"] / "reward" / "pairwise" / "config.json").exists()


def test_candidates_and_scores_are_in_the_lake(chain):
    lake = chain["lake"]
    generations = lake.read(tables.GENERATIONS).to_pylist()
    sampled = next(g for g in generations if g["n"] == 4)
    candidates = lake.read(tables.CANDIDATES, filter=pc.field("generation_id") == sampled["generation_id"])
    prompts = resolve(lake, chain["releases"]["prompt"]).read()
    assert candidates.num_rows == 4 * prompts.num_rows == sampled["candidates"]
    assert sorted(set(candidates.column("candidate").to_pylist())) == [0, 1, 2, 3]
    assert sampled["model_run_id"] == chain["lineage"]["dpo"]["run_id"]
    assert all(s > 0 for s in candidates.column("seconds").to_pylist())
    scores = lake.read(tables.REWARD_SCORES, filter=pc.field("generation_id") == sampled["generation_id"])
    assert scores.num_rows == candidates.num_rows
    assert set(scores.column("reward_model_run_id").to_pylist()) == {chain["lineage"]["reward"]["run_id"]}


def _rewards(lake: Lake, generation_id: str) -> dict[str, list[float]]:
    scores = lake.read(tables.REWARD_SCORES, filter=pc.field("generation_id") == generation_id)
    by_prompt: dict[str, list[float]] = {}
    for row in sorted(scores.to_pylist(), key=lambda r: (r["sample_id"], r["candidate"])):
        by_prompt.setdefault(row["sample_id"], []).append(row["reward"])
    return by_prompt


def test_best_of_k_release_keeps_the_best_candidate(chain):
    lake = chain["lake"]
    release = resolve(lake, "check-best-of-k")
    manifest = release.manifest
    assert verify(release) == [] and manifest["type"] == "sft" and manifest["k"] == 4
    style = manifest["style_artifacts"]  # accepted (best of K) against rejected candidates
    assert style["accepted"] == len(release.read()) and style["rejected"] > style["accepted"]
    assert len(style["shifts"]) == 10 and manifest["composite"] is None  # no signal models: reward model only
    assert manifest["policy"]["run_id"] == chain["lineage"]["dpo"]["run_id"]
    assert manifest["reward_model"]["run_id"] == chain["lineage"]["reward"]["run_id"]
    rewards = _rewards(lake, manifest["generation_id"])
    rows = release.read().to_pylist()
    assert len(rows) + manifest["dropped"].get("every_candidate_empty", 0) == len(rewards)
    for row in rows:
        assert row["messages"][-1]["role"] == "assistant" and row["messages"][-1]["content"].strip()
        assert row["reward"] <= max(rewards[row["sample_id"]]) + 1e-9
        assert row["source"] in ("user", "internal")
    prompts = resolve(lake, chain["releases"]["prompt"])
    prompt_splits = {
        r["sample_id"]: s
        for s in ("train", "validation", "test")
        if prompts.data_files(s)
        for r in prompts.read(s).to_pylist()
    }
    assert all(
        prompt_splits[r["sample_id"]] == s
        for s in ("train", "validation", "test")
        for r in (release.read(s).to_pylist() if release.data_files(s) else [])
    )


def test_rl_prompt_release_holds_the_highest_variance_prompts(chain):
    release = resolve(chain["lake"], "check-rl-prompts")
    manifest = release.manifest
    assert verify(release) == [] and manifest["type"] == "prompt" and manifest["criterion"] == "high-variance"
    rewards = _rewards(chain["lake"], manifest["generation_id"])
    spread = {s: (sum((r - sum(v) / len(v)) ** 2 for r in v) / len(v)) ** 0.5 for s, v in rewards.items()}
    chosen = {r["sample_id"] for r in release.read().to_pylist()}
    assert len(chosen) == manifest["selected"] == round(len(rewards) * 0.25)
    assert min(spread[s] for s in chosen) >= max(spread[s] for s in spread.keys() - chosen) - 1e-9


def test_eval_is_stored_with_flags_and_a_report(chain):
    with catalog.connect(chain["lake"]) as con:
        row = con.execute(
            "SELECT new_model_run_id, old_model_run_id, win_rate, ci_low, ci_high, win_rate_user, "
            "win_rate_internal, source_gap, flags, len(artifacts), report_path FROM evals"
        ).fetchone()
    new_run, old_run, win, low, high, user, internal, gap, flags, n_artifacts, report_path = row
    assert (new_run, old_run) == (chain["lineage"]["dpo"]["run_id"], chain["lineage"]["sft"]["run_id"])
    assert 0 <= low <= win <= high <= 1 and gap == pytest.approx(abs(user - internal))
    assert ("source_gap" in flags) == (gap > 0.15) and ("win_rate_high" in flags) == (win > 0.65)
    assert n_artifacts == 10
    report = (chain["workdir"] / "eval" / "report.md").read_text()
    assert report_path == str(chain["workdir"] / "eval" / "report.md")
    assert "| user |" in report and "| internal |" in report and "## Style artifacts" in report
    for plot in ("win_rate_by_source.png", "artifact_shifts.png"):
        assert (chain["workdir"] / "eval" / plot).read_bytes()[:4] == b"\x89PNG"


def test_rerunning_generation_with_the_same_seed_gives_the_same_candidates(chain):
    from train import generate

    settings = generate.SamplingSettings(n=2, max_new_tokens=12, seed=5)
    first, second = (
        generate.run(chain["lake"], str(chain["workdir"] / "sft"), chain["releases"]["prompt"], settings, limit=6)
        for _ in range(2)
    )
    texts = [generate.candidates(chain["lake"], g.generation_id).column("text").to_pylist() for g in (first, second)]
    assert texts[0] == texts[1] and len(texts[0]) == 12
    assert json.dumps(texts[0])  # plain strings, stored as such


def test_eval_prompts_seen_in_training_are_detected(chain):
    from train import evaluate

    lake, releases = chain["lake"], chain["releases"]
    sft_ids = set(resolve(lake, releases["sft"]).read().column("sample_id").to_pylist())
    prompt_ids = set(resolve(lake, releases["prompt"]).read().column("sample_id").to_pylist())
    dpo_dir = str(chain["workdir"] / "dpo")
    assert evaluate.training_overlap(lake, dpo_dir, sft_ids | {"unseen"}) == {releases["sft"]: len(sft_ids)}
    assert evaluate.training_overlap(lake, dpo_dir, prompt_ids) == {}


def test_artifact_trail_summarizes_each_checkpoint_and_compares_each_training_step(chain, tmp_path):
    from lakehouse import style_artifacts as artifacts
    from train import artifact_trail, generate

    checkpoints = [str(chain["workdir"] / kind) for kind in ("sft", "dpo", "grpo")]
    sampling = generate.SamplingSettings(n=1, max_new_tokens=24, temperature=0.7)
    trail = artifact_trail.run(
        chain["lake"], checkpoints, chain["releases"]["prompt"], sampling, tmp_path, limit=6, log=lambda _: None
    )
    assert trail.models == ["sft", "dpo", "grpo"]
    assert [(s.old, s.new) for s in trail.steps] == [("sft", "dpo"), ("dpo", "grpo")]
    for generation_id, summary in zip(trail.generations, trail.summaries, strict=True):
        stored = generate.candidates(chain["lake"], generation_id).to_pylist()
        assert len(stored) == 6
        prompts = generate.prompts_of(chain["lake"], generation_id)
        rows = [(prompts[r["sample_id"]].last_user_message, r["text"]) for r in stored]
        assert summary == artifacts.summarize(rows)  # the report's numbers are the stored replies' features
    report = trail.report.read_text()
    assert "| feature | sft | dpo | grpo |" in report and "- sft -> dpo:" in report and "- dpo -> grpo:" in report
    assert (tmp_path / "artifacts.png").stat().st_size > 0


def test_artifact_trail_needs_two_checkpoints(chain, tmp_path):
    from train import artifact_trail, generate, release_rows

    with pytest.raises(release_rows.DataError, match="at least two checkpoints"):
        artifact_trail.run(
            chain["lake"], [str(chain["workdir"] / "sft")], "eval-prompts", generate.SamplingSettings(n=1), tmp_path
        )
