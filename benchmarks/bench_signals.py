"""User-signal models (default backend): quality against the simulator's planted model, and fit time at 1M.

Quality (issue 15's target): `SIGNALS_CONVERSATIONS` simulated conversations (default 20,000) go through
ingest and the `signals` release (unscrubbed text: the scrub stage is not what is measured here, and the
simulator's planted personal data does not change the signals), then `flywheel train signals` with
`--truth`: the held-out ROC AUC of continued and thumb_up against the feature oracle's (planted
coefficients on the true features, no random effect), and the ECE. Target: within 0.03 of the oracle,
ECE < 0.02.

Fit time: the logistic regressions of two signals on `SIGNALS_FIT_ROWS` replies (default 1,000,000) of
synthetic feature vectors with the default backend's width (2 x 384 MiniLM + style features), labels
drawn from a planted logistic model. Synthetic because embedding 2M texts with MiniLM on this machine's
2 shared cores takes hours (bench_embed measures the embedder on its own); the fit is what is timed.
Baseline: scikit-learn's LogisticRegression with its defaults (no standardization, C=1, max_iter 100) on
the same data.

Run: `python -m benchmarks.bench_signals` (the fit time; BENCH_SCALE scales it) and
`SIGNALS_QUALITY=1 python -m benchmarks.bench_signals` for the quality measurement too (it embeds about
130,000 texts with MiniLM at 20,000 conversations: most of an hour on 2 free cores).
"""

from __future__ import annotations

import os
import shutil
import time

import numpy as np

from benchmarks.harness import CACHE_DIR, report, save_json, scale

WIDTH = 2 * 384 + 12
SIGNALS = ["continued", "thumb_up"]


def quality(conversations: int) -> dict:
    from rich.console import Console

    from benchmarks.simdata import simulated
    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake
    from train import config, signal_training

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)
    sim = simulated(conversations, seed=11, pii_share=0)
    root = CACHE_DIR / f"signals-lake-{conversations}"
    if not (root / "releases" / "signals").exists():
        shutil.rmtree(root, ignore_errors=True)
        release = {
            "name": "signals",
            "type": "signals",
            "filter": "source = 'user'",
            "allow_unscrubbed": True,
            "representatives_only": False,
            "leak_scan": "skip",
            "leak_scan_reason": "benchmark on simulated traffic without planted personal data",
            "split": {"validation": 0.05, "test": 0.2},
        }
        stages = [
            {"stage": "ingest", "paths": [str(sim / "traffic"), str(sim / "exposures.jsonl.gz")]},
            {"stage": "release", "releases": [release]},
        ]
        result = runner.run(parse({"name": "bench-signals", "stages": stages}), Lake(root), Console(quiet=True))
        if result.status != "succeeded":
            raise RuntimeError(result.error)
    out = CACHE_DIR / f"signal-models-{conversations}"
    start = time.perf_counter()
    summary = signal_training.train(
        Lake(root),
        "signals",
        SIGNALS,
        out,
        config.load("signals"),
        run_id="bench-signals",
        truth=sim,
        overwrite=True,
        log=lambda *_: None,
    )
    seconds = time.perf_counter() - start
    rows = {}
    for signal in SIGNALS:
        e = summary["report"][signal]
        rows[signal] = {
            "auc": e["model"]["roc_auc"],
            "oracle_auc": e["oracle"]["roc_auc"],
            "truth_auc": e["truth"]["roc_auc"],
            "gap_to_oracle": e["oracle"]["roc_auc"] - e["model"]["roc_auc"],
            "pr_auc": e["model"]["pr_auc"],
            "ece": e["model"]["ece"],
            "untrained_auc": e["untrained"]["roc_auc"],
            "length_only_auc": e["length_only"]["roc_auc"],
        }
    return {
        "conversations": conversations,
        "train_rows": summary["train_rows"],
        "eval_rows": summary["eval_rows"],
        "seconds_total": seconds,
        "fit_seconds": summary["fit_seconds"],
        "signals": rows,
    }


