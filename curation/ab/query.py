"""The aggregation of an A/B report in DuckDB: exposures x conversations -> per-arm sufficient statistics.

One query over the catalog (read-only): exposed users of the experiment (their first exposure; a user
seen in two arms is excluded and counted), each user's conversations in the window after exposure (the
metrics) and in the pre-exposure period (the CUPED covariate), summed per user and then per arm. Only a
handful of numbers per arm and metric leave DuckDB, so 10 million users cost no Python memory.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from curation.ab.metrics import CONVERSATION_COLUMNS, Metric, MetricError
from curation.ab.stats import ArmSums


@dataclass(frozen=True)
class Window:
    start: dt.datetime
    end: dt.datetime  # exclusive
    pre_start: dt.datetime


@dataclass(frozen=True)
class Aggregates:
    window: Window
    exposed: dict[str, int]  # users per arm (single-arm users exposed inside the window)
    multi_arm_users: int
    sums: dict[str, dict[str, ArmSums]]  # metric -> arm -> sums
    has_pre_period: bool  # any exposed user was active before exposure


class ExperimentNotFound(MetricError):
    """No exposures for the experiment id."""


def window(con, experiment_id: str, start: dt.datetime | None, end: dt.datetime | None, pre_days: int) -> Window:
    """The analysis window: from the first exposure (or `start`) to just after the last conversation of the
    experiment (or `end`); the pre-period is the `pre_days` before the start."""
    first, last_exposure, n = con.execute(
        "SELECT min(exposed_at), max(exposed_at), count(*) FROM exposures WHERE experiment_id = ?", [experiment_id]
    ).fetchone()
    if not n:
        known = [r[0] for r in con.execute("SELECT DISTINCT experiment_id FROM exposures ORDER BY 1").fetchall()]
        raise ExperimentNotFound(
            f"no exposures for experiment {experiment_id!r} in the lake; known: {', '.join(known) or 'none'}"
        )
    if end is None:
        last = con.execute(
            "SELECT max(started_at) FROM conversations WHERE experiment.experiment_id = ?", [experiment_id]
        ).fetchone()[0]
        last = last or con.execute("SELECT max(started_at) FROM conversations").fetchone()[0] or last_exposure
        end = max(last, last_exposure) + dt.timedelta(microseconds=1)
    start = start or first
    return Window(start, end, start - dt.timedelta(days=pre_days))


def _values(metrics: list[Metric]) -> dict[str, str]:
    """Each distinct per-conversation SQL expression of the metrics once, named v0, v1, ...: breadth's
    numerator is depth's denominator and the guardrails share `replies`, so each is summed once."""
    values: dict[str, str] = {}
    for m in metrics:
        for expr in (m.numerator, *(() if m.per_user else (m.denominator,))):
            values.setdefault(expr.strip(), f"v{len(values)}")
    return values


def _counts(metrics: list[Metric]) -> str:
    """The per-conversation counts (CONVERSATION_COLUMNS) the metrics use: each is a pass over every
    message of every conversation, so the unused ones are not computed."""
    text = " ".join(f"{m.numerator} {m.denominator}" for m in metrics)
    used = [name for name in CONVERSATION_COLUMNS if re.search(rf"\b{name}\b", text)]
    return "".join(f", {CONVERSATION_COLUMNS[name]} AS {name}" for name in used)


