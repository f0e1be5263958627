"""Snapshot the label store into the lake: `labels/tasks`, `labels/labels` and `labels/consensus`.

The SQLite store stays the source of truth; the snapshot is a read-only copy for DuckDB (the catalog's
`labels`, `labels_tasks` and `labels_consensus` views) and for release builders, which consume the
consensus table. All three tables are replaced in one lake transaction, so readers see either the old
snapshot or the new one, never a mix. The same store gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

from labeling_app.consensus import ItemConsensus, QueueAnalysis, analyze
from labeling_app.store import Queue, Store, Task, local_lake, store_path
from lakehouse import catalog, tables
from lakehouse.lake import Lake


@dataclass
class SnapshotResult:
    tasks: int
    labels: int
    consensus: int
    kept: int
    files: list[str]

    def summary(self) -> str:
        return (
            f"label snapshot: {self.tasks:,} tasks, {self.labels:,} labels, {self.consensus:,} consensus rows "
            f"({self.kept:,} kept)"
        )


def _ts(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


def _prompt(payload: dict) -> list[dict]:
    return [{"role": m["role"], "content": m["content"]} for m in payload["prompt"]]


def task_row(queue: Queue, task: Task, created_at: float) -> dict:
    payload = task.payload
    meta = payload.get("meta") or {}
    character = payload.get("character") or {}
    return {
        "task_id": task.task_id,
        "queue_id": queue.queue_id,
        "queue": queue.name,
        "kind": queue.kind,
        "item_key": task.item_key,
        "per_item": task.per_item,
        "n_labels": task.n_labels,
        "n_skips": task.n_skips,
        "created_at": _ts(created_at),
        "character_id": character.get("id"),
        "character_name": character.get("name"),
        "conversation_id": meta.get("conversation_id"),
        "turn": meta.get("turn"),
        "source": meta.get("source"),
        "prompt": _prompt(payload),
        "candidates": [
            {k: c.get(k) for k in ("sample_id", "text", "model_version", "origin")} for c in payload["candidates"]
        ],
    }


def label_row(queue: Queue, item_key: str, label: dict) -> dict:
    value = label["value"]
    sides = label["side_mapping"] or {}
    answers = value.get("answers")
    return {
        "label_id": label["label_id"],
        "task_id": label["task_id"],
        "queue_id": queue.queue_id,
        "queue": queue.name,
        "kind": queue.kind,
        "item_key": item_key,
        "annotator": label["annotator"],
        "role": label["role"],
        "adjudication": label["is_adjudication"],
        "created_at": _ts(label["created_at"]),
        "seconds": label["seconds"],
        "guideline_version": label["guideline_version"],
        "question_set_version": queue.spec.get("question_set_version"),
        "side_a": sides.get("A"),
        "side_b": sides.get("B"),
        "choice": value.get("choice"),
        "preferred": value.get("preferred"),
        "tie": value.get("tie"),
        "strength": value.get("strength"),
        "answers": [{"question": q, "answer": a} for q, a in answers.items()] if answers else None,
        "score": value.get("score"),
        "rewrite": value.get("text"),
        "rewrite_changed": value.get("changed"),
        "diff": value.get("diff"),
        "note": value.get("reason") or value.get("note"),
        "value": json.dumps(value, ensure_ascii=False, sort_keys=True),
    }


def consensus_rows(analysis: QueueAnalysis, tasks: dict[int, Task], labels: list[dict]) -> list[dict]:
    """One row per item and question; rewrite items give one row per rewrite (rewrite > original)."""
    queue = analysis.queue
    rewrites: dict[int, list[tuple[str, str, str]]] = {}
    for label in labels:
        if queue.kind == "rewrite" and label["value"]["changed"]:
            entry = rewrites.setdefault(label["task_id"], [])
            if label["is_adjudication"]:
                entry[:] = [("adjudicated", label["annotator"], label["value"]["text"])]
            elif not (entry and entry[0][0] == "adjudicated"):
                entry.append(("label", label["annotator"], label["value"]["text"]))
    rows = []
    for item in analysis.items:
        task = tasks[item.task_id]
        base = _consensus_base(queue, analysis, item, task)
        if queue.kind == "rewrite" and item.answer == "edited":
            original = task.payload["candidates"][0]
            for _, annotator, text in rewrites.get(item.task_id, []):
                rows.append(
                    {
                        **base,
                        "chosen": text,
                        "rejected": original["text"],
                        "rejected_sample_id": original.get("sample_id"),
                        "rewriter": annotator,
                    }
                )
            continue
        rows.append(base)
    return rows


def _consensus_base(queue: Queue, analysis: QueueAnalysis, item: ItemConsensus, task: Task) -> dict:
    payload = task.payload
    candidates = payload["candidates"]
    row = {
        "queue_id": queue.queue_id,
        "queue": queue.name,
        "kind": queue.kind,
        "task_id": item.task_id,
        "item_key": task.item_key,
        "question": item.question,
        "answer": item.answer,
        "score": item.score,
        "n_annotators": item.n_annotators,
        "n_agreeing": item.n_agreeing,
        "agreement": item.agreement,
        "queue_alpha": analysis.alpha.get(item.question),
        "adjudicated": item.adjudicated,
        "kept": item.kept,
        "tie": None,
        "strength": item.strength,
        "prompt": _prompt(payload),
        "sample_id": None,
        "response": None,
        "chosen": None,
        "rejected": None,
        "chosen_sample_id": None,
        "rejected_sample_id": None,
        "rewriter": None,
        "character_id": (payload.get("character") or {}).get("id"),
        "guideline_version": queue.spec["guideline_version"],
        "question_set_version": queue.spec.get("question_set_version"),
    }
    if queue.kind == "pairwise":
        row["tie"] = item.answer == "tie" if item.answer is not None else None
        if item.answer in ("0", "1"):
            winner, loser = candidates[int(item.answer)], candidates[1 - int(item.answer)]
            row.update(
                chosen=winner["text"],
                rejected=loser["text"],
                chosen_sample_id=winner.get("sample_id"),
                rejected_sample_id=loser.get("sample_id"),
            )
    else:
        row.update(sample_id=candidates[0].get("sample_id"), response=candidates[0]["text"])
    return row


def _turn_base(queue: Queue, task: Task, turn: dict) -> dict:
    """The columns every row of one judged turn shares: one annotator's judgment, kept as given."""
    return {
        "queue_id": queue.queue_id,
        "queue": queue.name,
        "kind": queue.kind,
        "task_id": task.task_id,
        "n_annotators": 1,
        "n_agreeing": 1,
        "agreement": 1.0,
        "queue_alpha": None,
        "adjudicated": False,
        "kept": True,
        "tie": None,
        "strength": None,
        "score": None,
        "prompt": [{"role": m["role"], "content": m["content"]} for m in turn["context"]],
        "sample_id": None,
        "response": None,
        "chosen": None,
        "rejected": None,
        "chosen_sample_id": None,
        "rejected_sample_id": None,
        "rewriter": None,
        "character_id": (task.payload.get("character") or {}).get("id"),
        "guideline_version": turn["guideline_version"],
        "question_set_version": queue.spec.get("question_set_version"),
    }


