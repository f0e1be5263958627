"""Combining named sources: overlap between sources, per-stratum caps, caps and ratios.

The CharacterFlywheel report mixes rejection-sampled user traffic, internal chats, safety data and
targeted patches in chosen proportions. Here every source is a named stream of candidates and the
mixture is decided last, after every quality drop (representatives, pair filters, evaluation leaks), so
the proportions hold in what is actually published:

- a row offered by two sources belongs to the first one in recipe order (the other counts `overlap`);
- `per_stratum` (prompt sources) keeps at most that many rows per stratum (`over_stratum_cap`);
- `cap` keeps at most that many rows of the source (`over_cap`);
- sources with a `ratio` are mixed in those proportions: with `total`, each gets round(total * share);
  without it, the largest mixture whose proportions every source can fill (`over_ratio` for the rest).
  A source that cannot fill its share with `total` set gives what it has; the manifest shows the gap.

Which rows a cap keeps is a seeded hash order (md5 of seed, source and sample id), so the same recipe
keeps the same rows and a new seed draws another sample.
"""

from __future__ import annotations

from curation.releases.config import ReleaseEntry
from curation.releases.rows import mark, quote


def order_key(seed: int) -> str:
    return f"md5({quote(str(seed) + ':')} || origin || ':' || sample_id)"


def resolve_overlap(con) -> int:
    return mark(
        con,
        "overlap",
        """rowid IN (
        SELECT rowid FROM (SELECT rowid, row_number() OVER (PARTITION BY sample_id ORDER BY origin_rank) AS n
                           FROM cand WHERE drop_reason IS NULL) WHERE n > 1)""",
    )


def live_counts(con) -> dict[str, int]:
    return dict(con.execute("SELECT origin, count(*) FROM cand WHERE drop_reason IS NULL GROUP BY 1").fetchall())


def _keep_first(con, reason: str, origin: str, limit: int, seed: int, partition: str = "") -> int:
    by = f"PARTITION BY {partition} " if partition else ""
    return mark(
        con,
        reason,
        f"""rowid IN (
        SELECT rowid FROM (SELECT rowid, row_number() OVER ({by}ORDER BY {order_key(seed)}) AS n
                           FROM cand WHERE drop_reason IS NULL AND origin = {quote(origin)}) WHERE n > {int(limit)})""",
    )


def ratio_targets(available: dict[str, int], ratios: dict[str, float], total: int | None) -> dict[str, int]:
    """Rows to take from each ratio source (see the module docstring)."""
    weight = sum(ratios.values())
    shares = {name: ratio / weight for name, ratio in ratios.items()}
    if total is not None:
        return {name: min(available[name], round(total * share)) for name, share in shares.items()}
    size = min(available[name] / share for name, share in shares.items())
    return {name: min(available[name], int(size * share + 1e-9)) for name, share in shares.items()}


def apply(con, entry: ReleaseEntry, candidates: dict[str, int]) -> list[dict]:
    """Apply stratum caps, caps and ratios to the live candidates; returns the manifest's mixture table."""
    available = live_counts(con)
    for source in entry.source_list:
        per_stratum = getattr(source, "per_stratum", None)
        if per_stratum:
            _keep_first(con, "over_stratum_cap", source.name, per_stratum, entry.seed, partition="stratum")
        if source.cap:
            _keep_first(con, "over_cap", source.name, source.cap, entry.seed)
    capped = live_counts(con)
    ratios = {s.name: s.ratio for s in entry.source_list if s.ratio}
    targets = ratio_targets({n: capped.get(n, 0) for n in ratios}, ratios, entry.total) if ratios else {}
    for name, target in targets.items():
        _keep_first(con, "over_ratio", name, target, entry.seed)
    taken = live_counts(con)
    return [
        {
            "source": s.name,
            "kind": s.kind,
            "cap": s.cap,
            "ratio": s.ratio,
            "per_stratum": getattr(s, "per_stratum", None),
            "candidates": candidates.get(s.name, 0),
            "available": available.get(s.name, 0),
            "target": targets.get(s.name),
            "taken": taken.get(s.name, 0),
        }
        for s in entry.source_list
    ]
