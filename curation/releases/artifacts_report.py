"""The style-artifact report of a release: every registry feature for the two sides of what the release
teaches (chosen vs rejected for preference pairs, desirable vs undesirable for unpaired rows).

A preference set whose chosen replies carry more emoji, lists or length than its rejected ones teaches a
reward model that style, and the policy then overdoes it (the CharacterFlywheel report's overfitting
guard). For each feature: the rate (bools) or the mean and distribution (numbers) on each side, the
change from the second group to the first, and a flag when it passes the recipe's threshold (the
registry's default otherwise). Values come from the style-feature table, not recomputed per row; the
change is computed as `lakehouse.style_artifacts.compare` does (tests hold the two to the same numbers).
"""

from __future__ import annotations

from curation.releases.rows import first_row
from lakehouse.style_artifacts import FEATURES, Shift

QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
SIDES = {"preference": ("chosen", "rejected"), "unpaired": ("desirable", "undesirable")}


def shifts(old: dict[str, float], new: dict[str, float], thresholds: dict[str, float]) -> list[Shift]:
    """`lakehouse.style_artifacts.compare` on precomputed summaries (rates of bools, means of numbers)."""
    out = []
    for name, feature in FEATURES.items():
        threshold = thresholds.get(name, feature.threshold)
        if feature.kind == "bool":
            change = new[name] - old[name]
        else:
            change = (new[name] - old[name]) / max(abs(old[name]), feature.floor)
        out.append(Shift(name, feature.kind, old[name], new[name], change, threshold, abs(change) > threshold))
    return out


def _summaries(con, side_sql: str) -> tuple[int, dict[str, float], dict[str, dict]]:
    """Rows, the summary per feature and the distribution of number features over `side_sql` rows."""
    aggregates = []
    for name, feature in FEATURES.items():
        aggregates.append(f"avg({name}::DOUBLE)")
        if feature.kind == "number":
            aggregates.append(f"quantile_cont({name}, {list(QUANTILES)})")
            aggregates.append(f"max({name})")
    row = first_row(con, f"SELECT count(*), {', '.join(aggregates)} FROM ({side_sql})")
    n, values = row[0], iter(row[1:])
    summary, distributions = {}, {}
    for name, feature in FEATURES.items():
        summary[name] = float(next(values) or 0.0)
        if feature.kind == "number":
            quantiles, maximum = next(values), next(values)
            distributions[name] = {
                **{
                    f"p{int(q * 100)}": round(float(v), 4)
                    for q, v in (zip(QUANTILES, quantiles, strict=True) if quantiles else ())
                },
                "mean": round(summary[name], 4),
                "max": float(maximum or 0.0),
            }
    return n, summary, distributions


def report(con, trl_type: str, side_sql: dict[str, str], thresholds: dict[str, float]) -> dict:
    """The manifest's `artifacts` section. `side_sql` maps each side's name to SQL yielding its feature rows."""
    first, second = SIDES[trl_type]
    n_first, first_summary, first_dist = _summaries(con, side_sql[first])
    n_second, second_summary, second_dist = _summaries(con, side_sql[second])
    features = []
    for shift in shifts(second_summary, first_summary, thresholds):
        entry = {
            "feature": shift.feature,
            "kind": shift.kind,
            first: round(shift.new, 6),
            second: round(shift.old, 6),
            "change": round(shift.change, 6),
            "threshold": shift.threshold,
            "flagged": shift.flagged,
            "description": FEATURES[shift.feature].description,
        }
        if shift.kind == "number":
            entry["distribution"] = {first: first_dist[shift.feature], second: second_dist[shift.feature]}
        features.append(entry)
    return {
        "compared": [first, second],
        "rows": {first: n_first, second: n_second},
        "change": f"{first} minus {second} (relative to {second} for numbers)",
        "features": features,
        "flagged": [f["feature"] for f in features if f["flagged"]],
    }


def describe(section: dict) -> list[str]:
    """Printable lines (what `flywheel releases show` prints)."""
    first, second = section["compared"]
    lines = [
        f"style artifacts: {first} ({section['rows'][first]:,}) vs {second} ({section['rows'][second]:,}); "
        f"flagged: {', '.join(section['flagged']) or 'none'}"
    ]
    for f in section["features"]:
        unit = "" if f["kind"] == "bool" else " (relative)"
        mark = "FLAG " if f["flagged"] else "     "
        line = (
            f"  {mark}{f['feature']:<20} {f[first]:>9.3f} vs {f[second]:>9.3f}  change {f['change']:+.3f}{unit}"
            f"  threshold {f['threshold']:.2f}"
        )
        if "distribution" in f:
            d1, d2 = f["distribution"][first], f["distribution"][second]
            line += f"  p50 {d1.get('p50', 0):g}/{d2.get('p50', 0):g}  p90 {d1.get('p90', 0):g}/{d2.get('p90', 0):g}"
        lines.append(line)
    return lines
