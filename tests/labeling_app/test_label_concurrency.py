"""20 writers, half threads and half processes, add 1,000 labels to one store at once: none lost, none
doubled, and the counters kept on tasks and queues agree with the label rows."""

from __future__ import annotations

import multiprocessing as mp
import threading
from collections import Counter
from pathlib import Path

import pytest

from labeling_app.config import load_config, queue_spec
from labeling_app.store import Store

WRITERS = 20
ITEMS = 100
PER_ITEM = 10  # 100 items x 10 labels = 1,000 labels


def worker(path: str, annotator: str, queue_id: int, barrier) -> int:
    """Label until the queue has nothing left for this annotator; every third label is sent twice."""
    barrier.wait()
    submitted = 0
    with Store(Path(path)) as store:
        while (assignment := store.next_task(queue_id, annotator)) is not None:
            choice = ("A", "B", "tie")[assignment.task.task_id % 3]
            key = f"{annotator}-{assignment.task.task_id}"
            store.submit(assignment.task.task_id, annotator, "annotator", {"choice": choice}, submission_id=key)
            if assignment.task.task_id % 3 == 0:
                store.submit(assignment.task.task_id, annotator, "annotator", {"choice": choice}, submission_id=key)
            submitted += 1
    return submitted


def _process_main(path, annotator, queue_id, barrier, results) -> None:
    results.put((annotator, worker(path, annotator, queue_id, barrier)))


@pytest.mark.slow
def test_twenty_writers_thousand_labels(tmp_path):
    path = tmp_path / "labels.sqlite"
    with Store(path) as store:
        queue = store.create_queue("load", "pairwise", PER_ITEM, "test", queue_spec(load_config(), "pairwise"), "t")
        store.add_tasks(
            queue.queue_id,
            [
                (f"k{i}", {"prompt": [{"role": "user", "content": "hi"}], "candidates": [{"text": "a"}, {"text": "b"}]})
                for i in range(ITEMS)
            ],
        )
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(WRITERS)
    results = ctx.Queue()
    names = [f"writer{i:02d}" for i in range(WRITERS)]
    processes = [
        ctx.Process(target=_process_main, args=(str(path), n, queue.queue_id, barrier, results))
        for n in names[: WRITERS // 2]
    ]
    thread_counts: dict[str, int] = {}
    threads = [
        threading.Thread(target=lambda n=n: thread_counts.__setitem__(n, worker(str(path), n, queue.queue_id, barrier)))
        for n in names[WRITERS // 2 :]
    ]
    for p in processes:
        p.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    process_counts = dict(results.get(timeout=240) for _ in processes)
    for p in processes:
        p.join(timeout=60)
        assert p.exitcode == 0

    submitted = {**process_counts, **thread_counts}
    assert sum(submitted.values()) == ITEMS * PER_ITEM
    with Store(path, read_only=True) as store:
        labels = store.labels(queue.queue_id)
        pairs = Counter((lab["task_id"], lab["annotator"]) for lab in labels)
        assert len(labels) == ITEMS * PER_ITEM, "a label was lost or doubled"
        assert max(pairs.values()) == 1, "an annotator labeled an item twice"
        per_task = Counter(lab["task_id"] for lab in labels)
        assert set(per_task.values()) == {PER_ITEM}
        assert Counter(lab["annotator"] for lab in labels) == Counter({n: c for n, c in submitted.items() if c})
        tasks = list(store.tasks(queue.queue_id))
        assert all(t.n_labels == PER_ITEM and t.load == PER_ITEM for t in tasks)
        final = store.queue(queue.queue_id)
        assert (final.n_labels, final.n_complete) == (ITEMS * PER_ITEM, ITEMS)
        assert store.con.execute("SELECT count(*) FROM assignments WHERE state = 'open'").fetchone()[0] == 0
        assert store.con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
