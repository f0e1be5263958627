"""The label store: routing, blind distinct assignment, leases, skips, idempotent append-only labels."""

from __future__ import annotations

import json
import sqlite3

import pytest

from labeling_app.config import load_config, queue_spec
from labeling_app.store import Store, StoreError, side_mapping
from labeling_app.values import LabelError


def payload(i: int, pair: bool = True) -> dict:
    texts = [f"reply {i} a", f"reply {i} b"] if pair else [f"reply {i}"]
    return {
        "prompt": [{"role": "user", "content": f"hi {i}"}],
        "character": {"name": "Mira"},
        "candidates": [
            {"sample_id": f"s{i}-{k}", "text": t, "model_version": None, "origin": None} for k, t in enumerate(texts)
        ],
        "meta": {},
    }


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "labels.sqlite") as s:
        yield s


def make_queue(store: Store, kind: str = "pairwise", items: int = 5, per_item: int = 2, name: str = "q"):
    queue = store.create_queue(name, kind, per_item, "test", queue_spec(load_config(), kind), "test")
    store.add_tasks(queue.queue_id, [(f"k{i}", payload(i, kind == "pairwise")) for i in range(items)])
    return store.queue(queue.queue_id)


def label_all(store: Store, queue_id: int, annotator: str, choice: str = "A") -> list[int]:
    done = []
    while (a := store.next_task(queue_id, annotator)) is not None:
        store.submit(a.task.task_id, annotator, "annotator", {"choice": choice})
        done.append(a.task.task_id)
    return done


def test_wal_mode_and_schema(store):
    assert store.con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    plan = " ".join(
        r[3]
        for r in store.con.execute(
            "EXPLAIN QUERY PLAN SELECT task_id FROM tasks INDEXED BY tasks_next WHERE queue_id = 1 AND load < per_item "
            "ORDER BY load, task_id LIMIT 1"
        )
    )
    assert "USING INDEX tasks_next" in plan and "TEMP B-TREE" not in plan


def test_each_item_goes_to_n_distinct_annotators_never_twice(store):
    queue = make_queue(store, items=4, per_item=3)
    seen = {name: label_all(store, queue.queue_id, name) for name in ("ann", "bob", "cy", "dee", "eve")}
    for name, tasks in seen.items():
        assert len(tasks) == len(set(tasks)), f"{name} got an item twice"
    counts = {}
    for tasks in seen.values():
        for t in tasks:
            counts[t] = counts.get(t, 0) + 1
    assert counts == {t.task_id: 3 for t in store.tasks(queue.queue_id)}
    assert store.queue(queue.queue_id).n_complete == 4
    assert store.queue(queue.queue_id).n_labels == 12


def test_least_labeled_items_come_first(store):
    queue = make_queue(store, items=3, per_item=3)
    first = store.next_task(queue.queue_id, "ann").task.task_id
    store.submit(first, "ann", "annotator", {"choice": "A"})
    # bob must get an item nobody has touched, not the one ann labeled
    assert store.next_task(queue.queue_id, "bob").task.task_id != first
    third = store.next_task(queue.queue_id, "cy").task.task_id
    assert third not in (first,)
    # now every item has load 1; dee gets the lowest id among them
    assert store.next_task(queue.queue_id, "dee").task.task_id == min(t.task_id for t in store.tasks(queue.queue_id))


def test_open_item_is_resumed_not_replaced(store):
    queue = make_queue(store)
    a = store.next_task(queue.queue_id, "ann")
    assert store.next_task(queue.queue_id, "ann").task.task_id == a.task.task_id
    assert store.task(a.task.task_id).load == 1