def _sum_columns(metrics: list[Metric]) -> tuple[str, str, str, str]:
    """(per-conversation values, per-user sums, per-arm sums, per-arm result columns) SQL. Per user: the
    post-exposure sum of each distinct expression and, for mean metrics, the pre-exposure sum of the
    numerator (the CUPED covariate). Per arm: the sufficient statistics y, yy, x, xx, xy, p, pp, yp of every
    metric, summed over the users who had conversations; an exposed user without any adds zeros, except to
    a mean metric's x = 1 per user, whose sums x and xx are the arm's exposed users n."""
    values = _values(metrics)
    covariates = sorted({values[m.numerator.strip()] for m in metrics if m.per_user})
    conv_cols = [f"({expr})::DOUBLE AS {name}" for expr, name in values.items()]
    user_cols = [f"sum(CASE WHEN post THEN {name} ELSE 0 END) AS {name}" for name in values.values()]
    user_cols += [f"sum(CASE WHEN post THEN 0 ELSE {name} END) AS pre_{name}" for name in covariates]
    arm_cols, result_cols = [], []
    for i, m in enumerate(metrics):
        y = values[m.numerator.strip()]
        x = "1.0" if m.per_user else values[m.denominator.strip()]
        p = f"pre_{y}" if m.per_user else "0.0"
        sums = {"y": y, "yy": f"{y} * {y}", "x": x, "xx": f"{x} * {x}", "xy": f"{x} * {y}"}
        sums |= {"p": p, "pp": f"{p} * {p}", "yp": f"{y} * {p}"}
        exposed_n = ("x", "xx") if m.per_user else ()
        arm_cols += [f"sum({expr}) AS {name}{i}" for name, expr in sums.items() if name not in exposed_n]
        result_cols += ["a.n::DOUBLE" if name in exposed_n else f"coalesce(s.{name}{i}, 0)" for name in sums]
    joined = [",\n       ".join(cols) for cols in (conv_cols, user_cols, arm_cols, result_cols)]
    return joined[0], joined[1], joined[2], joined[3]


def aggregate_sql(metrics: list[Metric]) -> str:
    """One pass: the exposed users (one GROUP BY, which also finds users seen in two arms: by the 64-bit
    hashes of the arm names, half the cost of min/max over strings, and two distinct names collide with
    probability 2^-64), the metric values of their conversations (computing only the message counts the
    metrics use), a GROUP BY user over the users who had conversations, their sums per arm, and the number
    of exposed users per arm (users seen in two arms left out)."""
    conv_cols, user_cols, arm_cols, result_cols = _sum_columns(metrics)
    return f"""
WITH exposed AS (
    SELECT user_id, arg_min(arm, exposed_at) AS arm, min(hash(arm)) <> max(hash(arm)) AS multi,
           min(exposed_at) AS exposed_at
    FROM exposures WHERE experiment_id = $experiment AND exposed_at < $end AND exposed_at >= $start
    GROUP BY user_id
), convs AS (
    SELECT user_id, started_at,
       {conv_cols}
    FROM (SELECT c.*{_counts(metrics)} FROM conversations c
          WHERE c.user_id IS NOT NULL AND c.started_at >= $pre_start AND c.started_at < $end)
), per_user AS (
    SELECT c.user_id, c.arm,
       {user_cols}
    FROM (SELECT c.*, e.arm, c.started_at >= e.exposed_at AS post
          FROM convs c JOIN exposed e ON c.user_id = e.user_id AND NOT e.multi) c
    GROUP BY c.user_id, c.arm
), sums AS (
    SELECT arm,
       {arm_cols}
    FROM per_user GROUP BY arm
), arms AS (
    SELECT arm, count(*) AS n FROM exposed WHERE NOT multi GROUP BY arm
)
SELECT a.arm, a.n,
       {result_cols},
       (SELECT count(*) FROM exposed WHERE multi) AS multi
FROM arms a LEFT JOIN sums s ON s.arm = a.arm
ORDER BY a.arm
"""


def aggregate(con, experiment_id: str, metrics: list[Metric], win: Window) -> Aggregates:
    """Run the aggregation; a metric expression DuckDB rejects is a MetricError naming the metrics."""
    import duckdb

    params = {"experiment": experiment_id, "start": win.start, "end": win.end, "pre_start": win.pre_start}
    try:
        rows = con.execute(aggregate_sql(metrics), params).fetchall()
    except duckdb.Error as exc:
        names = ", ".join(m.name for m in metrics)
        raise MetricError(f"the metrics ({names}) could not be computed: {exc}") from None
    sums: dict[str, dict[str, ArmSums]] = {m.name: {} for m in metrics}
    exposed: dict[str, int] = {}
    has_pre = False
    multi = rows[0][-1] if rows else 0
    for row in rows:
        arm, n, values = row[0], int(row[1]), row[2:-1]
        exposed[arm] = n
        for i, m in enumerate(metrics):
            y, yy, x, xx, xy, p, pp, yp = (float(v or 0) for v in values[8 * i : 8 * i + 8])
            sums[m.name][arm] = ArmSums(n, y, yy, x, xx, xy, p, pp, yp)
            has_pre = has_pre or p > 0
    return Aggregates(win, exposed, int(multi), sums, has_pre)
