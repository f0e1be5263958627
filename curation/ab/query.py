"""The aggregation of an A/B report in DuckDB: exposures x conversations -> per-arm sufficient statistics.

One query over the catalog (read-only): exposed users of the experiment (their first exposure; a user
seen in two arms is excluded and counted), each user's conversations in the window after exposure (the
metrics) and in the pre-exposure period (the CUPED covariate), summed per user and then per arm. Only a
handful of numbers per arm and metric leave DuckDB, so 10 million users cost no Python memory.
"""

from __future__ import annotations

import datetime as dt
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


def _sum_columns(metrics: list[Metric]) -> tuple[str, str]:
    """(per-user columns, per-arm sums) SQL for every metric: y, x and the pre-period p of each."""
    user_cols, arm_cols = [], []
    for i, m in enumerate(metrics):
        x = "1.0" if m.per_user else f"coalesce(sum(({m.denominator})::DOUBLE) FILTER (WHERE post), 0)"
        user_cols += [
            f"coalesce(sum(({m.numerator})::DOUBLE) FILTER (WHERE post), 0) AS y{i}",
            f"{x} AS x{i}",
            f"coalesce(sum(({m.numerator})::DOUBLE) FILTER (WHERE pre), 0) AS p{i}",
        ]
        arm_cols += [
            f"sum(y{i}) AS y{i}",
            f"sum(y{i} * y{i}) AS yy{i}",
            f"sum(x{i}) AS x{i}",
            f"sum(x{i} * x{i}) AS xx{i}",
            f"sum(x{i} * y{i}) AS xy{i}",
            f"sum(p{i}) AS p{i}",
            f"sum(p{i} * p{i}) AS pp{i}",
            f"sum(y{i} * p{i}) AS yp{i}",
        ]
    return ",\n       ".join(user_cols), ",\n       ".join(arm_cols)


def aggregate_sql(metrics: list[Metric]) -> str:
    user_cols, arm_cols = _sum_columns(metrics)
    counts = ", ".join(f"{expr} AS {name}" for name, expr in CONVERSATION_COLUMNS.items())
    return f"""
WITH exposed AS (
    SELECT user_id, min(arm) AS arm, count(DISTINCT arm) AS arms, min(exposed_at) AS exposed_at
    FROM exposures WHERE experiment_id = $experiment AND exposed_at < $end AND exposed_at >= $start
    GROUP BY user_id
), convs AS (
    SELECT c.*, {counts}
    FROM conversations c
    WHERE c.user_id IS NOT NULL AND c.started_at >= $pre_start AND c.started_at < $end
), joined AS (
    SELECT e.user_id, e.arm, c.* EXCLUDE (user_id),
           c.started_at >= e.exposed_at AS post,
           c.started_at < e.exposed_at AS pre
    FROM (SELECT * FROM exposed WHERE arms = 1) e
    LEFT JOIN convs c ON c.user_id = e.user_id
), per_user AS (
    SELECT user_id, any_value(arm) AS arm,
       {user_cols}
    FROM joined GROUP BY user_id
)
SELECT arm, count(*) AS n,
       {arm_cols}
FROM per_user GROUP BY arm ORDER BY arm
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
    multi = con.execute(
        "SELECT count(*) FROM (SELECT user_id FROM exposures WHERE experiment_id = $experiment "
        "AND exposed_at < $end AND exposed_at >= $start GROUP BY user_id HAVING count(DISTINCT arm) > 1)",
        {k: params[k] for k in ("experiment", "start", "end")},
    ).fetchone()[0]
    sums: dict[str, dict[str, ArmSums]] = {m.name: {} for m in metrics}
    exposed: dict[str, int] = {}
    has_pre = False
    for row in rows:
        arm, n, values = row[0], int(row[1]), row[2:]
        exposed[arm] = n
        for i, m in enumerate(metrics):
            y, yy, x, xx, xy, p, pp, yp = (float(v or 0) for v in values[8 * i : 8 * i + 8])
            sums[m.name][arm] = ArmSums(n, y, yy, x, xx, xy, p, pp, yp)
            has_pre = has_pre or p > 0
    return Aggregates(win, exposed, int(multi), sums, has_pre)
