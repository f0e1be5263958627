"""Three simulated generations end to end: simulate --generations 3 -> curate (ingest, release) -> train a
tiny model per generation -> offline eval against its parent -> A/B report -> generation record and ship
decision -> the report across generations. gen-17 is the simulator's over-optimized generation (emoji
floods, lists, exclamations; shorter conversations): the record must reject it with those reasons and
ship gen-16 and gen-18.
"""

from __future__ import annotations

import json
import os

import pytest
import typer
from typer.testing import CliRunner

from curation.generations.decision import decide
from lakehouse import catalog
from lakehouse.lake import Lake

pytestmark = pytest.mark.slow
CONVERSATIONS = 900
GENERATIONS = (16, 17, 18)


def _releases() -> list[dict]:
    skip = {
        "allow_unscrubbed": True,
        "leak_scan": "skip",
        "leak_scan_reason": "test lake of unscrubbed simulated traffic (no real people)",
    }
    sft = [
        {
            "name": f"sft-gen{g}",
            "type": "sft",
            "description": f"Continued replies of gen-{g} in user traffic.",
            "filter": f"model_version = 'gen-{g}' AND NOT coalesce(reported, false) AND coalesce(thumb, 0) >= 0",
            "sources": [
                {"name": "continued", "kind": "samples", "filter": "source = 'user' AND continued", "cap": 200}
            ],
            **skip,
        }
        for g in GENERATIONS
    ]
    return [
        *sft,
        {
            "name": "preference",
            "type": "preference",
            "description": "Regenerations.",
            "sources": [{"name": "regenerations", "kind": "regenerations"}],
            **skip,
        },
        {
            "name": "eval-prompts",
            "type": "prompt",
            "frozen_eval": True,
            "description": "Openers per source and character.",
            "filter": "depth = 1",
            "sources": [
                {"name": "openers", "kind": "samples", "stratify_by": ["source", "character_id"], "per_stratum": 1}
            ],
            **skip,
        },
    ]


@pytest.fixture(scope="module")
def flywheel(tmp_path_factory):
    """The lake after three turns of the wheel, and the CLI to query it."""
    from rich.console import Console

    from curation.cli import register as register_curation
    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from curation.simulator import SimulationConfig
    from curation.simulator.writer import run_generations
    from train import gpu_check
    from train.models import read_lineage

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)
    work = tmp_path_factory.mktemp("generations")
    run_generations(SimulationConfig(conversations=CONVERSATIONS, seed=7), work / "sim", 3, workers=1, progress=False)
    paths = [str(work / "sim" / f"gen-{g}" / name) for g in GENERATIONS for name in ("traffic", "exposures.jsonl.gz")]
    lake = Lake(work / "lake")
    recipe = parse(
        {
            "name": "generations",
            "stages": [{"stage": "ingest", "paths": paths}, {"stage": "release", "releases": _releases()}],
        }
    )
    result = runner.run(recipe, lake, Console(quiet=True))
    assert result.status == "succeeded", result.error

    train = gpu_check._cli()
    common = ["--lake", str(lake.root)]
    reward = work / "reward"
    gpu_check._invoke(
        train,
        [
            "train",
            "sft",
            "--release",
            "sft-gen16@1",
            "--model",
            "tiny",
            "--out",
            str(work / "base"),
            "--max-steps",
            "2",
            *common,
        ],
    )
    gpu_check._invoke(train, ["train", "reward", "--release", "preference@1", "--model", str(work / "base"), "--out", str(reward), "--max-steps", "10", *common])  # fmt: skip
    app = typer.Typer()
    register_curation(app)
    runner_cli = CliRunner()

    def cli(*args):
        outcome = runner_cli.invoke(app, [str(a) for a in args])
        assert outcome.exit_code == 0, outcome.output
        return outcome.output

    parent_model = work / "base"
    for g in GENERATIONS:
        model = work / f"gen-{g}"
        gpu_check._invoke(train, ["train", "sft", "--release", f"sft-gen{g}@1", "--model", str(parent_model), "--out", str(model), "--max-steps", "2", *common])  # fmt: skip
        gpu_check._invoke(
            train,
            ["eval", "model", "--new", str(model), "--old", str(parent_model), "--reward-model", str(reward), "--prompts",
             "eval-prompts@1", "--max-new-tokens", "8", "--out", str(work / f"eval-{g}"), *common],
        )  # fmt: skip
        cli("ab", "report", "--experiment", f"exp-gen{g}", "--lake", lake.root, "--out", work / f"ab-{g}")
        cli(
            "generation", "create", f"gen-{g}", "--parent", f"gen-{g - 1}", "--experiment", f"exp-gen{g}",
            "--release", f"sft-gen{g}@1", "--model", read_lineage(model)["run_id"], "--lake", lake.root,
        )  # fmt: skip
        parent_model = model
    cli("generation", "report", "--lake", lake.root, "--out", work / "report")
    return lake, cli, work


