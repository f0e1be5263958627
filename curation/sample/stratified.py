"""Stratified sampling: weights raked to the target shares, then a seeded weighted draw under caps.

1. Raking (iterative proportional fitting) gives every row a weight such that the weighted shares of
   every stratum column match its targets at once (source, character, topic, depth bucket, ...).
2. Each row draws an exponential clock -ln(u) / weight with u from a hash of (seed, key): sorting by
   the clock is weighted sampling without replacement (Efraimidis-Spirakis), and a row's clock does
   not change when other rows come or go.
3. In clock order a row is taken while its topic and character are under their caps and none of its
   strata values has filled its quota (target share x target size); a second pass fills what the
   quotas left open, caps still holding.
The report compares the achieved share of every stratum value with its target.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyarrow as pa

from curation.pipeline.details import StratifiedDetails
from curation.sample.config import OTHERS, SampleConfig, Stratum
from curation.texthash import text_digest
from lakehouse.runs import StageStats

OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("selected", pa.bool_(), nullable=False),
        pa.field("weight", pa.float64(), nullable=False),
        pa.field("draw_rank", pa.int64(), nullable=False),
        pa.field("strata", pa.string(), nullable=False),
    ]
)
_MISSING = "(none)"


def depth_bucket(depth: int | None, bounds: list[int]) -> str:
    """ "0", "1", "2-3", "4-7", "8+" for bounds [1, 2, 4, 8]."""
    if depth is None:
        return _MISSING
    edges = [0, *sorted(bounds)]
    for low, high in itertools.pairwise(edges):
        if depth < high:
            return str(low) if high - low == 1 else f"{low}-{high - 1}"
    return f"{edges[-1]}+"


def _values(table: pa.Table, config: SampleConfig, column: str) -> np.ndarray:
    if column == "depth_bucket" and column not in table.column_names:
        depths = table[config.depth_column].to_pylist()
        return np.array([depth_bucket(d, config.depth_buckets) for d in depths], dtype=object)
    return np.array([_MISSING if v is None else str(v) for v in table[column].to_pylist()], dtype=object)


def target_shares(values: np.ndarray, stratum: Stratum) -> dict[str, float]:
    """Target share of every value present (and of preset values absent from the data)."""
    present, counts = np.unique(values, return_counts=True)
    traffic = dict(zip(present.tolist(), (counts / counts.sum()).tolist(), strict=True))
    if stratum.shares == "traffic":
        return traffic
    preset = {k: v for k, v in stratum.shares.items() if k != OTHERS}
    others = [v for v in traffic if v not in preset]
    shares = dict(preset)
    rest = stratum.shares.get(OTHERS, 0.0)
    others_traffic = sum(traffic[v] for v in others)
    for value in others:
        shares[value] = rest * traffic[value] / others_traffic if others_traffic else 0.0
    total = sum(shares.values())
    return {k: v / total for k, v in shares.items()}


def rake(columns: list[np.ndarray], targets: list[dict[str, float]], iterations: int = 100) -> np.ndarray:
    """Row weights whose weighted shares match every column's targets (as far as they are compatible)."""
    weights = np.ones(len(columns[0]) if columns else 0)
    indexed = []
    for values, target in zip(columns, targets, strict=True):
        names, inverse = np.unique(values, return_inverse=True)
        indexed.append((inverse, np.array([target.get(n, 0.0) for n in names.tolist()])))
    for _ in range(iterations):
        worst = 0.0
        for inverse, wanted in indexed:
            current = np.bincount(inverse, weights=weights, minlength=len(wanted))
            total = current.sum()
            if total == 0:
                return weights
            share = current / total
            factor = np.divide(wanted, share, out=np.zeros_like(wanted), where=share > 0)
            weights = weights * factor[inverse]
            worst = max(worst, float(np.abs(share - wanted)[share > 0].max(initial=0.0)))
        if worst < 1e-6:
            break
    return weights


def clocks(keys: list[str], weights: np.ndarray, seed: int) -> np.ndarray:
    """Exponential clocks -ln(u) / weight, u from the hash of (seed, key); zero weight never draws."""
    u = np.array([(int.from_bytes(text_digest(f"{seed}:{k}")[:8], "big") + 0.5) / 2**64 for k in keys])
    with np.errstate(divide="ignore"):
        return np.where(weights > 0, -np.log(u) / np.where(weights > 0, weights, 1), np.inf)


