"""Demo content for `make curate`: one small queue of each kind from the lake, and demo tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from labeling_app import annotators, sources
from labeling_app.queues import create_queue
from labeling_app.store import Store

DEMO_ITEMS = 25
DEMO_PER_ITEM = 2

SINGLE_SQL = """
SELECT * FROM samples
WHERE response IS NOT NULL AND length(trim(response)) > 0 AND character_name IS NOT NULL
ORDER BY {order} sample_id
LIMIT {limit}
"""
# Rewrites are for weak replies: thumbs down, regenerated or not continued first.
WEAK_FIRST = "coalesce(thumb, 0) = -1 DESC, coalesce(regenerated, false) DESC, coalesce(continued, true) ASC,"


@dataclass
class DemoResult:
    lines: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)


def _pairwise_source(lake_root: Path) -> str | None:
    """The first pairwise preset that gives items on this lake."""
    for preset in ("regenerations", "preference-pairs"):
        try:
            if sources.load_items(lake_root, "pairwise", preset).items:
                return preset
        except sources.SourceError:
            continue
    return None


def create_demo(lake_root: Path, annotators_file: Path | None = None) -> DemoResult:
    """Create the demo queues (kept if they exist) and issue fresh demo annotator and reviewer tokens."""
    result = DemoResult()
    with Store.for_lake(lake_root) as store:
        existing = {q.name for q in store.queues()}
    plan = {
        "demo-pairwise": ("pairwise", _pairwise_source(lake_root)),
        "demo-questionnaire": ("questionnaire", SINGLE_SQL.format(order="", limit=DEMO_ITEMS)),
        "demo-rewrite": ("rewrite", SINGLE_SQL.format(order=WEAK_FIRST, limit=DEMO_ITEMS)),
        "demo-rating": ("rating", SINGLE_SQL.format(order="md5(sample_id),", limit=DEMO_ITEMS)),
    }
    for name, (kind, source) in plan.items():
        if name in existing:
            result.lines.append(f"queue {name!r} already exists; kept as it is")
            continue
        if source is None:
            result.lines.append(f"queue {name!r} not created: the lake has no regenerations or preference pairs")
            continue
        try:
            created = create_queue(
                lake_root,
                kind=kind,
                source=source,
                per_item=DEMO_PER_ITEM,
                name=name,
                created_by="demo",
                limit=DEMO_ITEMS,
            )
        except sources.SourceError as exc:
            result.lines.append(f"queue {name!r} not created: {exc}")
            continue
        result.lines.append(created.summary())
    path = annotators_file or annotators.default_path(lake_root)
    for name, role in (("demo-annotator", "annotator"), ("demo-reviewer", "reviewer")):
        _, token = annotators.add(path, name, role, replace=True)
        result.tokens[name] = token
    return result