def turn_rows(queue: Queue, task: Task, turn: dict) -> list[dict]:
    """Rows of one judged turn of a chat: the preference (`preference`: the winner's index or tie), the
    rewrite when the annotator wrote one (`rewrite`), and per candidate the steerability flag
    (`violates_instruction`) and the always-asked questions. `item_key` names the turn (and the candidate)."""
    label, candidates = turn["label"], turn["candidates"]
    key = f"{task.item_key}/{turn['annotator']}/{turn['turn']}"
    ids = [f"interactive:{turn['turn_id']}:{i}" for i in range(len(candidates))]
    base = _turn_base(queue, task, turn)
    preference = {**base, "item_key": key, "question": "preference", "tie": label["tie"], "strength": label["strength"]}
    preference["answer"] = "tie" if label["tie"] else str(label["preferred"])
    if not label["tie"]:
        winner = label["preferred"]
        preference.update(
            chosen=candidates[winner]["text"],
            rejected=candidates[1 - winner]["text"],
            chosen_sample_id=ids[winner],
            rejected_sample_id=ids[1 - winner],
        )
    rows = [preference]
    if label["rewrite"]:
        rows.append(
            {
                **base,
                "item_key": f"{key}/rewrite",
                "question": "rewrite",
                "answer": "edited",
                "chosen": label["rewrite"],
                "response": label["rewrite"],
                "rejected_sample_id": ids[0],  # the turn's anchor (its dedup group in a release)
                "rewriter": turn["annotator"],
            }
        )
    flagged = {f["candidate"] for f in label["flags"]}
    for index, candidate in enumerate(candidates):
        answers = {"violates_instruction": "yes" if index in flagged else "no", **label["answers"][str(index)]}
        for question, answer in answers.items():
            rows.append(
                {
                    **base,
                    "item_key": f"{key}/{index}",
                    "question": question,
                    "answer": answer,
                    "sample_id": ids[index],
                    "response": candidate["text"],
                }
            )
    return rows


def build_tables(store: Store) -> dict[str, list[dict]]:
    """Rows of the three snapshot tables, in a deterministic order."""
    created = store.task_created_at()
    out: dict[str, list[dict]] = {"labels/tasks": [], "labels/labels": [], "labels/consensus": []}
    for queue in store.queues():
        tasks = {t.task_id: t for t in store.tasks(queue.queue_id)}
        labels = store.labels(queue.queue_id)
        out["labels/tasks"].extend(task_row(queue, t, created[t.task_id]) for t in tasks.values())
        out["labels/labels"].extend(label_row(queue, tasks[lab["task_id"]].item_key, lab) for lab in labels)
        out["labels/consensus"].extend(consensus_rows(analyze(queue, labels), tasks, labels))
        if queue.kind == "interactive":
            for turn in store.turns(queue.queue_id):
                if turn["label"] is not None and turn["task_id"] in tasks:
                    out["labels/consensus"].extend(turn_rows(queue, tasks[turn["task_id"]], turn))
    return out


def snapshot(lake_root: Path, *, refresh_catalog: bool = True) -> SnapshotResult:
    """Write the snapshot tables into the lake in one transaction (and rebuild the catalog)."""
    import pyarrow as pa

    lake = Lake(lake_root)
    root = local_lake(lake.root)
    if store_path(root).exists():
        with Store.for_lake(root, read_only=True) as store:
            rows = build_tables(store)
    else:  # no labels yet: empty, typed tables, so the catalog's label views exist for the pipeline
        rows = {"labels/tasks": [], "labels/labels": [], "labels/consensus": []}
    with lake.transaction() as tx:
        for name, table_rows in rows.items():
            spec = tables.get(name)
            tx.replace(spec, pa.Table.from_pylist(table_rows, schema=spec.schema))
        files = tx.commit()
    if refresh_catalog:
        catalog.refresh(lake)
    consensus = rows["labels/consensus"]
    return SnapshotResult(
        len(rows["labels/tasks"]),
        len(rows["labels/labels"]),
        len(consensus),
        sum(1 for r in consensus if r["kept"]),
        files,
    )
