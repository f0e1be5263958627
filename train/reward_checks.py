"""Honest reward-model checks, run by `flywheel train reward` on the release's held-out pairs.

The pointwise reward model (TRL's RewardTrainer: one score per reply) is compared on the same held-out
pairs with (a) the untrained model of the same architecture (its weights before the first step) and
(b) the length-only baseline (the longer reply wins, or the shorter, whichever the training pairs favour),
with paired bootstrap 95% intervals of the accuracy difference (train/honest.py). A random tiny reward
model scores 0.62-0.65 on a few dozen pairs often enough; only "beats untrained and length, CI above
zero" says it learned something.

The pairwise reward model reads both replies together (prompt, then `[A]` and `[B]` replies in one
assistant turn) and outputs p(A is better); it trains on every pair in both orders and judges a held-out
pair by the sign of p(chosen first) - p(rejected first), so the order of presentation cancels. Its win
rate is reported with the same baselines next to the pointwise one's, as the CharacterFlywheel report does.
"""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np

from lakehouse import style_artifacts
from train import honest, models, release_rows, score

PAIRWISE_DIR = "pairwise"


def _lengths(pairs: list[dict], side: str) -> list[int]:
    return [len(style_artifacts.tokens(p[side][0]["content"])) for p in pairs]


def _flatten(prefix: str, comparison: honest.Comparison) -> dict[str, float]:
    return {
        f"{prefix}_{comparison.baseline}_accuracy": comparison.baseline_value,
        f"{prefix}_gain_vs_{comparison.baseline}": comparison.difference,
        f"{prefix}_gain_vs_{comparison.baseline}_ci_low": comparison.ci_low,
        f"{prefix}_gain_vs_{comparison.baseline}_ci_high": comparison.ci_high,
    }


def compare(prefix: str, outcomes: np.ndarray, baselines: dict[str, np.ndarray], resamples: int) -> dict[str, float]:
    """`<prefix>_accuracy` and, per baseline, its accuracy and the gain with its 95% CI."""
    metrics = {f"{prefix}_accuracy": float(outcomes.mean())}
    for name, baseline in baselines.items():
        metrics.update(_flatten(prefix, honest.compare_accuracy(name, outcomes, baseline, resamples=resamples)))
    return metrics


def length_baseline(train_pairs: list[dict], held_out: list[dict]) -> np.ndarray:
    direction = honest.length_direction(_lengths(train_pairs, "chosen"), _lengths(train_pairs, "rejected"))
    return honest.length_outcomes(_lengths(held_out, "chosen"), _lengths(held_out, "rejected"), direction)


def pointwise_outcomes(model, tokenizer, pairs: list[dict], max_length: int) -> np.ndarray:
    was_training = model.training
    model.eval()
    chosen, rejected = score.pair_rewards(model, tokenizer, pairs, max_length=max_length)
    model.train(was_training)
    return honest.pair_outcomes(chosen, rejected)


def pair_conversation(pair: dict, first: str, second: str) -> list[dict]:
    """The prompt, then both replies in one assistant turn: what the pairwise model reads."""
    a, b = pair[first][0]["content"], pair[second][0]["content"]
    return pair["prompt"] + [{"role": "assistant", "content": f"[A]\n{a}\n\n[B]\n{b}"}]


def _both_orders(pairs: list[dict]) -> tuple[list[list[dict]], np.ndarray]:
    conversations = [pair_conversation(p, "chosen", "rejected") for p in pairs]
    conversations += [pair_conversation(p, "rejected", "chosen") for p in pairs]
    return conversations, np.concatenate([np.ones(len(pairs)), np.zeros(len(pairs))])[:, None]


def pairwise_outcomes(model, tokenizer, pairs: list[dict], max_length: int) -> np.ndarray:
    from train import classifier

    conversations, _ = _both_orders(pairs)
    scores = classifier.logits(model, tokenizer, classifier.encode(tokenizer, conversations, max_length))[:, 0]
    return honest.pair_outcomes(scores[: len(pairs)], scores[len(pairs) :])


def train_pairwise(base: str, release, train_pairs: list[dict], settings, on: models.Device, log=print):
    """(trained, untrained, tokenizer) pairwise reward models from `base` (`tiny` or a model directory)."""
    from train import classifier

    pairwise = settings.pairwise
    options = SimpleNamespace(
        seed=settings.seed,
        tiny=settings.tiny,
        learning_rate=pairwise.learning_rate,
        max_steps=pairwise.max_steps,
        per_device_train_batch_size=pairwise.per_device_train_batch_size,
    )
    model, tokenizer = classifier.build(base, 1, release_rows.texts(release), options, on)
    untrained = copy.deepcopy(model)
    conversations, targets = _both_orders(train_pairs)
    encoded = classifier.encode(tokenizer, conversations, settings.max_length)
    with models.cpu_threads(model, on):
        losses = classifier.fit(model, tokenizer, encoded, targets, options, log=log)
    return model, untrained, tokenizer, losses


def run(
    trained,
    untrained,
    tokenizer,
    base: str,
    release,
    train_pairs: list[dict],
    held_out: list[dict],
    settings,
    on: models.Device,
    staging,
    log=print,
) -> dict[str, float]:
    """Every honest-check metric of a reward-model run (flat floats, for the lineage's `metrics`)."""
    resamples = settings.bootstrap_resamples
    length = length_baseline(train_pairs, held_out)
    metrics = compare(
        "heldout",
        pointwise_outcomes(trained, tokenizer, held_out, settings.max_length),
        {
            "untrained": pointwise_outcomes(untrained, tokenizer, held_out, settings.max_length),
            "length_only": length,
        },
        resamples,
    )
    metrics["heldout_pairwise_accuracy"] = metrics["heldout_accuracy"]  # the name earlier reports used
    metrics["heldout_pairs"] = float(len(held_out))
    if settings.pairwise.enabled:
        model, initial, pair_tokenizer, losses = train_pairwise(base, release, train_pairs, settings, on, log)
        metrics.update(
            compare(
                "pairwise_rm",
                pairwise_outcomes(model, pair_tokenizer, held_out, settings.max_length),
                {
                    "untrained": pairwise_outcomes(initial, pair_tokenizer, held_out, settings.max_length),
                    "length_only": length,
                },
                resamples,
            )
        )
        metrics["pairwise_rm_train_loss"] = float(np.mean(losses[-20:]))
        model.save_pretrained(str(staging / PAIRWISE_DIR))
        pair_tokenizer.save_pretrained(str(staging / PAIRWISE_DIR))
    return metrics
