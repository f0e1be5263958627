"""`flywheel train signals`: fit the signal models on a `signals` release, measure them honestly, save them.

The measurement is on the release's test split (else validation): conversations the models never saw.
For each signal the report has ROC AUC, PR AUC, ECE and a reliability plot; the comparison with an
untrained model of the same architecture and with a length-only logistic regression, as bootstrap 95%
intervals of the AUC difference clustered by conversation (train/honest.py); and with `--truth` (a
simulator output directory) the two references of simulated data: the true probabilities (which hold a
random effect no model can see) and the feature oracle (the planted coefficients on the true features).
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import numpy as np

from lakehouse.lake import Lake, atomic_write_bytes, file_sha256
from lakehouse.runs import code_version, stable_hash, utc_now
from train import honest, lineage, models, release_rows, signals
from train.config import SignalSettings

LINEAR_FILE = "signal_models.npz"


class FitExtras(TypedDict):
    """What a fit adds to the summary: its time, and the numbers of its backend."""

    fit_seconds: float
    features: NotRequired[int]  # sklearn: the feature columns
    selected: NotRequired[dict[str, dict]]  # sklearn: per signal, the chosen C and vector weight
    steps: NotRequired[int]  # hf
    train_loss: NotRequired[float]  # hf: mean of the last 20 steps


class SignalsSummary(FitExtras):
    """`signals.json` of a signal-model directory."""

    backend: str  # "sklearn" or "hf"
    base_model: str | None
    signals: list[str]
    release: str
    eval_split: str
    train_rows: int
    eval_rows: int
    max_length: int
    report: dict[str, dict[str, Any]]  # per signal: metrics per model and baseline, comparisons, plot file


class SignalsResult(SignalsSummary):
    """What `train` returns: the summary and the run that made it."""

    run_id: str
    output_dir: str
    seconds: float


def _eval_split(release) -> str:
    for split in ("test", "validation"):
        if release.data_files(split):
            return split
    raise signals.SignalError(f"release {release.ref} has no test or validation split to measure on")


def save_linear(directory: Path, model: signals.LinearSignalModel) -> Path:
    path = directory / LINEAR_FILE
    np.savez(
        path,
        signals=np.array(model.signals),
        mean=model.mean,
        scale=model.scale,
        coef=model.coef,
        intercept=model.intercept,
    )
    return path


def load(directory: str | Path):
    """(predict(rows, lake) -> {signal: probabilities}, summary) of a saved signal-model directory."""
    directory = Path(directory).expanduser().resolve()
    summary_file = directory / signals.SUMMARY_FILE
    if not summary_file.exists():
        raise signals.SignalError(f"{directory} is not a signal-model directory (no {signals.SUMMARY_FILE})")
    summary = json.loads(summary_file.read_text())
    if summary["backend"] == "sklearn":
        stored = np.load(directory / LINEAR_FILE)
        model = signals.LinearSignalModel(
            [str(s) for s in stored["signals"]], stored["mean"], stored["scale"], stored["coef"], stored["intercept"]
        )
        return (lambda signal_rows, lake=None: model.predict(signals.features(signal_rows, lake))), summary
    from train import classifier

    on = models.device()
    net, tokenizer = _load_hf(directory, on)

    def predict(signal_rows, lake=None):
        encoded = classifier.encode(tokenizer, _conversations(signal_rows), summary["max_length"])
        p = 1 / (1 + np.exp(-classifier.logits(net, tokenizer, encoded)))
        return {s: p[:, i] for i, s in enumerate(summary["signals"])}

    return predict, summary


def _load_hf(directory: Path, on):
    models.offline()
    from transformers import AutoModelForSequenceClassification

    tokenizer = models.load_tokenizer(directory)
    net = AutoModelForSequenceClassification.from_pretrained(str(directory), local_files_only=True)
    return models.for_inference(net, on), tokenizer


def _conversations(signal_rows: signals.SignalRows) -> list[list[dict]]:
    return [
        p + [{"role": "assistant", "content": r}] for p, r in zip(signal_rows.prompts, signal_rows.replies, strict=True)
    ]


def _fit_sklearn(
    train_rows, validation_rows, eval_rows, wanted, settings, lake, log
) -> tuple[dict, signals.LinearSignalModel, FitExtras]:
    """(trained, untrained, length-only) probabilities on the eval rows, and the model to save."""
    log(
        f"embedding {len(train_rows) + len(validation_rows) + len(eval_rows):,} replies and contexts (MiniLM; cached in the lake)"
    )
    x_train, x_eval = signals.features(train_rows, lake), signals.features(eval_rows, lake)
    x_validation = signals.features(validation_rows, lake) if len(validation_rows) else None
    start = time.perf_counter()
    grid = {"cs": settings.cs, "vector_weights": settings.vector_weights, "max_iter": settings.max_iter}
    if x_validation is not None and (len(settings.cs) > 1 or len(settings.vector_weights) > 1):
        chosen = signals.select(x_train, train_rows.outcomes, x_validation, validation_rows.outcomes, wanted, **grid)
    else:
        chosen = {s: {"c": settings.cs[0], "vector_weight": settings.vector_weights[0]} for s in wanted}
    model = signals.fit_linear(
        x_train,
        train_rows.outcomes,
        wanted,
        c={s: chosen[s]["c"] for s in wanted},
        column_weights={s: signals.block_weights(x_train.shape[1], chosen[s]["vector_weight"]) for s in wanted},
        max_iter=settings.max_iter,
    )
    fit_seconds = time.perf_counter() - start
    untrained = signals.untrained_linear(model, settings.seed)
    length = signals.fit_linear(signals.length_only(train_rows), train_rows.outcomes, wanted, c=1.0)
    predictions = {
        "model": model.predict(x_eval),
        "untrained": untrained.predict(x_eval),
        "length_only": length.predict(signals.length_only(eval_rows)),
    }
    return predictions, model, {"fit_seconds": fit_seconds, "features": int(x_train.shape[1]), "selected": chosen}


def _fit_hf(base, release, train_rows, eval_rows, wanted, settings, on, log) -> tuple[dict, tuple, FitExtras]:
    from train import classifier

    net, tokenizer = classifier.build(base, len(wanted), release_rows.texts(release), settings, on)
    untrained = classifier.untrained_copy(net)
    encoded_train = classifier.encode(tokenizer, _conversations(train_rows), settings.max_length)
    encoded_eval = classifier.encode(tokenizer, _conversations(eval_rows), settings.max_length)
    targets = np.stack([train_rows.outcomes[s] for s in wanted], axis=1).astype(np.float32)
    start = time.perf_counter()
    with models.cpu_threads(net, on):
        losses = classifier.fit(net, tokenizer, encoded_train, targets, settings, log=log)
        probs = {
            name: 1 / (1 + np.exp(-classifier.logits(m, tokenizer, encoded_eval)))
            for name, m in (("model", net), ("untrained", untrained))
        }
    fit_seconds = time.perf_counter() - start
    length = signals.fit_linear(signals.length_only(train_rows), train_rows.outcomes, wanted, c=1.0)
    predictions = {name: {s: p[:, i] for i, s in enumerate(wanted)} for name, p in probs.items()}
    predictions["length_only"] = length.predict(signals.length_only(eval_rows))
    extra: FitExtras = {"fit_seconds": fit_seconds, "steps": len(losses), "train_loss": float(np.mean(losses[-20:]))}
    return predictions, (net, tokenizer), extra


def evaluate(eval_rows, wanted, predictions, references, settings, out: Path) -> dict:
    """Per signal: metrics of the model and baselines, the comparisons, the references, the plot."""
    report = {}
    for signal in wanted:
        labels = eval_rows.outcomes[signal]
        # per prediction (the model, its baselines, the references): its metrics; then comparisons and the plot
        entry: dict[str, Any] = {name: signals.signal_metrics(labels, p[signal]) for name, p in predictions.items()}
        entry["comparisons"] = [
            honest.compare_auc(
                baseline,
                labels,
                predictions["model"][signal],
                predictions[baseline][signal],
                groups=eval_rows.conversation_ids,
                resamples=settings.bootstrap,
            ).row()
            for baseline in ("untrained", "length_only")
            if labels.any() and not labels.all()
        ]
        curves = {"model": predictions["model"][signal]}
        for kind, by_signal in (references or {}).items():
            entry[kind] = signals.signal_metrics(labels, by_signal[signal])
            curves[kind] = by_signal[signal]
        plot = out / f"reliability_{signal}.png"
        signals.reliability_plot(plot, labels.astype(float), curves, f"{signal}: reliability (held out)")
        entry["reliability_plot"] = plot.name
        report[signal] = entry
    return report


def _markdown(summary: SignalsSummary) -> str:
    lines = [
        f"# Signal models ({summary['backend']})",
        "",
        f"- release: `{summary['release']}`, measured on its `{summary['eval_split']}` split "
        f"({summary['eval_rows']:,} replies; trained on {summary['train_rows']:,})",
        f"- fit time: {summary['fit_seconds']:.1f}s",
        "",
        "| signal | model AUC | PR AUC | ECE | untrained AUC | length-only AUC | oracle AUC | truth AUC |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for signal, e in summary["report"].items():

        def f(section, key, e=e):
            value = e.get(section, {}).get(key)
            return "n/a" if value is None or value != value else f"{value:.3f}"

        lines.append(
            f"| {signal} | {f('model', 'roc_auc')} | {f('model', 'pr_auc')} | {f('model', 'ece')} | "
            f"{f('untrained', 'roc_auc')} | {f('length_only', 'roc_auc')} | {f('oracle', 'roc_auc')} | "
            f"{f('truth', 'roc_auc')} |"
        )
    lines += ["", "## Against the baselines (AUC difference, 95% bootstrap CI clustered by conversation)", ""]
    for signal, e in summary["report"].items():
        for c in e["comparisons"]:
            lines.append(
                f"- {signal} vs {c['baseline']}: {c['difference']:+.3f} ({c['ci_low']:+.3f} to {c['ci_high']:+.3f})"
                + (" **beats**" if c["beats"] else " not significant")
            )
    lines += ["", *[f"![{s}]({e['reliability_plot']})" for s, e in summary["report"].items()], ""]
    return "\n".join(lines)


def train(
    lake: Lake,
    release_ref: str,
    wanted: list[str],
    out: str | Path,
    settings: SignalSettings,
    *,
    run_id: str,
    model: str | None = None,
    truth: str | Path | None = None,
    overwrite: bool = False,
    log=print,
) -> SignalsResult:
    """Train, measure and save the signal models; returns the summary (also `<out>/signals.json`)."""
    started_at, start = utc_now(), time.perf_counter()
    release = release_rows.open_release(lake, release_ref, "signals")
    out = Path(out).expanduser().resolve()
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise signals.SignalError(f"{out} already exists and is not empty; pass --overwrite to replace it")
    train_rows, eval_split = signals.rows(release, "train"), _eval_split(release)
    eval_rows = signals.rows(release, eval_split)
    if not len(train_rows):
        raise signals.SignalError(f"release {release.ref} has no train rows")
    references = signals.simulated_references(Path(truth), eval_rows) if truth else None
    staging = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    on = models.device()
    extra: FitExtras
    try:
        if model is None:
            validation_rows = (
                signals.rows(release, "validation")
                if eval_split == "test"
                else signals.SignalRows([], [], [], np.zeros(0), [], [])
            )
            predictions, fitted, extra = _fit_sklearn(
                train_rows, validation_rows, eval_rows, wanted, settings, lake, log
            )
            weights = save_linear(staging, fitted)
            weights_hash, backend = file_sha256(weights), "sklearn"
        else:
            predictions, (net, tokenizer), extra = _fit_hf(
                model, release, train_rows, eval_rows, wanted, settings, on, log
            )
            net.save_pretrained(str(staging))
            tokenizer.save_pretrained(str(staging))
            weights_hash, backend = models.weights_sha256(staging), "hf"
        report = evaluate(eval_rows, wanted, predictions, references, settings, staging)
        summary: SignalsSummary = {
            "backend": backend,
            "base_model": model,
            "signals": wanted,
            "release": release.ref,
            "eval_split": eval_split,
            "train_rows": len(train_rows),
            "eval_rows": len(eval_rows),
            "max_length": settings.max_length,
            **extra,
            "report": report,
        }
        atomic_write_bytes(
            staging / signals.SUMMARY_FILE,
            (json.dumps(summary, indent=2, sort_keys=True, default=float) + "\n").encode(),
        )
        (staging / "report.md").write_text(_markdown(summary))
        metrics = {
            f"{s}_{name}_{key}": float(e[name][key])
            for s, e in report.items()
            for name in ("model", "untrained", "length_only", "oracle", "truth")
            for key in ("roc_auc", "pr_auc", "ece")
            if name in e and e[name].get(key) is not None
        }
        dumped = settings.model_dump(mode="json")
        record = lineage.build(
            run_id=run_id,
            kind="signals",
            output_dir=out,
            release=release,
            base=models.model_ref(model) if model not in (None, models.TINY) else (model or "minilm-logreg"),
            ref_model=None,
            settings=dumped,
            settings_hash=stable_hash(dumped),
            code_version=code_version(),
            metrics=metrics,
            notes=[],
            device=on.describe() if model else "cpu (scikit-learn)",
            train_rows=len(train_rows),
            dropped={},
            steps=int(extra.get("steps", 0)),
            seconds=time.perf_counter() - start,
            weights_sha256=weights_hash,
            started_at=started_at,
            finished_at=utc_now(),
        )
        lineage.write(staging, record)
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    lineage.record(lake, record)
    return {**summary, "run_id": run_id, "output_dir": str(out), "seconds": record["seconds"]}
