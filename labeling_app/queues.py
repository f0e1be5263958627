"""Creating queues: a source (SQL, preset or release) turned into tasks of one kind in the label store."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from labeling_app import sources
from labeling_app.config import LabelingConfig, load_config, queue_spec
from labeling_app.store import Queue, Store, StoreError

GOLD_COLUMN = "gold"


@dataclass
class QueueCreated:
    queue: Queue
    added: int
    already_present: int
    source: sources.SourceItems

    def summary(self) -> str:
        present = f", {self.already_present:,} already in the queue" if self.already_present else ""
        return (
            f"queue {self.queue.name!r} ({self.queue.kind}, {self.queue.per_item} labels per item): "
            f"{self.added:,} tasks added{present}; {self.source.summary()}"
        )


def default_name(kind: str, source: str) -> str:
    digest = hashlib.sha256(source.encode()).hexdigest()[:6]
    return f"{kind}-{dt.date.today().isoformat()}-{digest}"


def create_queue(
    lake_root: Path,
    *,
    kind: str,
    source: str,
    per_item: int,
    name: str | None = None,
    config: LabelingConfig | None = None,
    created_by: str = "cli",
    append: bool = False,
    limit: int | None = None,
) -> QueueCreated:
    """Build tasks from `source` and put them in a new queue (or, with `append`, an existing one).

    The source is read before anything is written, so a bad query or release leaves the store as it was.
    """
    if kind == "interactive":
        raise StoreError("interactive queues take cards and a model pool: `flywheel label queue interactive`")
    config = config or load_config()
    spec = queue_spec(config, kind)
    found = sources.load_items(lake_root, kind, source)
    for _, payload in found.items:
        payload.pop(GOLD_COLUMN, None)  # a `gold` column only means something to add_gold
    if limit is not None:
        found.items = found.items[:limit]
    if not found.items:
        raise sources.SourceError(f"the source gave no {kind} items ({found.summary()})")
    name = name or default_name(kind, source)
    with Store.for_lake(lake_root) as store:
        existing = {q.name: q for q in store.queues()}.get(name)
        if existing is not None:
            if not append:
                raise StoreError(f"a queue named {name!r} already exists (use --append to add items to it)")
            if existing.kind != kind:
                raise StoreError(f"queue {name!r} holds {existing.kind} tasks, not {kind}")
            queue = existing
        else:
            queue = store.create_queue(name, kind, per_item, source, spec, created_by)
        added, present = store.add_tasks(queue.queue_id, found.items)
        queue = store.queue(queue.queue_id)
    return QueueCreated(queue, added, present, found)


def gold_answer(kind: str, payload: dict, row_gold: str | None) -> dict:
    """A gold item's known answer as {question: answer}: the source's `gold` column (pairwise: a, b or
    tie for the candidates as the source gives them; rating: the score; rewrite: edited/unchanged), or,
    for pairs that arrived as pairs (hh-rlhf), the candidate whose origin is `chosen`."""
    from labeling_app.consensus import REWRITE_DOMAIN

    if kind == "questionnaire":
        raise sources.SourceError("gold items are for pairwise, rating and rewrite queues")
    text = None if row_gold is None else str(row_gold).strip().lower()
    if kind == "pairwise":
        if text is None:
            origins = [c.get("origin") for c in payload["candidates"]]
            if origins.count("chosen") != 1:
                raise sources.SourceError("a gold pair needs a `gold` column (a, b or tie) or one `chosen` candidate")
            return {"preference": str(origins.index("chosen"))}
        answers = {"a": "0", "b": "1", "tie": "tie"}
        if text not in answers:
            raise sources.SourceError(f"gold answer {row_gold!r} for a pair: use a, b or tie")
        return {"preference": answers[text]}
    if text is None:
        raise sources.SourceError(f"gold {kind} items need a `gold` column")
    if kind == "rating":
        if not text.lstrip("-").isdigit():
            raise sources.SourceError(f"gold answer {row_gold!r} for a rating: use a whole score")
        return {"engagingness": int(text)}
    if text not in REWRITE_DOMAIN:
        raise sources.SourceError(f"gold answer {row_gold!r} for a rewrite: use edited or unchanged")
    return {"rewrite": text}


def add_gold(lake_root: Path, queue_name: str, source: str, *, limit: int | None = None) -> tuple[int, int]:
    """Gold items for a queue from any source of its kind; returns (added, already_present)."""
    with Store.for_lake(lake_root) as store:
        queue = store.queue(queue_name)
    found = sources.load_items(lake_root, queue.kind, source)
    items = found.items[:limit] if limit is not None else found.items
    if not items:
        raise sources.SourceError(f"the source gave no {queue.kind} items ({found.summary()})")
    gold = []
    for key, payload in items:
        row_gold = payload.pop(GOLD_COLUMN, None)
        gold.append((key, payload, gold_answer(queue.kind, payload, row_gold)))
    with Store.for_lake(lake_root) as store:
        return store.add_gold(queue.queue_id, gold)
