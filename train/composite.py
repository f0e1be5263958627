"""The composite reward: preference reward model first, user-signal models as weighted auxiliaries.

composite = reward + sum over signals of weight x p(signal | prompt, reply). The signal models read the
same (prompt, candidate) a reward model reads, turned into signal rows (context = last user message,
depth = user turns so far). With no signal models configured the composite is the reward itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from train import signals
from train.config import CompositeSettings


@dataclass
class Composite:
    """Per candidate: the reward, each signal's probability and the composite."""

    rewards: np.ndarray
    probabilities: dict[str, np.ndarray]
    values: np.ndarray
    signal_models: dict | None  # {path, run_id, weights} when signal models took part


def candidate_rows(prompts: list[list[dict]], replies: list[str]) -> signals.SignalRows:
    contexts = [next((m["content"] for m in reversed(p) if m["role"] == "user"), "") for p in prompts]
    depth = np.array([sum(m["role"] == "user" for m in p) for p in prompts], dtype=float)
    return signals.SignalRows(prompts, replies, contexts, depth, [""] * len(replies), [0] * len(replies))


def compute(
    rewards: list[float], prompts: list[list[dict]], replies: list[str], settings: CompositeSettings, lake=None
) -> Composite:
    """The composite reward of candidates (prompt, reply) whose reward-model scores are `rewards`."""
    from train import models, signal_training

    base = np.asarray(rewards, dtype=float)
    if not settings.signal_models:
        return Composite(base, {}, base, None)
    predict, summary = signal_training.load(settings.signal_models)
    missing = sorted(set(settings.weights) - set(summary["signals"]))
    if missing:
        raise signals.SignalError(
            f"composite weights name {', '.join(missing)}, which {settings.signal_models} has no model for "
            f"(it has {', '.join(summary['signals'])})"
        )
    probabilities = predict(candidate_rows(prompts, replies), lake)
    values = base + sum(w * probabilities[s] for s, w in settings.weights.items())
    lineage = models.read_lineage(settings.signal_models)
    run_id = lineage["run_id"] if lineage else None
    used = {"path": str(settings.signal_models), "run_id": run_id, "weights": dict(settings.weights)}
    return Composite(base, {s: probabilities[s] for s in settings.weights}, values, used)


def of_scored(rows: list[dict], prompts: dict, texts: dict, settings: CompositeSettings, lake=None) -> Composite:
    """The composite of scored candidate rows (`sample_id`, `candidate`, `reward`), in their order: `prompts`
    maps a sample id to its prompt, `texts` a (sample id, candidate) pair to the reply."""
    return compute(
        [r["reward"] for r in rows],
        [prompts[r["sample_id"]].messages for r in rows],
        [texts[(r["sample_id"], r["candidate"])] for r in rows],
        settings,
        lake,
    )