def test_expired_lease_returns_item_to_the_pool(store):
    queue = make_queue(store, items=1, per_item=1)
    a = store.next_task(queue.queue_id, "ann", now=1000.0)
    assert store.next_task(queue.queue_id, "bob", now=1001.0) is None
    later = 1000.0 + 60 * queue.spec["lease_minutes"] + 1
    b = store.next_task(queue.queue_id, "bob", now=later)
    assert b is not None and b.task.task_id == a.task.task_id
    assert store.assignment(a.task.task_id, "ann").state == "expired"
    # ann's late submission is still kept: work is never thrown away
    assert store.submit(a.task.task_id, "ann", "annotator", {"choice": "tie"}).created
    assert store.next_task(queue.queue_id, "ann", now=later) is None


def test_skip_needs_reason_and_item_goes_to_someone_else(store):
    queue = make_queue(store, items=1, per_item=1)
    a = store.next_task(queue.queue_id, "ann")
    with pytest.raises(StoreError, match="reason"):
        store.skip(a.task.task_id, "ann", "  ")
    store.skip(a.task.task_id, "ann", "Garbled or broken text")
    assert store.next_task(queue.queue_id, "ann") is None
    assert store.next_task(queue.queue_id, "bob").task.task_id == a.task.task_id
    assert store.skips(queue.queue_id)[0]["skip_reason"] == "Garbled or broken text"
    with pytest.raises(StoreError, match="skipped"):
        store.submit(a.task.task_id, "ann", "annotator", {"choice": "A"})


def test_submit_requires_an_assignment(store):
    queue = make_queue(store)
    task_id = next(store.tasks(queue.queue_id)).task_id
    with pytest.raises(StoreError, match="not assigned"):
        store.submit(task_id, "mallory", "annotator", {"choice": "A"})


def test_repeat_submission_is_idempotent(store):
    queue = make_queue(store)
    a = store.next_task(queue.queue_id, "ann")
    first = store.submit(a.task.task_id, "ann", "annotator", {"choice": "A"}, submission_id="x1")
    again = store.submit(a.task.task_id, "ann", "annotator", {"choice": "B"}, submission_id="x1")
    other_id = store.submit(a.task.task_id, "ann", "annotator", {"choice": "B"}, submission_id="x2")
    assert first.created and not again.created and not other_id.created
    assert again.label_id == other_id.label_id == first.label_id
    assert len(store.labels()) == 1 and store.task(a.task.task_id).n_labels == 1


