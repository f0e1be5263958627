"""User-signal models: p(signal | character, conversation so far, reply), one binary classifier per signal.

The CharacterFlywheel report predicts p(continue) and p(thumb up) from logged traffic and uses them as
auxiliary rewards. Rows come from a `signals` release (one row per assistant reply with its outcomes;
split by conversation like every release). Two backends:

- `sklearn` (default): frozen MiniLM vectors (the project's embedder, curation.embed) of the context (the
  last user message) and of the reply, the style features of lakehouse.style_artifacts and the depth of the
  conversation, standardized, into one scikit-learn logistic regression per signal. Minutes on a CPU for
  a million replies once the vectors exist (benchmarks/bench_signals.py); the vectors come from the
  lake's embedding cache when they were computed before.
- `hf` (`--model tiny|PATH`): a fine-tuned sequence classifier with one output per signal (train/classifier.py).

Every report compares each signal model, on the same held-out rows, with an untrained model of the same
architecture and a length-only baseline (train/honest.py), and gives ROC AUC, PR AUC and calibration.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lakehouse import style_artifacts
from lakehouse.errors import UserError
from lakehouse.releases import Release
from train import release_rows

SIGNALS = ("continued", "thumb_up", "thumb_down", "love", "regenerated", "reported")
STYLE = tuple(style_artifacts.FEATURES)
MODEL_FILE = "signal_models.joblib"
SUMMARY_FILE = "signals.json"


class SignalError(UserError, ValueError):
    """Signal models cannot be trained or used as asked; the message says why."""


def parse_signals(text: str | Sequence[str]) -> list[str]:
    """`continued,thumb_up` -> ['continued', 'thumb_up'] (known signals only, no duplicates)."""
    names = [s.strip() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    unknown = [s for s in names if s not in SIGNALS]
    if not names or unknown:
        raise SignalError(
            f"--signals: unknown or missing signal(s) {', '.join(unknown) or '(none)'}; known: {', '.join(SIGNALS)}"
        )
    return list(dict.fromkeys(names))


@dataclass
class SignalRows:
    """The rows of one split: texts, context, outcomes and the keys that tie them to the traffic."""

    prompts: list[list[dict]]
    replies: list[str]
    contexts: list[str]
    depth: np.ndarray
    conversation_ids: list[str]
    turns: list[int]
    outcomes: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.replies)

    def lengths(self) -> np.ndarray:
        return np.array([len(style_artifacts.tokens(r)) for r in self.replies], dtype=float)


def rows(release: Release, split: str) -> SignalRows:
    """The usable rows of `split` of a signals release (an empty completion was dropped by the build)."""
    out = SignalRows([], [], [], np.zeros(0), [], [], {s: np.zeros(0, dtype=bool) for s in SIGNALS})
    if not release.data_files(split):
        return out
    table = release.read(split)
    prompts = [release_rows.messages(p) for p in table.column("prompt").to_pylist()]
    out.prompts = prompts
    out.replies = [(c[0]["content"] or "") if c else "" for c in table.column("completion").to_pylist()]
    out.contexts = [next((m["content"] for m in reversed(p) if m["role"] == "user"), "") for p in prompts]
    out.depth = np.asarray(table.column("depth").to_pylist(), dtype=float)
    out.conversation_ids = [str(c) for c in table.column("conversation_id").to_pylist()]
    out.turns = [int(t) for t in table.column("turn").to_pylist()]
    out.outcomes = {s: np.asarray(table.column(s).to_pylist(), dtype=bool) for s in SIGNALS}
    return out


def style_matrix(signal_rows: SignalRows) -> np.ndarray:
    """The style features of each reply in its context, plus log length and depth (numbers, one row each)."""
    values = np.empty((len(signal_rows), len(STYLE) + 2), dtype=np.float32)
    for i, (context, reply) in enumerate(zip(signal_rows.contexts, signal_rows.replies, strict=True)):
        found = style_artifacts.features(reply, context)
        values[i, : len(STYLE)] = [float(found[name]) for name in STYLE]
        values[i, len(STYLE)] = math.log1p(found["length_tokens"])
    values[:, -1] = signal_rows.depth
    return values


def embed(texts: list[str], lake=None) -> np.ndarray:
    """MiniLM vectors (the lake's embedding cache first, when a lake is given)."""
    from curation.embed.cache import EmbeddingCache
    from curation.embed.encode import embed_texts

    vectors, _ = embed_texts(texts, cache=EmbeddingCache(lake) if lake is not None else None)
    return vectors


def features(signal_rows: SignalRows, lake=None) -> np.ndarray:
    """[MiniLM(context), MiniLM(reply), style features]: the default backend's input."""
    contexts = embed(signal_rows.contexts, lake)
    replies = embed(signal_rows.replies, lake)
    return np.hstack([contexts, replies, style_matrix(signal_rows)]).astype(np.float32)


def length_only(signal_rows: SignalRows) -> np.ndarray:
    return np.log1p(signal_rows.lengths())[:, None]


# --- the default backend: standardized features into logistic regression -------------------------------


@dataclass
class LinearSignalModel:
    """One logistic regression per signal over standardized features (mean and scale stored with it)."""

    signals: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (signals, features)
    intercept: np.ndarray  # (signals,)

    def logits(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef.T + self.intercept

    def predict(self, x: np.ndarray) -> dict[str, np.ndarray]:
        p = 1.0 / (1.0 + np.exp(-self.logits(x)))
        return {s: p[:, i] for i, s in enumerate(self.signals)}


def _fit_one(z: np.ndarray, y: np.ndarray, c: float, max_iter: int) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=c, max_iter=max_iter)
    model.fit(z, y)
    return model.coef_[0], float(model.intercept_[0])


def _standardize(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    scale = x.std(axis=0, dtype=np.float64).astype(np.float32)
    scale[scale == 0] = 1.0
    return mean, scale


def fit_linear(
    x: np.ndarray,
    outcomes: dict[str, np.ndarray],
    signals: list[str],
    *,
    c: float | dict[str, float] = 0.05,
    column_weights: dict[str, np.ndarray] | None = None,
    max_iter: int = 300,
) -> LinearSignalModel:
    """Fit every signal's logistic regression (L2 with inverse strength `c`, lbfgs) on standardized `x`.

    `column_weights[signal]` multiplies standardized columns before the fit, which divides their L2
    penalty by the square of the weight: a weight below 1 on the 768 MiniLM columns lets the few style
    columns carry the model when the data are too few for the vectors (see `select`). The weights are
    folded into the stored coefficients, so prediction needs nothing but the model.
    """
    mean, scale = _standardize(x)
    z = (x - mean) / scale
    coefs, intercepts = [], []
    for signal in signals:
        y = outcomes[signal]
        if y.all() or not y.any():
            raise SignalError(
                f"signal {signal}: every training row has the same outcome ({bool(y[0])}); nothing to learn"
            )
        weight = (column_weights or {}).get(signal)
        if weight is not None:
            z *= weight  # in place: a million rows of 780 columns are 3 GB, one copy is enough
        coef, intercept = _fit_one(z, y, c[signal] if isinstance(c, dict) else c, max_iter)
        if weight is not None:
            z /= weight
        coefs.append(coef if weight is None else coef * weight)
        intercepts.append(intercept)
    return LinearSignalModel(list(signals), mean, scale, np.array(coefs), np.array(intercepts))


def block_weights(width: int, vector_weight: float) -> np.ndarray:
    """Column weights: `vector_weight` on the two MiniLM blocks, 1 on the style columns after them."""
    weights = np.ones(width, dtype=np.float32)
    weights[: width - len(STYLE) - 2] = vector_weight
    return weights


def select(
    x_train: np.ndarray,
    train_outcomes: dict[str, np.ndarray],
    x_validation: np.ndarray,
    validation_outcomes: dict[str, np.ndarray],
    signals: list[str],
    *,
    cs: Sequence[float],
    vector_weights: Sequence[float],
    max_iter: int = 300,
    max_rows: int = 100_000,
) -> dict[str, dict]:
    """Per signal, the (C, vector weight) of the grid with the lowest validation log loss.

    Log loss rather than AUC, because the probabilities are what the composite reward adds up and what
    calibration measures. The grid is fitted on at most `max_rows` training rows (the final fit uses all).
    """
    from sklearn.metrics import log_loss

    rows = min(len(x_train), max_rows)
    mean, scale = _standardize(x_train[:rows])
    z_train, z_validation = (x_train[:rows] - mean) / scale, (x_validation - mean) / scale
    chosen: dict[str, dict] = {}
    for signal in signals:
        y, y_validation = train_outcomes[signal][:rows], validation_outcomes[signal]
        if y.all() or not y.any() or y_validation.all() or not y_validation.any():
            chosen[signal] = {"c": cs[0], "vector_weight": vector_weights[0], "validation_log_loss": None}
            continue
        best: dict | None = None
        for vector_weight in vector_weights:
            weight = block_weights(x_train.shape[1], vector_weight)
            for c in cs:
                coef, intercept = _fit_one(z_train * weight, y, c, max_iter)
                p = 1 / (1 + np.exp(-((z_validation * weight) @ coef + intercept)))
                loss = float(log_loss(y_validation, p, labels=[False, True]))
                if best is None or loss < best["validation_log_loss"]:
                    best = {"c": c, "vector_weight": vector_weight, "validation_log_loss": loss}
        if best is None:
            raise SignalError("the model-selection grid is empty: give at least one value in cs and in vector_weights")
        chosen[signal] = best
    return chosen


def untrained_linear(model: LinearSignalModel, seed: int = 0) -> LinearSignalModel:
    """The same architecture before training: small random weights (as an initialiser would draw them)."""
    rng = np.random.default_rng(seed)
    coef = rng.normal(0, 1 / math.sqrt(model.coef.shape[1]), model.coef.shape)
    return LinearSignalModel(model.signals, model.mean, model.scale, coef, np.zeros(len(model.signals)))


# --- metrics -------------------------------------------------------------------------------------------


def ece(labels: np.ndarray, probabilities: np.ndarray, bins: int = 15) -> float:
    """Expected calibration error: the count-weighted mean |observed rate - mean prediction| over
    equal-width probability bins."""
    labels, probabilities = np.asarray(labels, float), np.asarray(probabilities, float)
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(probabilities, edges[1:-1]), 0, bins - 1)
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() * abs(labels[inside].mean() - probabilities[inside].mean())
    return float(total / max(1, len(labels)))


def reliability_plot(path: Path, labels: np.ndarray, curves: dict[str, np.ndarray], title: str, bins: int = 15) -> None:
    """Observed rate against mean prediction per bin, one line per model (the diagonal is calibrated)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 4.2), dpi=110)
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    edges = np.linspace(0, 1, bins + 1)
    for name, p in curves.items():
        which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
        points = [(p[which == b].mean(), labels[which == b].mean()) for b in range(bins) if (which == b).sum() >= 20]
        if points:
            xs, ys = zip(*points, strict=True)
            ax.plot(xs, ys, marker="o", markersize=3, label=name)
    top = max(0.05, min(1.0, 1.2 * max(float(np.quantile(p, 0.99)) for p in curves.values())))
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("predicted probability")
    ax.set_ylabel("observed rate")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def signal_metrics(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return {
            "n": len(labels),
            "positives": int(labels.sum()),
            "roc_auc": float("nan"),
            "pr_auc": float("nan"),
            "ece": float("nan"),
        }
    return {
        "n": int(len(labels)),
        "positives": int(labels.sum()),
        "base_rate": float(labels.mean()),
        "roc_auc": float(roc_auc_score(labels, probabilities)),
        "pr_auc": float(average_precision_score(labels, probabilities)),
        "ece": ece(labels, probabilities),
        "mean_prediction": float(np.mean(probabilities)),
    }


# --- references on simulated data ----------------------------------------------------------------------


def observed_probability(signal: str, p: dict[str, float], user_turn: int) -> float:
    """p(the logged flag is true) under the simulator's rules (curation/simulator/signals.py): a reply is
    `continued` only when it was not regenerated and the conversation could go on, so the planted
    p(continue) alone is not the probability of the logged outcome."""
    if signal != "continued":
        return p[signal]
    from curation.simulator.signals import MAX_USER_TURNS

    return p["continued"] * (1 - p["regenerated"]) * (user_turn < MAX_USER_TURNS - 1)


def simulated_references(simulated: Path, signal_rows: SignalRows) -> dict[str, dict[str, np.ndarray]]:
    """Per signal, the simulator's true probability of each row (`truth`: with the per-user and
    per-conversation random effect no model can see) and the feature oracle (`oracle`: the planted
    coefficients of simulation.json `signal_model` on the true reply features, random effect 0), both as
    probabilities of the logged outcome (`observed_probability`).

    Rows are matched by (conversation id, turn); a row the sidecar does not know raises, since the
    references would then be measured on different rows than the model.
    """
    import gzip

    from curation.simulator.signals import probabilities

    truth_file = Path(simulated) / "truth.jsonl.gz"
    if not truth_file.exists():
        raise SignalError(f"--truth {simulated}: no truth.jsonl.gz there (a `flywheel simulate` output directory)")
    wanted = {(c, t) for c, t in zip(signal_rows.conversation_ids, signal_rows.turns, strict=True)}
    conversations = {c for c, _ in wanted}
    found: dict[tuple[str, int], dict] = {}
    with gzip.open(truth_file, "rt") as lines:
        for line in lines:
            record = json.loads(line)
            if record["conversation_id"] not in conversations:
                continue
            for entry in record["reply_features"]:
                key = (record["conversation_id"], entry["turn"])
                if key in wanted:
                    found[key] = entry
    missing = len(wanted) - len(found)
    if missing:
        raise SignalError(f"--truth {simulated}: {missing} of {len(wanted)} replies are not in the truth sidecar")
    out: dict[str, dict[str, list]] = {"truth": {s: [] for s in SIGNALS}, "oracle": {s: [] for s in SIGNALS}}
    for c, t, depth in zip(signal_rows.conversation_ids, signal_rows.turns, signal_rows.depth, strict=True):
        entry = found[(c, t)]
        user_turn = int(depth) - 1
        for kind, p in (("truth", entry["p"]), ("oracle", probabilities(entry, user_turn, 0.0))):
            for s in SIGNALS:
                out[kind][s].append(observed_probability(s, p, user_turn))
    return {kind: {s: np.asarray(v, float) for s, v in by.items()} for kind, by in out.items()}