def test_the_over_optimized_generation_is_rejected_and_the_good_ones_ship(flywheel):
    lake, cli, _ = flywheel
    rows = {r["name"]: r for r in json.loads(cli("generation", "list", "--format", "json", "--lake", lake.root))}
    assert {name: r["decision"] for name, r in rows.items()} == {"gen-16": "ship", "gen-17": "reject", "gen-18": "ship"}
    reasons = " ".join(rows["gen-17"]["reasons"])
    assert "style artifact: emoji_count" in reasons and "A/B: depth" in reasons


def test_a_generation_links_its_window_tables_release_model_eval_and_ab_result(flywheel):
    lake, cli, _ = flywheel
    record = json.loads(cli("generation", "show", "gen-16", "--lake", lake.root))[0]
    assert record["parent"] == "gen-15" and record["model_versions"] == ["gen-16"]
    assert record["releases"] == ["sft-gen16@1"] and len(record["model_run_ids"]) == 1
    assert record["evals"] and record["evals"][0]["win_rate_user"] is not None
    assert record["experiment_id"] == "exp-gen16" and record["ab_report_id"].startswith("ab-")
    assert record["window_start"] and record["table_versions"]["bronze/conversations"] >= 0
    con = catalog.connect(lake)
    try:
        served = con.execute(
            "SELECT g.name, count(*) FROM conversations c JOIN generations g ON list_contains(g.model_versions, "
            "c.model_version) GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert [name for name, _ in served] == ["gen-16", "gen-17", "gen-18"]


def test_cuped_uses_the_earlier_generations_traffic_as_pre_exposure_activity(flywheel):
    lake, _, _ = flywheel
    con = catalog.connect(lake)
    try:
        cuped = dict(con.execute("SELECT experiment_id, cuped FROM ab_results WHERE metric = 'breadth'").fetchall())
    finally:
        con.close()
    assert cuped == {"exp-gen16": False, "exp-gen17": True, "exp-gen18": True}


def test_the_report_has_charts_across_generations(flywheel):
    _, _, work = flywheel
    page = (work / "report" / "generations.md").read_text()
    assert "| gen-17 | gen-16 | exp-gen17 |" in page and "**reject**" in page
    for chart in ("ab_lifts.png", "win_rates.png", "artifacts.png"):
        assert (work / "report" / chart).stat().st_size > 1000 and f"]({chart})" in page


def test_decision_rules_block_on_srm_eval_flags_and_artifact_spikes_and_hold_without_evidence():
    ab = {
        "experiment_id": "exp",
        "srm_failed": False,
        "srm_p_value": 0.5,
        "metrics": [
            {"metric": "depth", "lift": 0.05, "ci_low": 0.01, "ci_high": 0.09, "p_value": 0.01, "verdict": "better"}
        ],
    }
    assert decide(ab, [], {}, {})[0] == "ship"
    assert decide({**ab, "srm_failed": True, "srm_p_value": 1e-6}, [], {}, {})[0] == "reject"
    flagged = [{"eval_id": "e1", "flags": ["win_rate_above_max"], "win_rate_user": 0.8, "win_rate_internal": 0.5}]
    decision, reasons = decide(ab, flagged, {}, {})
    assert decision == "reject" and "offline eval e1: win_rate_above_max" in reasons
    decision, reasons = decide(ab, [], {"emoji_flood": 0.2}, {"emoji_flood": 0.05})
    assert decision == "reject" and reasons[0].startswith("style artifact: emoji_flood")
    assert decide(ab, [], {"emoji_flood": 0.01}, {"emoji_flood": 0.05})[0] == "ship"  # fewer floods never block
    assert decide(None, [], {}, {})[0] == "hold"


def test_the_readme_generation_recipe_is_a_valid_recipe():
    from curation.pipeline.recipe import load
    from tests.conftest import ROOT

    recipe = load(ROOT / "configs" / "generation.yaml")
    assert [s.name for s in recipe.steps] == ["ingest", "scrub", "dedup", "release"]
