"""Pieces of the user-signal models and the honest checks on their own: calibration error, the bootstrap
interval of a difference, the length baseline's direction, the logistic regressions, signal names."""

from __future__ import annotations

import numpy as np
import pytest

from train import honest, signals


def test_ece_is_small_for_calibrated_predictions_and_large_for_shifted_ones():
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 0.5, 40_000)
    labels = rng.random(40_000) < p
    assert signals.ece(labels, p) < 0.01
    assert signals.ece(labels, np.clip(p + 0.1, 0, 1)) == pytest.approx(0.1, abs=0.01)


def test_bootstrap_interval_covers_zero_for_equal_models_and_excludes_it_for_a_better_one():
    rng = np.random.default_rng(1)
    labels = rng.random(3000) < 0.3
    signal = labels + rng.normal(0, 1.0, 3000)
    noise = rng.normal(0, 1.0, 3000)
    better = honest.compare_auc("noise", labels, signal, noise, resamples=200)
    assert better.model_value > 0.65 and better.baseline_value == pytest.approx(0.5, abs=0.04)
    assert better.beats and better.ci_low < better.difference < better.ci_high
    same = honest.compare_auc("itself", labels, noise, noise + 1e-9 * rng.normal(size=3000), resamples=200)
    assert not same.beats and same.ci_low <= 0 <= same.ci_high


def test_bootstrap_clusters_by_group_widen_the_interval():
    rng = np.random.default_rng(2)
    correct = np.repeat(rng.random(60) < 0.6, 20).astype(float)  # 60 groups of 20 identical outcomes
    baseline = np.full(len(correct), 0.5)
    by_row = honest.compare_accuracy("half", correct, baseline, resamples=300)
    by_group = honest.compare_accuracy("half", correct, baseline, groups=np.repeat(np.arange(60), 20), resamples=300)
    assert (by_group.ci_high - by_group.ci_low) > 2 * (by_row.ci_high - by_row.ci_low)


def test_pair_outcomes_count_ties_as_half_and_length_baseline_follows_the_training_pairs():
    assert honest.pair_outcomes([2, 1, 1], [1, 2, 1]).tolist() == [1.0, 0.0, 0.5]
    assert honest.length_direction([10, 12, 3], [5, 6, 9]) == 1
    assert honest.length_direction([1, 2, 30], [5, 6, 9]) == -1
    assert honest.length_outcomes([10, 3], [5, 9], -1).tolist() == [0.0, 1.0]


def test_logistic_signal_models_recover_a_planted_model_and_the_untrained_one_does_not():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6000, 20)).astype(np.float32)
    w = np.zeros(20)
    w[:3] = (1.5, -1.0, 0.5)
    outcomes = {"continued": rng.random(6000) < 1 / (1 + np.exp(-(x @ w + 0.5)))}
    model = signals.fit_linear(x[:4000], {"continued": outcomes["continued"][:4000]}, ["continued"], c=1.0)
    held_out = outcomes["continued"][4000:]
    trained = signals.signal_metrics(held_out, model.predict(x[4000:])["continued"])
    untrained = signals.signal_metrics(held_out, signals.untrained_linear(model).predict(x[4000:])["continued"])
    oracle = signals.signal_metrics(held_out, 1 / (1 + np.exp(-(x[4000:] @ w + 0.5))))
    assert trained["roc_auc"] > oracle["roc_auc"] - 0.01 and trained["ece"] < 0.04
    assert abs(untrained["roc_auc"] - 0.5) < 0.2 and untrained["roc_auc"] < trained["roc_auc"] - 0.1


def test_a_signal_with_one_outcome_only_is_refused():
    with pytest.raises(signals.SignalError, match="same outcome"):
        signals.fit_linear(np.ones((10, 2)), {"love": np.zeros(10, bool)}, ["love"])


def test_signal_names_are_checked():
    assert signals.parse_signals("continued, thumb_up,continued") == ["continued", "thumb_up"]
    with pytest.raises(signals.SignalError, match="thumbs_up"):
        signals.parse_signals("continued,thumbs_up")


def test_validation_grid_turns_down_noise_columns_when_data_are_few():
    rng = np.random.default_rng(4)
    width = 2 * 40 + len(signals.STYLE) + 2  # two "vector" blocks of noise, then the style columns
    x = rng.normal(size=(1500, width)).astype(np.float32)
    y = rng.random(1500) < 1 / (1 + np.exp(-2 * x[:, -3]))  # only a style column matters
    chosen = signals.select(
        x[:500],
        {"continued": y[:500]},
        x[500:],
        {"continued": y[500:]},
        ["continued"],
        cs=[0.01, 1.0],
        vector_weights=[0.05, 1.0],
    )
    assert chosen["continued"]["vector_weight"] == 0.05
    weights = signals.block_weights(width, 0.05)
    assert np.allclose(weights[:80], 0.05) and np.all(weights[80:] == 1.0)


def test_logged_continued_probability_follows_the_simulator_rules():
    p = {"continued": 0.8, "regenerated": 0.25, "thumb_up": 0.1}
    assert signals.observed_probability("continued", p, 3) == pytest.approx(0.6)
    assert signals.observed_probability("continued", p, 29) == 0  # the last allowed user turn
    assert signals.observed_probability("thumb_up", p, 3) == 0.1


def test_rejection_sampling_records_accepted_against_rejected_style():
    from train import rejection, release_rows

    prompt = release_rows.Prompt("s1", "train", [{"role": "user", "content": "hi"}], {})
    texts = {
        ("s1", 0): "Sure! \U0001f600\U0001f600\U0001f600\U0001f600",
        ("s1", 1): "Fine, thanks. And you?",
        ("s1", 2): "",
    }
    best = rejection.PromptStats("s1", 1, 2.0, 1.0, 0.5, 3)
    style = rejection.accepted_vs_rejected_artifacts([best], texts, {"s1": prompt})
    shifts = {s["feature"]: s for s in style["shifts"]}
    assert (style["accepted"], style["rejected"]) == (1, 1)  # the empty candidate is neither
    assert shifts["emoji_flood"]["old"] == 1.0 and shifts["emoji_flood"]["new"] == 0.0
    assert shifts["ends_with_question"]["new"] == 1.0 and "emoji_flood" in style["flagged"]
    rows = [{"sample_id": "s1", "candidate": 0, "reward": 1.0}]
    assert rejection.composite_rows(None, rows, {"s1": prompt}, texts, None) == (rows, None)
