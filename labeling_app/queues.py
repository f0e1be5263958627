"""Creating queues: a source (SQL, preset or release) turned into tasks of one kind in the label store."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path

from labeling_app import sources
from labeling_app.config import LabelingConfig, load_config, queue_spec
from labeling_app.store import Queue, Store, StoreError


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
    config = config or load_config()
    spec = queue_spec(config, kind)
    found = sources.load_items(lake_root, kind, source)
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
