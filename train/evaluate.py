"""`flywheel eval model`: reward win rate of a new model over an old one on a frozen prompt release, with the
guardrails of the CharacterFlywheel report.

Each model answers every prompt once (same sampling settings and seed); the reward model scores both
replies; the new model wins a prompt when its reply scores higher, a tie (identical scores, e.g.
identical replies) counts half. The 95% interval is Wilson's score interval, which stays inside [0, 1]
and behaves at small n, where the normal approximation does not. Everything is reported overall and
separately for user and internal traffic, because the report's overfit generation won 70.7% on user
traffic and only 43.7% on internal: one number hid it.

Flags (printed, stored in `meta/evals`, written in the report):
- `win_rate_high` (and `win_rate_high:<source>`): a win rate above `max_win_rate` (0.65; the report's
  healthy band was 0.50-0.65, aiming near 0.60): past that the policy is likely exploiting the reward model.
- `source_gap`: user and internal win rates further apart than `max_source_gap` (0.15).
- `artifact:<feature>`: a style artifact (lakehouse.style_artifacts) shifted past its threshold.
- `prompts_seen_in_training`: some evaluation prompts (by sample_id) are in a release that trained the new
  model or its ancestors; a win rate on training prompts says little about the next generation.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa

from lakehouse import style_artifacts, tables
from lakehouse.lake import Lake
from lakehouse.releases import ReleaseError, resolve
from lakehouse.runs import code_version, utc_now
from train import generate, models, release_rows, report, score
from train.config import EvalSettings

Z_95 = 1.959963984540054
TIE_TOLERANCE = 1e-6
SOURCES = ("user", "internal")


def wilson(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a proportion (successes may be fractional: ties count half)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class WinRate:
    source: str
    n: int
    wins: int
    ties: int
    losses: int

    @property
    def win_rate(self) -> float:
        return (self.wins + 0.5 * self.ties) / self.n if self.n else float("nan")

    @property
    def ci(self) -> tuple[float, float]:
        return wilson(self.wins + 0.5 * self.ties, self.n)

    def row(self) -> dict:
        low, high = self.ci
        return {**asdict(self), "win_rate": self.win_rate, "ci_low": low, "ci_high": high}


def tally(source: str, outcomes: list[tuple[float, float]]) -> WinRate:
    """Wins, ties and losses of (new reward, old reward) pairs."""
    wins = sum(new - old > TIE_TOLERANCE for new, old in outcomes)
    losses = sum(old - new > TIE_TOLERANCE for new, old in outcomes)
    return WinRate(source, len(outcomes), wins, len(outcomes) - wins - losses, losses)


def win_rates(outcomes: list[tuple[str | None, float, float]]) -> tuple[WinRate, list[WinRate]]:
    """Overall and per-source win rates of (source, new reward, old reward) rows."""
    overall = tally("all", [(n, o) for _, n, o in outcomes])
    sources = sorted(
        {s or "unknown" for s, _, _ in outcomes}, key=lambda s: (SOURCES.index(s) if s in SOURCES else len(SOURCES), s)
    )
    by_source = [tally(s, [(n, o) for src, n, o in outcomes if (src or "unknown") == s]) for s in sources]
    return overall, by_source


def source_gap(by_source: list[WinRate]) -> float | None:
    rates = {w.source: w.win_rate for w in by_source if w.n}
    return abs(rates["user"] - rates["internal"]) if "user" in rates and "internal" in rates else None


def training_overlap(lake: Lake, model_path: str, sample_ids: set[str]) -> dict[str, int]:
    """How many evaluation prompts each release in the model's ancestry also holds (releases of the lake)."""
    overlap = {}
    lineage = models.read_lineage(model_path)
    for ancestor in lineage["ancestry"] if lineage else []:
        try:
            release = resolve(lake, ancestor["release"])
        except ReleaseError:
            continue  # trained from another lake's release: nothing to compare here
        seen = set(release.read().column("sample_id").to_pylist()) if release.data_files() else set()
        if shared := len(seen & sample_ids):
            overlap[release.ref] = shared
    return overlap


def guardrails(
    overall: WinRate,
    by_source: list[WinRate],
    shifts: list[style_artifacts.Shift],
    settings: EvalSettings,
    overlap: dict[str, int] | None = None,
) -> list[tuple[str, str]]:
    """(code, explanation) for every guardrail the evaluation trips."""
    flags = []
    if overlap:
        flags.append(
            (
                "prompts_seen_in_training",
                "evaluation prompts also in training releases: "
                + ", ".join(f"{ref} ({n})" for ref, n in sorted(overlap.items())),
            )
        )
    for w in [overall, *by_source]:
        if w.n and w.win_rate > settings.max_win_rate:
            code = "win_rate_high" if w.source == "all" else f"win_rate_high:{w.source}"
            flags.append(
                (
                    code,
                    f"{w.source} win rate {w.win_rate:.3f} is above {settings.max_win_rate:.2f}: "
                    "the new model may be exploiting the reward model",
                )
            )
    gap = source_gap(by_source)
    if gap is not None and gap > settings.max_source_gap:
        rates = {w.source: w.win_rate for w in by_source}
        flags.append(
            (
                "source_gap",
                f"user win rate {rates['user']:.3f} vs internal {rates['internal']:.3f}: "
                f"gap {gap:.3f} is above {settings.max_source_gap:.2f}",
            )
        )
    for shift in shifts:
        if shift.flagged:
            flags.append((f"artifact:{shift.feature}", shift.describe()))
    return flags