def synthetic(rows: int, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, WIDTH), dtype=np.float32)
    outcomes = {}
    for i, signal in enumerate(SIGNALS):
        w = rng.normal(0, 0.08, WIDTH).astype(np.float32)
        z = x @ w + (0.8 if i == 0 else -2.9)
        outcomes[signal] = rng.random(rows) < 1 / (1 + np.exp(-z))
    return x, outcomes


def fit_time(rows: int) -> dict:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    from train import signals
    from train.config import SignalSettings

    settings = SignalSettings()
    x, outcomes = synthetic(rows + 50_000)
    x_validation, validation = x[rows:], {s: v[rows:] for s, v in outcomes.items()}
    x, outcomes = x[:rows], {s: v[:rows] for s, v in outcomes.items()}
    start = time.perf_counter()
    chosen = signals.select(
        x, outcomes, x_validation, validation, SIGNALS, cs=settings.cs, vector_weights=settings.vector_weights
    )
    select_seconds = time.perf_counter() - start
    model = signals.fit_linear(
        x,
        outcomes,
        SIGNALS,
        c={s: chosen[s]["c"] for s in SIGNALS},
        column_weights={s: signals.block_weights(WIDTH, chosen[s]["vector_weight"]) for s in SIGNALS},
        max_iter=settings.max_iter,
    )
    flywheel_seconds = time.perf_counter() - start
    p = model.predict(x[:100_000])
    start = time.perf_counter()
    for signal in SIGNALS:
        LogisticRegression().fit(x, outcomes[signal])
    default_seconds = time.perf_counter() - start
    return {
        "rows": rows,
        "width": WIDTH,
        "signals": len(SIGNALS),
        "flywheel_fit_seconds": flywheel_seconds,
        "grid_select_seconds": select_seconds,
        "load": os.getloadavg()[0],
        "sklearn_defaults_seconds": default_seconds,
        "in_sample_auc": {s: float(roc_auc_score(outcomes[s][:100_000], p[s])) for s in SIGNALS},
    }


def main() -> None:
    conversations = scale(int(os.environ.get("SIGNALS_CONVERSATIONS", 20_000)))
    rows = scale(int(os.environ.get("SIGNALS_FIT_ROWS", 1_000_000)))
    results = {"fit": fit_time(rows)} if rows > 1 else {}  # SIGNALS_FIT_ROWS=0: the quality run alone
    if os.environ.get("SIGNALS_QUALITY"):
        results["quality"] = quality(conversations)
    f, q = results.get("fit"), results.get("quality")
    lines = []
    if q:
        lines += [
            f"signal models on {q['conversations']:,} simulated conversations ({q['train_rows']:,} train / "
            f"{q['eval_rows']:,} held-out replies; {q['seconds_total']:.0f}s with embedding)",
            "signal       AUC   oracle  truth  gap    ECE     PR AUC  untrained  length-only",
        ]
    for signal, r in (q or {}).get("signals", {}).items():
        lines.append(
            f"{signal:<11} {r['auc']:.3f}  {r['oracle_auc']:.3f}  {r['truth_auc']:.3f}  {r['gap_to_oracle']:+.3f} "
            f"{r['ece']:.4f}  {r['pr_auc']:.3f}   {r['untrained_auc']:.3f}      {r['length_only_auc']:.3f}"
        )
    if f:
        lines.append(
            f"fit on {f['rows']:,} synthetic replies x {f['width']} features, {f['signals']} signals: "
            f"{f['flywheel_fit_seconds']:.0f}s (flywheel: grid on 100k rows {f['grid_select_seconds']:.0f}s, then the fit) "
            f"vs {f['sklearn_defaults_seconds']:.0f}s (sklearn defaults, one fit per signal); load average {f['load']:.1f}"
        )
    name = "bench_signals" if f and q else "bench_signals_quality" if q else "bench_signals_fit"
    report(name, "\n".join(lines))
    save_json(name, results)


if __name__ == "__main__":
    main()
