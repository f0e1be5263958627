"""User-signal models on the simulator's traffic (tests/helpers/sim_lake.py, whose recipe builds the `signals`
release): the release holds one row per user reply with the logged outcomes, split by conversation and
disjoint from the evaluation prompts; `flywheel train signals` (default backend: MiniLM + logistic
regression) beats an untrained model and a length-only baseline on held-out conversations, and its AUC is
measured next to the simulator's true probabilities and the feature oracle."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from lakehouse import catalog
from lakehouse.lake import Lake
from lakehouse.releases import resolve, verify
from tests.helpers.release_lakes import copy_lake
from train import cli, signal_training, signals

pytestmark = [pytest.mark.slow, pytest.mark.heavy]


@pytest.fixture(scope="module")
def sim(simulated_lake, tmp_path_factory):
    template = simulated_lake
    lake = Lake(copy_lake(template.lake.root, tmp_path_factory.mktemp("signals-lake") / "lake"))
    return lake, template.simulated


@pytest.fixture(scope="module")
def trained(sim, tmp_path_factory):
    lake, simulated = sim
    app = typer.Typer()
    cli.register(app)
    out = tmp_path_factory.mktemp("signal-models") / "models"
    args = ["train", "signals", "--release", "signals@1", "--signals", "continued,thumb_up,regenerated"]
    args += ["--out", str(out), "--truth", str(simulated), "--lake", str(lake.root), "--set", "bootstrap=300"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return out, json.loads((out / signals.SUMMARY_FILE).read_text()), result.output


def test_signals_release_has_one_row_per_user_reply_with_its_logged_outcomes(sim):
    lake, _ = sim
    release = resolve(lake, "signals@1")
    assert verify(release) == [] and release.manifest["type"] == "signals"
    rows = {r["sample_id"]: r for r in release.read().to_pylist()}
    with catalog.connect(lake) as con:
        logged = con.execute(
            "SELECT sample_id, coalesce(continued, false), coalesce(thumb = 1, false), coalesce(thumb = -1, false), "
            "regenerated, response FROM samples WHERE source = 'user'"
        ).fetchall()
    dropped = release.manifest["dropped"]
    assert len(rows) + sum(dropped.values()) == len(logged)
    assert set(dropped) <= {"eval_leak", "empty_response", "no_signals"}
    for sample_id, continued, up, down, regenerated, response in logged:
        if sample_id in rows:
            row = rows[sample_id]
            assert (row["continued"], row["thumb_up"], row["thumb_down"], row["regenerated"]) == (
                continued,
                up,
                down,
                regenerated,
            )
            assert row["completion"] == [{"role": "assistant", "content": response}]
            assert row["prompt"][-1]["role"] == "user"
    assert any(r["regenerated"] for r in rows.values())  # regenerated replies are rows (an outcome to predict)


def test_signals_release_splits_by_conversation_and_leaves_out_evaluation_prompts(sim):
    lake, _ = sim
    release = resolve(lake, "signals@1")
    seen: dict[str, str] = {}
    for split in ("train", "validation", "test"):
        for conversation in set(release.read(split).column("conversation_id").to_pylist()):
            assert seen.setdefault(conversation, split) == split
    assert release.manifest["leakage"]["eval_sets"][0]["ref"] == "eval-prompts@1"
    assert release.manifest["dropped"]["eval_leak"] > 0


def test_signal_models_beat_untrained_and_length_only_baselines_on_held_out_conversations(trained):
    _, summary, output = trained
    assert summary["backend"] == "sklearn" and summary["eval_split"] == "test"
    for signal in ("continued", "thumb_up"):
        entry = summary["report"][signal]
        comparisons = {c["baseline"]: c for c in entry["comparisons"]}
        assert comparisons["untrained"]["ci_low"] > 0, signal
        assert comparisons["length_only"]["difference"] > 0, signal
    assert {c["baseline"]: c["beats"] for c in summary["report"]["continued"]["comparisons"]} == {
        "untrained": True,
        "length_only": True,
    }
    assert "continued: AUC" in output


def test_signal_report_has_calibration_and_the_simulator_references(trained):
    out, summary, _ = trained
    for signal in ("continued", "thumb_up", "regenerated"):
        entry = summary["report"][signal]
        assert 0 <= entry["model"]["ece"] < 0.05
        assert 0 < entry["model"]["pr_auc"] <= 1
        # the truth holds the random effect no model sees: it bounds the oracle, which bounds a good model
        assert entry["truth"]["roc_auc"] > entry["oracle"]["roc_auc"] - 0.02
        assert entry["model"]["roc_auc"] < entry["truth"]["roc_auc"] + 0.03
        assert (out / entry["reliability_plot"]).read_bytes()[:4] == b"\x89PNG"
    assert (
        summary["report"]["continued"]["model"]["roc_auc"] > summary["report"]["continued"]["oracle"]["roc_auc"] - 0.08
    )
    assert "| continued |" in (out / "report.md").read_text()


def test_saved_signal_models_predict_what_the_report_measured(sim, trained):
    lake, _ = sim
    out, summary, _ = trained
    predict, loaded = signal_training.load(out)
    held_out = signals.rows(resolve(lake, "signals@1"), "test")
    p = predict(held_out, lake)
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(held_out.outcomes["continued"], p["continued"])
    assert auc == pytest.approx(summary["report"]["continued"]["model"]["roc_auc"], abs=1e-6)
    assert loaded["signals"] == ["continued", "thumb_up", "regenerated"]
    lineage = json.loads((out / "lineage.json").read_text())
    assert lineage["kind"] == "signals" and lineage["release"]["ref"] == "signals@1"
    with catalog.connect(lake) as con:
        assert con.execute("SELECT count(*) FROM models WHERE kind = 'signals'").fetchone()[0] == 1
    assert np.all((p["thumb_up"] > 0) & (p["thumb_up"] < 1))


def test_composite_reward_adds_weighted_signal_probabilities_to_the_reward(sim, trained):
    from train import composite
    from train.config import CompositeSettings

    lake, _ = sim
    out, _, _ = trained
    held_out = signals.rows(resolve(lake, "signals@1"), "test")
    prompts, replies = held_out.prompts[:40], held_out.replies[:40]
    rewards = list(np.linspace(-1, 1, 40))
    settings = CompositeSettings(signal_models=str(out), weights={"continued": 2.0, "thumb_up": 1.0})
    result = composite.compute(rewards, prompts, replies, settings, lake)
    p = signal_training.load(out)[0](composite.candidate_rows(prompts, replies), lake)
    assert np.allclose(result.values, np.array(rewards) + 2.0 * p["continued"] + p["thumb_up"])
    assert result.signal_models["weights"] == {"continued": 2.0, "thumb_up": 1.0}
    assert composite.compute(rewards, prompts, replies, CompositeSettings(), lake).values.tolist() == rewards
    with pytest.raises(signals.SignalError, match="love"):
        composite.compute(rewards, prompts, replies, CompositeSettings(signal_models=str(out), weights={"love": 1}))


def test_fine_tuned_backend_trains_a_tiny_classifier_and_reports_the_same_checks(sim, tmp_path):
    lake, _ = sim
    app = typer.Typer()
    cli.register(app)
    out = tmp_path / "hf"
    args = ["train", "signals", "--release", "signals@1", "--signals", "continued,thumb_up", "--model", "tiny"]
    args += ["--out", str(out), "--lake", str(lake.root), "--set", "max_steps=40", "--set", "bootstrap=100"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / signals.SUMMARY_FILE).read_text())
    assert summary["backend"] == "hf" and summary["steps"] == 40 and np.isfinite(summary["train_loss"])
    for signal in ("continued", "thumb_up"):
        entry = summary["report"][signal]
        assert {c["baseline"] for c in entry["comparisons"]} == {"untrained", "length_only"}
        assert 0 <= entry["model"]["roc_auc"] <= 1 and 0 <= entry["model"]["ece"] <= 1
    predict, _ = signal_training.load(out)
    p = predict(signals.rows(resolve(lake, "signals@1"), "test"))
    assert set(p) == {"continued", "thumb_up"} and np.all((p["continued"] > 0) & (p["continued"] < 1))
