"""The statistics of an A/B report, from per-arm sufficient statistics (sums over users).

Every metric is a ratio of per-user sums, sum(Y) / sum(X), with the user as the unit of randomisation:
a mean metric (breadth: conversations per exposed user) has X = 1 per user, a ratio metric (depth: user
turns per conversation) has X = the user's conversations. Conversations of one user are correlated, so
the variance of a ratio metric comes from the delta method over users (clustered by user), never from
treating conversations as independent.

The relative lift and its interval follow the unequal-variance t-test of GrowthBook's engine (`gbstats`,
frequentist, relative difference): the tests check agreement to 1e-3 on the same aggregates, so a reader
can trust the numbers against a known engine. CUPED (regression adjustment on a pre-exposure covariate,
theta pooled over both arms) applies to mean metrics when the covariate varies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class ArmSums:
    """Sums over the users of one arm: Y the metric's numerator, X its denominator (1 per user for a mean
    metric), P the pre-exposure covariate (CUPED)."""

    n: int
    y: float
    y2: float
    x: float
    x2: float
    xy: float
    p: float = 0.0
    p2: float = 0.0
    yp: float = 0.0


def _var(total: float, squares: float, n: int) -> float:
    return (squares - total * total / n) / (n - 1) if n > 1 else 0.0


def _cov(a: float, b: float, ab: float, n: int) -> float:
    return (ab - a * b / n) / (n - 1) if n > 1 else 0.0


@dataclass(frozen=True)
class ArmEstimate:
    """An arm's metric value and the per-user variance of its estimator (variance of the mean x n)."""

    n: int
    value: float
    unadjusted: float
    unit_variance: float


def ratio_estimate(s: ArmSums) -> ArmEstimate:
    """sum(Y) / sum(X) with the delta-method variance (per user)."""
    if s.n == 0 or s.x == 0:
        return ArmEstimate(s.n, float("nan"), float("nan"), float("nan"))
    my, mx = s.y / s.n, s.x / s.n
    vy, vx, cxy = _var(s.y, s.y2, s.n), _var(s.x, s.x2, s.n), _cov(s.y, s.x, s.xy, s.n)
    value = s.y / s.x
    variance = vy / mx**2 - 2 * cxy * my / mx**3 + my**2 * vx / mx**4
    return ArmEstimate(s.n, value, value, variance)


def cuped_theta(a: ArmSums, b: ArmSums) -> float:
    """cov(Y, P) / var(P) over both arms pooled; 0 when the covariate does not vary."""
    n = a.n + b.n
    var_p = _var(a.p + b.p, a.p2 + b.p2, n)
    var_y = _var(a.y + b.y, a.y2 + b.y2, n)
    if var_p <= 0 or var_y <= 0:
        return 0.0
    return _cov(a.y + b.y, a.p + b.p, a.yp + b.yp, n) / var_p


def cuped_estimate(s: ArmSums, theta: float) -> ArmEstimate:
    """The mean of Y - theta * P (a mean metric) with its variance."""
    if s.n == 0:
        return ArmEstimate(0, float("nan"), float("nan"), float("nan"))
    vy, vp, cyp = _var(s.y, s.y2, s.n), _var(s.p, s.p2, s.n), _cov(s.y, s.p, s.yp, s.n)
    value = s.y / s.n - theta * s.p / s.n
    return ArmEstimate(s.n, value, s.y / s.n, vy + theta**2 * vp - 2 * theta * cyp)


@dataclass(frozen=True)
class Lift:
    """Relative lift of test over control with a two-sided interval and p-value."""

    lift: float
    ci_low: float
    ci_high: float
    p_value: float
    se: float
    dof: float


def relative_lift(control: ArmEstimate, test: ArmEstimate, alpha: float = 0.05) -> Lift:
    """(test - control) / control, its delta-method variance and a Welch t interval (as gbstats). The t
    distribution comes from scipy.special (the functions scipy.stats.t calls), which imports in a tenth of
    the time of scipy.stats: seconds of a report that otherwise takes a few."""
    from scipy.special import stdtr, stdtrit

    nan = float("nan")
    if control.n < 2 or test.n < 2 or not control.unadjusted or math.isnan(control.unadjusted):
        return Lift(nan, nan, nan, nan, nan, nan)
    ma, mb = control.unadjusted, test.unadjusted
    lift = (test.value - control.value) / ma
    variance = test.unit_variance / (ma**2 * test.n) + control.unit_variance * mb**2 / (ma**4 * control.n)
    if variance <= 0:
        return Lift(lift, lift, lift, 0.0 if lift else 1.0, 0.0, nan)
    va, vb = control.unit_variance / control.n, test.unit_variance / test.n
    dof = (va + vb) ** 2 / (va**2 / (control.n - 1) + vb**2 / (test.n - 1))
    se = math.sqrt(variance)
    width = float(stdtrit(dof, 1 - alpha / 2)) * se
    p_value = float(2 * (1 - stdtr(dof, abs(lift / se))))
    return Lift(lift, lift - width, lift + width, p_value, se, dof)


def srm_p_value(counts: dict[str, int], expected: dict[str, float]) -> float:
    """Chi-square goodness of fit of the exposed users per arm against the planned split (the statistic of
    scipy.stats.chisquare, its upper tail from scipy.special)."""
    from scipy.special import chdtrc

    arms = sorted(expected)
    observed = [counts.get(arm, 0) for arm in arms]
    total = sum(observed)
    if total == 0:
        return float("nan")
    weights = [expected[arm] / sum(expected.values()) for arm in arms]
    statistic = sum((o - w * total) ** 2 / (w * total) for o, w in zip(observed, weights, strict=True) if w > 0)
    return float(chdtrc(len(arms) - 1, statistic))
