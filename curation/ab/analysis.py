"""`analyze`: one experiment's A/B result from the lake (window, SRM, lifts with intervals, verdicts).

The verdict of a metric says what a reader may conclude: `better` / `worse` when the 95% interval
excludes zero (in the metric's good / bad direction), `inconclusive` otherwise, and `invalid (SRM)` for
every metric when the sample-ratio check fails: a broken assignment or logging biases every comparison,
so no lift of such an experiment should be read.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from curation.ab import stats
from curation.ab.metrics import Metric
from curation.ab.query import Aggregates, aggregate, window

CONTROL, TEST = "control", "test"


@dataclass(frozen=True)
class Settings:
    control: str = CONTROL
    test: str = TEST
    expected_split: float = 0.5  # share of users planned for the test arm
    alpha: float = 0.05
    pre_days: int = 28
    start: dt.datetime | None = None
    end: dt.datetime | None = None


def verdict(metric: Metric, lift: stats.Lift, srm_failed: bool) -> str:
    if srm_failed:
        return "invalid (SRM)"
    if math.isnan(lift.ci_low) or (lift.ci_low <= 0 <= lift.ci_high):
        return "inconclusive"
    up = lift.ci_low > 0
    good = up if metric.direction == "increase" else not up
    if good:
        return "better"
    return "guardrail violated" if metric.guardrail else "worse"


def metric_result(metric: Metric, agg: Aggregates, settings: Settings, srm_failed: bool) -> dict:
    """One metric's values per arm, lift, interval, p-value, whether CUPED was used and the verdict."""
    sums = agg.sums[metric.name]
    empty = stats.ArmSums(0, 0, 0, 0, 0, 0)
    control, test = sums.get(settings.control, empty), sums.get(settings.test, empty)
    theta = stats.cuped_theta(control, test) if metric.per_user else 0.0
    if theta:
        est_c, est_t = stats.cuped_estimate(control, theta), stats.cuped_estimate(test, theta)
    else:
        est_c, est_t = stats.ratio_estimate(control), stats.ratio_estimate(test)
    lift = stats.relative_lift(est_c, est_t, settings.alpha)
    raw = stats.relative_lift(stats.ratio_estimate(control), stats.ratio_estimate(test), settings.alpha)
    return {
        "metric": metric.name,
        "description": metric.description,
        "kind": "mean per user" if metric.per_user else "ratio (delta method, clustered by user)",
        "direction": metric.direction,
        "guardrail": metric.guardrail,
        "control": _finite(est_c.unadjusted),
        "test": _finite(est_t.unadjusted),
        "lift": _finite(lift.lift),
        "ci_low": _finite(lift.ci_low),
        "ci_high": _finite(lift.ci_high),
        "p_value": _finite(lift.p_value),
        "cuped": bool(theta),
        "cuped_theta": theta,
        "unadjusted_ci_width": _finite(raw.ci_high - raw.ci_low),
        "verdict": verdict(metric, lift, srm_failed),
    }


def _finite(value: float) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def analyze(con, experiment_id: str, metrics: list[Metric], settings: Settings | None = None) -> dict:
    """The full result of one experiment (JSON-ready)."""
    settings = settings or Settings()
    win = window(con, experiment_id, settings.start, settings.end, settings.pre_days)
    agg = aggregate(con, experiment_id, metrics, win)
    unknown = sorted(set(agg.exposed) - {settings.control, settings.test})
    expected = {settings.control: 1 - settings.expected_split, settings.test: settings.expected_split}
    srm_p = stats.srm_p_value(agg.exposed, expected)
    srm_failed = not math.isnan(srm_p) and srm_p < stats.SRM_ALPHA
    warnings = []
    if srm_failed:
        warnings.append(
            f"SAMPLE RATIO MISMATCH: {agg.exposed.get(settings.control, 0):,} control vs "
            f"{agg.exposed.get(settings.test, 0):,} test users (planned {1 - settings.expected_split:.0%} / "
            f"{settings.expected_split:.0%}), chi-square p = {srm_p:.2g} < {stats.SRM_ALPHA}: assignment or "
            "exposure logging is broken; do not trust any lift of this experiment"
        )
    if unknown:
        warnings.append(f"arms other than {settings.control}/{settings.test} ignored: {', '.join(unknown)}")
    if agg.multi_arm_users:
        warnings.append(f"{agg.multi_arm_users:,} users exposed to more than one arm were excluded")
    if not agg.has_pre_period:
        warnings.append("no pre-exposure activity in the lake: CUPED not applied")
    return {
        "experiment_id": experiment_id,
        "control": settings.control,
        "test": settings.test,
        "window": {"start": win.start.isoformat(), "end": win.end.isoformat(), "pre_start": win.pre_start.isoformat()},
        "exposed": {arm: agg.exposed.get(arm, 0) for arm in (settings.control, settings.test)},
        "multi_arm_users": agg.multi_arm_users,
        "expected_split": settings.expected_split,
        "srm_p_value": _finite(srm_p),
        "srm_failed": srm_failed,
        "alpha": settings.alpha,
        "metrics": {m.name: metric_result(m, agg, settings, srm_failed) for m in metrics},
        "warnings": warnings,
    }
