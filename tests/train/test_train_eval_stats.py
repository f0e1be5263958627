"""Win rates, Wilson intervals, guardrail flags and rejection-sampling selection: the arithmetic the
eval report and the RL prompt release rest on."""

from __future__ import annotations

import math

import pytest

from lakehouse import style_artifacts
from train import evaluate, rejection
from train.config import EvalSettings


def test_wilson_interval_matches_the_textbook_values():
    low, high = evaluate.wilson(60, 100)
    assert low == pytest.approx(0.5020, abs=1e-4) and high == pytest.approx(0.6906, abs=1e-4)
    assert evaluate.wilson(0, 10)[0] == pytest.approx(0.0) and evaluate.wilson(10, 10)[1] == pytest.approx(1.0)
    assert evaluate.wilson(0, 10)[1] == pytest.approx(0.2775, abs=1e-4)
    assert evaluate.wilson(0, 0) == (0.0, 1.0)


def test_wilson_interval_narrows_with_more_prompts():
    small = evaluate.wilson(6, 10)
    large = evaluate.wilson(600, 1000)
    assert (large[1] - large[0]) < (small[1] - small[0])
    assert small[0] < 0.6 < small[1] and large[0] < 0.6 < large[1]


def test_tally_counts_ties_as_half():
    result = evaluate.tally("all", [(2.0, 1.0), (1.0, 2.0), (1.0, 1.0), (3.0, 0.0)])
    assert (result.n, result.wins, result.ties, result.losses) == (4, 2, 1, 1)
    assert result.win_rate == pytest.approx(2.5 / 4)
    assert result.row()["ci_low"] < result.win_rate < result.row()["ci_high"]


def test_win_rates_split_by_source_user_first():
    outcomes = [("internal", 1, 0), ("user", 1, 0), ("user", 0, 1), (None, 1, 0)]
    overall, by_source = evaluate.win_rates(outcomes)
    assert overall.n == 4 and overall.win_rate == pytest.approx(0.75)
    assert [w.source for w in by_source] == ["user", "internal", "unknown"]
    assert {w.source: w.win_rate for w in by_source} == {"user": 0.5, "internal": 1.0, "unknown": 1.0}


def _flags(outcomes, shifts=(), **overrides):
    overall, by_source = evaluate.win_rates(outcomes)
    return [code for code, _ in evaluate.guardrails(overall, by_source, list(shifts), EvalSettings(**overrides))]


def test_guardrails_flag_a_win_rate_above_the_healthy_band():
    healthy = [("user", 1, 0)] * 6 + [("user", 0, 1)] * 4 + [("internal", 1, 0)] * 6 + [("internal", 0, 1)] * 4
    assert _flags(healthy) == []
    too_good = [("user", 1, 0)] * 7 + [("user", 0, 1)] * 3 + [("internal", 1, 0)] * 7 + [("internal", 0, 1)] * 3
    assert _flags(too_good) == ["win_rate_high", "win_rate_high:user", "win_rate_high:internal"]
    assert _flags(too_good, max_win_rate=0.75) == []


def test_guardrails_flag_the_user_internal_gap_of_an_overfit_generation():
    # The report's overfit generation: 70.7% on user traffic, 43.7% on internal.
    overfit = [("user", 1, 0)] * 707 + [("user", 0, 1)] * 293 + [("internal", 1, 0)] * 437 + [("internal", 0, 1)] * 563
    flags = _flags(overfit)
    assert "source_gap" in flags and "win_rate_high:user" in flags and "win_rate_high" not in flags
    overall, by_source = evaluate.win_rates(overfit)
    assert evaluate.source_gap(by_source) == pytest.approx(0.27)
    assert evaluate.source_gap([w for w in by_source if w.source == "user"]) is None


def test_guardrails_flag_artifact_shifts():
    shifts = style_artifacts.compare([("", "fine.")] * 10, [("", "fine \U0001f600\U0001f600\U0001f600\U0001f600")] * 10)
    flags = _flags([("user", 1, 0), ("user", 0, 1)], shifts)
    assert "artifact:emoji_flood" in flags and "artifact:emoji_count" in flags
    assert not any(f.startswith("win_rate") for f in flags)


def _scores(rewards: dict[str, list[float]]) -> list[dict]:
    return [
        {"sample_id": s, "candidate": k, "reward": r} for s, values in rewards.items() for k, r in enumerate(values)
    ]


def test_prompt_stats_pick_the_best_non_empty_candidate():
    stats = {
        s.sample_id: s
        for s in rejection.prompt_stats(_scores({"a": [0.1, 0.9, 0.9], "b": [5.0, 1.0], "c": [2.0]}), empty={("b", 0)})
    }
    assert (stats["a"].best, stats["a"].best_reward) == (1, 0.9)  # a tie goes to the lowest index
    assert stats["b"].best == 1 and stats["b"].mean == pytest.approx(3.0)  # empty reply still counts for RL stats
    assert stats["c"].std == 0.0 and stats["c"].k == 1
    assert math.isclose(stats["a"].std, (2 * (0.9 - 19 / 30) ** 2 / 3 + (0.1 - 19 / 30) ** 2 / 3) ** 0.5)
    nothing = rejection.prompt_stats(_scores({"d": [1.0]}), empty={("d", 0)})
    assert nothing[0].best is None


def test_rl_selection_by_variance_or_mean():
    stats = rejection.prompt_stats(
        _scores({"steady": [1, 1, 1, 1], "spread": [0, 2, 0, 2], "low": [-3, -3, -2, -3], "high": [5, 5, 5, 5]})
    )
    assert [s.sample_id for s in rejection.select_for_rl(stats, "high-variance", 0.25)] == ["spread"]
    assert [s.sample_id for s in rejection.select_for_rl(stats, "low-mean", 0.5)] == ["low", "spread"]
    assert len(rejection.select_for_rl(stats, "low-mean", 0.01)) == 1
    with pytest.raises(ValueError, match="criterion"):
        rejection.select_for_rl(stats, "random", 0.5)


def test_guardrails_flag_prompts_seen_in_training():
    overall, by_source = evaluate.win_rates([("user", 1, 0), ("user", 0, 1)])
    flags = evaluate.guardrails(overall, by_source, [], EvalSettings(), {"chat-sft@2": 3})
    assert flags == [("prompts_seen_in_training", "evaluation prompts also in training releases: chat-sft@2 (3)")]