@dataclass
class EvalResult:
    eval_id: str
    overall: WinRate
    by_source: list[WinRate]
    shifts: list[style_artifacts.Shift]
    flags: list[tuple[str, str]]
    report: Path
    row: dict


def _outcomes(new_scores: pa.Table, old_scores: pa.Table, prompts: dict[str, release_rows.Prompt]):
    new = {r["sample_id"]: r["reward"] for r in new_scores.to_pylist()}
    old = {r["sample_id"]: r["reward"] for r in old_scores.to_pylist()}
    return [(prompts[s].source, new[s], old[s]) for s in sorted(new.keys() & old.keys())]


def _replies(lake: Lake, generation_id: str, prompts: dict[str, release_rows.Prompt]) -> list[tuple[str, str]]:
    return [
        (prompts[r["sample_id"]].last_user_message, r["text"])
        for r in generate.candidates(lake, generation_id).to_pylist()
    ]


def _row(
    eval_id: str,
    release,
    refs: dict[str, models.ModelRef],
    generations: dict[str, str],
    overall: WinRate,
    by_source: list[WinRate],
    shifts: list[style_artifacts.Shift],
    flags: list[tuple[str, str]],
    settings: EvalSettings,
    report_path: Path,
) -> dict:
    """The `meta/evals` row."""
    rates = {w.source: w.win_rate for w in by_source}
    low, high = overall.ci
    return {
        "eval_id": eval_id,
        "new_model": refs["new"].path,
        "new_model_run_id": refs["new"].run_id,
        "old_model": refs["old"].path,
        "old_model_run_id": refs["old"].run_id,
        "reward_model": refs["reward"].path,
        "reward_model_run_id": refs["reward"].run_id,
        "prompts_release": release.ref,
        "prompts_content_hash": release.manifest["content_hash"],
        "new_generation_id": generations["new"],
        "old_generation_id": generations["old"],
        "n_prompts": overall.n,
        "win_rate": overall.win_rate,
        "ci_low": low,
        "ci_high": high,
        "win_rate_user": rates.get("user"),
        "win_rate_internal": rates.get("internal"),
        "source_gap": source_gap(by_source),
        "by_source": [w.row() for w in by_source],
        "artifacts": [asdict(s) for s in shifts],
        "flags": [code for code, _ in flags],
        "settings": json.dumps(settings.model_dump(mode="json"), sort_keys=True),
        "report_path": str(report_path.resolve()),
        "code_version": code_version(),
        "created_at": utc_now(),
    }


def run(
    lake: Lake,
    new_model: str,
    old_model: str,
    reward_model: str,
    prompts_ref: str,
    settings: EvalSettings,
    out_dir: str | Path | None = None,
    log=print,
    progress: bool = False,
) -> EvalResult:
    """Generate with both models, score, compare, write the report and the `meta/evals` row."""
    release = release_rows.open_release(lake, prompts_ref, "prompts")
    refs = {
        "new": models.model_ref(new_model),
        "old": models.model_ref(old_model),
        "reward": models.model_ref(reward_model),
    }  # fail on a bad path before generating anything
    sampling = generate.SamplingSettings.one_reply(settings)
    generations, scores = {}, {}
    for side in ("new", "old"):
        result = generate.run(lake, refs[side].path, release.ref, sampling, split=settings.split, progress=progress)
        log(f"{side} model: {result.candidates} replies, {result.tokens_per_second:,.0f} tokens/s")
        generations[side] = result.generation_id
        scores[side] = score.score_generation(
            lake, result.generation_id, reward_model, batch_size=settings.batch_size, progress=progress
        ).table
    prompts = generate.prompts_of(lake, generations["new"])
    overall, by_source = win_rates(_outcomes(scores["new"], scores["old"], prompts))
    shifts = style_artifacts.compare(
        _replies(lake, generations["old"], prompts),
        _replies(lake, generations["new"], prompts),
        settings.artifact_thresholds,
    )
    flags = guardrails(overall, by_source, shifts, settings, training_overlap(lake, refs["new"].path, set(prompts)))
    eval_id = f"eval-{utc_now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    out = Path(out_dir) if out_dir else Path(refs["new"].path) / "evals" / eval_id
    row = _row(eval_id, release, refs, generations, overall, by_source, shifts, flags, settings, out / "report.md")
    report_path = report.write(out, row, overall, by_source, shifts, flags)
    with lake.transaction() as tx:
        tx.write(tables.EVALS, pa.Table.from_pylist([row], schema=tables.EVALS.schema))
    return EvalResult(eval_id, overall, by_source, shifts, flags, report_path, row)