def test_labels_are_append_only(store):
    queue = make_queue(store)
    a = store.next_task(queue.queue_id, "ann")
    store.submit(a.task.task_id, "ann", "annotator", {"choice": "A"})
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.con.execute("UPDATE labels SET value = '{}'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.con.execute("DELETE FROM labels")


def test_pairwise_sides_are_recorded_and_mapped_back(store):
    queue = make_queue(store, items=40, per_item=1)
    flips = 0
    while (a := store.next_task(queue.queue_id, "ann")) is not None:
        assert a.sides == side_mapping(a.task.task_id, "ann")
        flips += a.sides == [1, 0]
        store.submit(a.task.task_id, "ann", "annotator", {"choice": "B", "strength": "strong"})
    assert 5 < flips < 35, "sides must be shuffled across items"
    for label in store.labels():
        assert label["side_mapping"]["B"] == label["value"]["preferred"]
        assert label["value"]["strength"] == "strong"


@pytest.mark.parametrize(
    "kind, value, message",
    [
        ("pairwise", {"choice": "C"}, "choice"),
        ("pairwise", {"choice": "tie", "strength": "strong"}, "tie has no strength"),
        ("pairwise", {"choice": "A", "winner": 1}, "unexpected fields"),
        ("questionnaire", {"answers": {"false_refusal": "yes"}}, "missing"),
        (
            "questionnaire",
            {
                "answers": {
                    "false_refusal": "maybe",
                    "templated": "no",
                    "breaks_persona": "no",
                    "violates_instruction": "no",
                    "unsafe": "no",
                }
            },
            "yes, no or unsure",
        ),
        ("rating", {"score": 9}, "from 1 to 5"),
        ("rating", {"score": True}, "whole number"),
        ("rewrite", {"text": "   "}, "empty"),
    ],
)
def test_bad_values_are_refused_with_a_reason(store, kind, value, message):
    queue = make_queue(store, kind=kind, name=kind)
    a = store.next_task(queue.queue_id, "ann")
    with pytest.raises(LabelError, match=message):
        store.submit(a.task.task_id, "ann", "annotator", value)
    assert store.labels() == [] and store.assignment(a.task.task_id, "ann").state == "open"


def test_rewrite_stores_the_diff(store):
    queue = make_queue(store, kind="rewrite", items=1, per_item=1)
    a = store.next_task(queue.queue_id, "ann")
    store.submit(a.task.task_id, "ann", "annotator", {"text": "a far better reply 0"})
    value = store.labels()[0]["value"]
    assert value["changed"] and "-reply 0" in value["diff"] and "+a far better reply 0" in value["diff"]


def test_adjudication_is_stored_as_such(store):
    queue = make_queue(store, items=1)
    a = store.next_task(queue.queue_id, "ann")
    store.submit(a.task.task_id, "ann", "annotator", {"choice": "A"})
    store.adjudicate(a.task.task_id, "rev", {"choice": "B", "reason": "B follows the card"})
    adjudication = [lab for lab in store.labels() if lab["is_adjudication"]]
    assert len(adjudication) == 1 and adjudication[0]["role"] == "reviewer"
    assert adjudication[0]["value"]["preferred"] == 1
    assert store.task(a.task.task_id).n_labels == 1, "an adjudication is not an annotator label"


def test_queue_names_are_unique_and_kinds_checked(store):
    make_queue(store)
    with pytest.raises(StoreError, match="already exists"):
        make_queue(store)
    with pytest.raises(StoreError, match="unknown task kind"):
        store.create_queue("x", "ranking", 1, "s", {}, "t")


def test_read_only_connection_cannot_write(tmp_path):
    path = tmp_path / "labels.sqlite"
    Store(path).close()
    with Store(path, read_only=True) as ro, pytest.raises(StoreError, match="read-only"):
        ro.create_queue("q", "pairwise", 1, "s", queue_spec(load_config(), "pairwise"), "t")


# -- undo: a retraction, history kept ------------------------------------------------------------------


def test_undo_retracts_the_label_keeps_history_and_gives_the_item_back(store):
    queue = make_queue(store, items=2, per_item=1)
    first = store.next_task(queue.queue_id, "ann")
    saved = store.submit(first.task.task_id, "ann", "annotator", {"choice": "A"}, now=1000.0)
    assert store.queue(queue.queue_id).n_complete == 1
    assert store.retract(saved.label_id, "ann", now=1010.0) == first.task.task_id
    assert store.labels(queue.queue_id) == [], "reads skip the undone label"
    (kept,) = store.labels(queue.queue_id, include_retracted=True)
    assert kept["label_id"] == saved.label_id and kept["value"]["choice"] == "A", "the history stays"
    assert [r["label_id"] for r in store.retractions(queue.queue_id)] == [saved.label_id]
    counted = store.queue(queue.queue_id)
    assert (counted.n_labels, counted.n_complete, store.count_labels(queue.queue_id, "ann")) == (0, 0, 0)
    again = store.next_task(queue.queue_id, "ann", now=1015.0)
    assert again.task.task_id == first.task.task_id and again.state == "open", "the same item comes back"
    relabel = store.submit(first.task.task_id, "ann", "annotator", {"choice": "B"}, now=1020.0)
    assert relabel.created and relabel.label_id != saved.label_id
    assert [lab["value"]["choice"] for lab in store.labels(queue.queue_id)] == ["B"]
    assert store.queue(queue.queue_id).n_complete == 1
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        store.con.execute("UPDATE retractions SET annotator = 'x'")


def test_undo_is_refused_after_the_window_twice_or_for_someone_else(store):
    queue = make_queue(store, items=3, per_item=2)
    window = queue.spec["undo_seconds"]
    a = store.next_task(queue.queue_id, "ann")
    old = store.submit(a.task.task_id, "ann", "annotator", {"choice": "A"}, now=1000.0)
    with pytest.raises(StoreError, match="can no longer be undone"):
        store.retract(old.label_id, "ann", now=1000.0 + window + 1)
    with pytest.raises(StoreError, match="not a label of bob"):
        store.retract(old.label_id, "bob", now=1001.0)
    store.retract(old.label_id, "ann", now=1001.0)
    with pytest.raises(StoreError, match="already undone"):
        store.retract(old.label_id, "ann", now=1002.0)


def test_a_version_1_store_is_migrated_for_undo_and_gold(tmp_path):
    path = tmp_path / "old.sqlite"
    with Store(path) as s:
        queue = make_queue(s, items=1, per_item=1)
        a = s.next_task(queue.queue_id, "ann")
        saved = s.submit(a.task.task_id, "ann", "annotator", {"choice": "A"})
        s.con.execute("DROP TABLE retractions")
        s.con.execute("DROP INDEX labels_one_each")
        s.con.execute("ALTER TABLE labels DROP COLUMN attempt")
        s.con.execute("DROP INDEX tasks_gold")
        s.con.execute("ALTER TABLE tasks DROP COLUMN gold")
        s.con.execute("CREATE UNIQUE INDEX labels_one_each ON labels (task_id, annotator) WHERE is_adjudication = 0")
        s.con.execute("PRAGMA user_version = 1")
    with Store(path) as s:
        assert s.retract(saved.label_id, "ann") == a.task.task_id
        assert s.submit(a.task.task_id, "ann", "annotator", {"choice": "B"}).created
        assert s.add_gold(queue.queue_id, [("g", payload(9), {"preference": "0"})]) == (1, 0)


# -- gold items ------------------------------------------------------------------------------------------


def test_gold_items_come_at_the_gold_rate_once_each_and_stay_out_of_the_counts(store):
    queue = make_queue(store, items=20, per_item=1)
    spec = {**queue.spec, "gold_rate": 0.25}
    store.con.execute("UPDATE queues SET spec = json(?) WHERE queue_id = ?", (json.dumps(spec), queue.queue_id))
    assert store.add_gold(queue.queue_id, [(f"g{i}", payload(100 + i), {"preference": "0"}) for i in range(2)]) == (
        2,
        0,
    )
    served = []
    while (a := store.next_task(queue.queue_id, "ann")) is not None:
        served.append(a.task.gold is not None)
        store.submit(a.task.task_id, "ann", "annotator", {"choice": "A" if a.sides[0] == 0 else "B"})
    assert served[:8] == [False, False, False, True, False, False, False, True], "every 4th item is gold"
    assert sum(served) == 2 and len(served) == 22, "each gold item once, then regular items only"
    counted = store.queue(queue.queue_id)
    assert (counted.n_tasks, counted.n_labels, counted.n_complete) == (20, 20, 20)
    assert len(store.labels(queue.queue_id)) == 20 and len(list(store.tasks(queue.queue_id))) == 20
    gold = store.labels(queue.queue_id, gold=True)
    assert [lab["gold"] for lab in gold] == [{"preference": "0"}] * 2


def test_no_gold_is_served_at_rate_zero(store):
    queue = make_queue(store, items=3, per_item=1)
    spec = {**queue.spec, "gold_rate": 0.0}
    store.con.execute("UPDATE queues SET spec = json(?) WHERE queue_id = ?", (json.dumps(spec), queue.queue_id))
    store.add_gold(queue.queue_id, [("g", payload(9), {"preference": "0"})])
    assert all(store.next_task(queue.queue_id, f"a{i}").task.gold is None for i in range(3))