def stratified_sample(
    table: pa.Table, config: SampleConfig, *, key: str = "key", name: str = "sample"
) -> tuple[pa.Table, pa.Table, StageStats]:
    """(the sample attribute table, the achieved-vs-target report, stats)."""
    keys = table[key].to_pylist()
    columns = [_values(table, config, s.column) for s in config.strata]
    targets = [target_shares(values, s) for values, s in zip(columns, config.strata, strict=True)]
    weights = rake(columns, targets)
    clock = clocks(keys, weights, config.seed)
    order = np.array(
        sorted(np.flatnonzero(np.isfinite(clock)).tolist(), key=lambda i: (clock[i], keys[i])), dtype=np.int64
    )
    selected = _draw(table, config, order, columns, targets)
    rank = np.empty(len(keys), dtype=np.int64)
    rank[order] = np.arange(len(order))
    drawn = np.zeros(len(keys), dtype=bool)
    drawn[order] = True
    rank[~drawn] = -1
    strata = [
        "|".join(f"{s.column}={v}" for s, v in zip(config.strata, values, strict=True))
        for values in zip(*columns, strict=True)
    ]
    result = pa.table(
        {
            "key": pa.array(keys, pa.string()),
            "selected": pa.array(selected),
            "weight": pa.array(weights),
            "draw_rank": pa.array(rank),
            "strata": pa.array(strata if columns else [""] * len(keys), pa.string()),
        },
        schema=OUTPUT_SCHEMA,
    )
    stats = StageStats(name, rows_in=len(keys), rows_out=int(selected.sum()))
    stats.drop("not_sampled", len(keys) - int(selected.sum()))
    details: StratifiedDetails = {"target": config.target, "strata": [s.column for s in config.strata]}
    stats.details = dict(details)
    return result, share_report(config, columns, targets, selected), stats


def _draw(
    table: pa.Table, config: SampleConfig, order: np.ndarray, columns: list[np.ndarray], targets: list[dict[str, float]]
) -> np.ndarray:
    caps = []
    if config.max_per_cluster is not None:
        caps.append((_values(table, config, config.cluster_column), config.max_per_cluster))
    if config.max_per_character is not None:
        caps.append((_values(table, config, config.character_column), config.max_per_character))
    quotas = [{v: math.ceil(share * config.target) for v, share in target.items()} for target in targets]
    taken_caps: list[dict] = [{} for _ in caps]
    taken_quota: list[dict] = [{} for _ in quotas]
    selected = np.zeros(len(table), dtype=bool)
    count = 0
    for respect_quotas in (True, False):
        for row in order.tolist():
            if count >= config.target:
                return selected
            if selected[row] or any(
                taken.get(values[row], 0) >= cap for (values, cap), taken in zip(caps, taken_caps, strict=True)
            ):
                continue
            if respect_quotas and any(
                taken.get(values[row], 0) >= quota.get(values[row], 0)
                for values, quota, taken in zip(columns, quotas, taken_quota, strict=True)
            ):
                continue
            selected[row] = True
            count += 1
            for (values, _), taken in zip(caps, taken_caps, strict=True):
                taken[values[row]] = taken.get(values[row], 0) + 1
            for values, taken in zip(columns, taken_quota, strict=True):
                taken[values[row]] = taken.get(values[row], 0) + 1
    return selected


def share_report(
    config: SampleConfig, columns: list[np.ndarray], targets: list[dict[str, float]], selected: np.ndarray
) -> pa.Table:
    """One row per stratum value: rows available, target share, achieved rows and share."""
    records = []
    total = max(int(selected.sum()), 1)
    for stratum, values, target in zip(config.strata, columns, targets, strict=True):
        present, available = np.unique(values, return_counts=True)
        counts = dict(zip(present.tolist(), available.tolist(), strict=True))
        chosen = dict(zip(*np.unique(values[selected], return_counts=True), strict=True)) if selected.any() else {}
        for value in sorted(set(counts) | set(target)):
            records.append(
                {
                    "stratum": stratum.column,
                    "value": value,
                    "available": counts.get(value, 0),
                    "target_share": target.get(value, 0.0),
                    "selected": int(chosen.get(value, 0)),
                    "achieved_share": int(chosen.get(value, 0)) / total,
                }
            )
    return pa.Table.from_pylist(
        records,
        schema=pa.schema(
            [
                ("stratum", pa.string()),
                ("value", pa.string()),
                ("available", pa.int64()),
                ("target_share", pa.float64()),
                ("selected", pa.int64()),
                ("achieved_share", pa.float64()),
            ]
        ),
    )


def format_report(report: pa.Table, limit_per_stratum: int = 12) -> str:
    """The achieved-vs-target table a run prints (the largest values of each stratum)."""
    lines = [f"{'stratum':<14} {'value':<24} {'target':>8} {'achieved':>9} {'selected':>9} {'available':>10}"]
    for stratum in dict.fromkeys(report["stratum"].to_pylist()):
        rows = [r for r in report.to_pylist() if r["stratum"] == stratum]
        rows.sort(key=lambda r: (-r["target_share"], r["value"]))
        for r in rows[:limit_per_stratum]:
            lines.append(
                f"{stratum:<14} {r['value'][:24]:<24} {r['target_share']:>8.1%} {r['achieved_share']:>9.1%} "
                f"{r['selected']:>9,} {r['available']:>10,}"
            )
        if len(rows) > limit_per_stratum:
            lines.append(f"{stratum:<14} ... {len(rows) - limit_per_stratum} more values")
    return "\n".join(lines)
