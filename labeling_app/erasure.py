"""The labeling app's share of an erasure (lakehouse/erasure.py; docs/erasure.md).

A task is the user's when its item shows one of their turn samples: the payload's conversation id, a
candidate's sample id or a part of the item key points at one of their conversations. Such tasks go from
the SQLite store with their assignments and labels (`Store.erase_tasks`), and from the Parquet snapshot
(`labels/tasks`, `labels/labels`, `labels/consensus`) in the erasure's commit, so the lake and the store
agree without waiting for the next `flywheel label snapshot`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from labeling_app.store import Store, store_path
from lakehouse import erasure, tables
from lakehouse.erasure import Eraser, Subject, TableRule
from lakehouse.lake import Lake

STORE = "labels.sqlite"


def _ids_point_at(subject: Subject, ids) -> bool:
    owned = erasure.owned(subject, "sample_id", pa.array([i for i in ids if i], pa.string()))
    return bool(pc.any(owned).as_py()) if len(owned) else False


def payload_is_subjects(subject: Subject, item_key: str, payload: dict) -> bool:
    meta = payload.get("meta") or {}
    if meta.get("conversation_id") in subject.conversation_ids:
        return True
    candidates = [c.get("sample_id") for c in payload.get("candidates") or []]
    return _ids_point_at(subject, candidates + (item_key or "").split("|"))


def _store_root(lake: Lake) -> Path | None:
    """The lake's directory when it has a label store; a lake on object storage never has one (the
    store needs a local lake: docs/scale.md)."""
    root = lake.root
    return root if isinstance(root, Path) and store_path(root).exists() else None


def _store_tasks(lake: Lake, subject: Subject) -> list[int]:
    root = _store_root(lake)
    if root is None:
        return []
    with Store.for_lake(root, read_only=True) as store:
        return store.find_tasks(lambda key, payload: payload_is_subjects(subject, key, payload))


def _snapshot_tasks(lake: Lake, subject: Subject) -> set[int]:
    if not lake.files(tables.LABEL_TASKS):
        return set()
    rows = lake.read(tables.LABEL_TASKS, columns=["task_id", "item_key", "conversation_id", "candidates"]).to_pylist()
    return {
        r["task_id"]
        for r in rows
        if payload_is_subjects(
            subject, r["item_key"], {"meta": {"conversation_id": r["conversation_id"]}, "candidates": r["candidates"]}
        )
    }


def _task_rule(table: str, task_ids: set[int], subject: Subject, extra: tuple[str, ...] = ()) -> TableRule:
    """Rows of the subject's tasks, or (consensus) rows whose sample id columns point at the user."""
    ids = pa.array(sorted(task_ids), pa.int64())
    by_columns = erasure.generic_delete(subject, extra)

    def delete(t: pa.Table) -> pa.Array:
        return pc.or_(pc.fill_null(pc.is_in(t["task_id"], value_set=ids), False), by_columns(t))

    return TableRule(table, delete, ("task_id", *extra))


class LabelingEraser(Eraser):
    name = "labeling_app"

    def __init__(self) -> None:
        self._tasks: list[int] | None = None

    def rules(self, lake: Lake, subject: Subject) -> list[TableRule]:
        self._tasks = _store_tasks(lake, subject)
        task_ids = set(self._tasks) | _snapshot_tasks(lake, subject)
        consensus_ids = tuple(erasure.id_columns(tables.LABEL_CONSENSUS.schema))
        return [
            _task_rule(tables.LABEL_TASKS.name, task_ids, subject),
            _task_rule(tables.LABELS.name, task_ids, subject),
            _task_rule(tables.LABEL_CONSENSUS.name, task_ids, subject, consensus_ids),
        ]

    def outside(self, lake: Lake, subject: Subject, *, apply: bool) -> dict[str, int]:
        root = _store_root(lake)
        if root is None:
            return {}
        found = {f"{STORE} queue sources redacted": self._redact_sources(root, subject, apply)}
        tasks = self._tasks if self._tasks is not None else _store_tasks(lake, subject)
        if tasks:
            found.update(self._tasks_outside(root, tasks, apply))
        return {k: v for k, v in found.items() if v}

    @staticmethod
    def _redact_sources(root: Path, subject: Subject, apply: bool) -> int:
        """Queue sources are SQL an operator wrote; one may name the user or a conversation of theirs."""
        pattern = subject.needle_pattern()
        if not apply:
            with Store.for_lake(root, read_only=True) as store:
                return sum(1 for q in store.queues() if pattern.search(q.source))
        with Store.for_lake(root) as store:
            return store.redact_queue_sources(lambda source: pattern.sub(erasure.ERASED_TEXT, source))

    @staticmethod
    def _tasks_outside(root: Path, tasks: list[int], apply: bool) -> dict[str, int]:
        if not apply:
            with Store.for_lake(root, read_only=True) as store:
                counts = {
                    table: sum(
                        store.con.execute(f"SELECT count(*) FROM {table} WHERE task_id = ?", (t,)).fetchone()[0]
                        for t in tasks
                    )
                    for table in ("labels", "assignments")
                }
            counts["tasks"] = len(tasks)
        else:
            with Store.for_lake(root) as store:
                counts = store.erase_tasks(tasks)
        found = {f"{STORE} {table}": counts[table] for table in ("tasks", "labels", "assignments")}
        if apply and not counts["wal_checkpointed"]:
            found[f"{STORE} WAL checkpoint pending (a reader held it open)"] = 1
        return found


def eraser() -> LabelingEraser:
    """The `flywheel.erasers` entry point."""
    return LabelingEraser()
