"""Agreement and consensus: Krippendorff's alpha, majorities, adjudication, and the lake snapshot."""

from __future__ import annotations

import math

import pyarrow.parquet as pq
import pytest

from labeling_app import agreement
from labeling_app.config import load_config, queue_spec
from labeling_app.consensus import analyze
from labeling_app.queues import create_queue
from labeling_app.snapshot import snapshot
from labeling_app.store import Queue, Store
from lakehouse import catalog
from lakehouse.lake import Lake
from tests.helpers.label_lake import conversation, make_lake

# Krippendorff (2011), "Computing Krippendorff's alpha-reliability", the worked example with missing
# values: 4 coders, 12 units. Published results: nominal 0.743, ordinal 0.815.
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _units() -> list[list[int]]:
    return [[row[u] for row in K2011 if row[u] is not None] for u in range(12)]


def test_alpha_matches_the_published_example():
    assert agreement.krippendorff_alpha(_units(), range(1, 6), "nominal") == pytest.approx(0.743, abs=5e-4)
    assert agreement.krippendorff_alpha(_units(), range(1, 6), "ordinal") == pytest.approx(0.815, abs=5e-4)


def test_alpha_is_undefined_without_pairs_or_variation():
    assert agreement.krippendorff_alpha([[1], [2]], (1, 2), "nominal") is None
    assert agreement.krippendorff_alpha([["yes", "yes"], ["yes", "yes"]], ("yes", "no"), "nominal") is None
    assert agreement.krippendorff_alpha([["yes", "yes"], ["no", "no"]], ("yes", "no"), "nominal") == 1.0


def test_majority_and_leave_one_out_agreement():
    assert agreement.majority(["a", "a", "b"]) == ("a", 2)
    assert agreement.majority(["a", "b"]) == (None, 1)
    items = {1: {"ann": "a", "bob": "a", "cy": "b"}, 2: {"ann": "a", "bob": "a", "cy": "a"}}
    result = agreement.annotator_agreement(items)
    # cy's "b" on item 1 disagrees with ann+bob; ann on item 1 faces a split (bob a, cy b): not compared
    assert result == {"ann": (1, 1), "bob": (1, 1), "cy": (2, 1)}


def _queue(kind: str, per_item: int = 3) -> Queue:
    spec = queue_spec(load_config(), kind)
    return Queue(1, "q", kind, per_item, "test", spec, 0.0, "t", 2, 0, 0)


def _label(task_id, annotator, value, adjudication=False, label_id=0):
    return {
        "label_id": label_id,
        "task_id": task_id,
        "annotator": annotator,
        "is_adjudication": adjudication,
        "value": value,
    }


def pair(preferred, strength=None):
    return {"choice": "A", "preferred": preferred, "tie": preferred is None, "strength": strength}


def test_pairwise_consensus_keeps_high_agreement_and_adjudicated_items():
    labels = [
        _label(1, "ann", pair(0, "strong")),
        _label(1, "bob", pair(0, "strong")),
        _label(1, "cy", pair(1)),
        _label(2, "ann", pair(0)),
        _label(2, "bob", pair(1)),
        _label(2, "cy", pair(None)),
        _label(3, "ann", pair(1)),
        _label(3, "bob", pair(1)),
    ]
    result = analyze(_queue("pairwise"), labels)
    by_task = {i.task_id: i for i in result.items}
    assert (by_task[1].answer, by_task[1].n_agreeing, by_task[1].kept, by_task[1].strength) == ("0", 2, True, "strong")
    assert (by_task[2].answer, by_task[2].kept) == (None, False)
    assert (by_task[3].answer, by_task[3].kept) == ("1", False), "two labels of three: not complete yet"
    assert result.disagreements() == [2]
    adjudicated = analyze(_queue("pairwise"), labels + [_label(2, "rev", pair(None), adjudication=True)])
    item = next(i for i in adjudicated.items if i.task_id == 2)
    assert (item.answer, item.adjudicated, item.kept, item.n_agreeing) == ("tie", True, True, 1)
    assert adjudicated.disagreements() == []
    rows = {r["annotator"]: r for r in adjudicated.annotators}
    # consensus: item 1 -> 0, item 2 -> tie (adjudicated), item 3 -> 1; cy agrees only on item 2
    assert (rows["cy"]["compared"], rows["cy"]["agreeing"]) == (2, 1)
    assert (rows["ann"]["compared"], rows["ann"]["agreeing"]) == (3, 2)
    # leave-one-out: ann faces split others on items 1 and 2 (only item 3 counts); cy on item 2
    assert (rows["ann"]["loo_compared"], rows["cy"]["loo_compared"], rows["cy"]["loo_agreement"]) == (1, 1, 0.0)


def test_questionnaire_rating_and_rewrite_questions():
    def answers(**a):
        return {
            "answers": {
                "false_refusal": "no",
                "templated": "no",
                "breaks_persona": "no",
                "violates_instruction": "no",
                "unsafe": "no",
                **a,
            }
        }

    q = analyze(_queue("questionnaire", 2), [_label(1, "ann", answers(templated="yes")), _label(1, "bob", answers())])
    assert [i.question for i in q.items] == [
        "false_refusal",
        "templated",
        "breaks_persona",
        "violates_instruction",
        "unsafe",
    ]
    assert {i.question: i.kept for i in q.items}["templated"] is False and q.disagreements() == [1]

    r = analyze(
        _queue("rating", 3),
        [_label(1, "ann", {"score": 4}), _label(1, "bob", {"score": 5}), _label(1, "cy", {"score": 1})],
    )
    (item,) = r.items
    assert (item.score, item.answer, item.n_agreeing, item.kept) == (4.0, "4", 2, True)

    w = analyze(
        _queue("rewrite", 2),
        [_label(1, "ann", {"changed": True, "text": "x"}), _label(1, "bob", {"changed": True, "text": "y"})],
    )
    assert (w.items[0].answer, w.items[0].kept) == ("edited", True)


def test_snapshot_feeds_the_catalog_views(tmp_path):
    root = make_lake(tmp_path / "lake", [conversation(i, regenerate=True) for i in range(4)])
    create_queue(root, kind="pairwise", source="regenerations", per_item=2, name="pairs")
    create_queue(root, kind="rewrite", source="SELECT * FROM samples WHERE turn = 1", per_item=1, name="fix")
    with Store.for_lake(root) as store:
        pairs, fix = store.queue("pairs").queue_id, store.queue("fix").queue_id
        for name in ("ann", "bob"):
            while (a := store.next_task(pairs, name)) is not None:
                side = "A" if a.sides[0] == 1 else "B"  # everyone prefers candidate 1, the replacement
                store.submit(a.task.task_id, name, "annotator", {"choice": side})
        a = store.next_task(fix, "ann")
        store.submit(a.task.task_id, "ann", "annotator", {"text": "Aye, captain here! How can I help?"})
    first = snapshot(root)
    assert (first.tasks, first.labels) == (8, 9)
    con = catalog.connect(Lake(root))
    try:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 9
        rows = con.execute(
            "SELECT chosen_sample_id, rejected_sample_id, tie, agreement, queue_alpha, kept "
            "FROM labels_consensus WHERE queue = 'pairs' ORDER BY task_id"
        ).fetchall()
        assert len(rows) == 4 and all(r[0].endswith(":2") and r[1].endswith(":1") for r in rows)
        assert all(r[2] is False and r[3] == 1.0 and r[5] for r in rows)
        assert rows[0][4] is None, "alpha is undefined when every label is the same"
        chosen, rejected, rewriter = con.execute(
            "SELECT chosen, rejected, rewriter FROM labels_consensus WHERE queue = 'fix' AND answer = 'edited'"
        ).fetchone()
        assert chosen.startswith("Aye, captain here") and rewriter == "ann" and rejected
        assert con.execute("SELECT count(*) FROM labels_tasks").fetchone()[0] == 8
    finally:
        con.close()
    files = sorted(p.name for p in (root / "labels").rglob("*.parquet"))
    again = snapshot(root)
    assert sorted(p.name for p in (root / "labels").rglob("*.parquet")) == files, "same store, same files"
    assert again.consensus == first.consensus
    table = pq.read_table(next((root / "labels" / "consensus").glob("*.parquet")))
    assert not math.isnan(table.column("agreement").to_pylist()[0])


def test_snapshot_before_any_label_gives_empty_typed_views(tmp_path):
    root = make_lake(tmp_path / "lake", [conversation(0)])
    result = snapshot(root)
    assert (result.tasks, result.labels, result.consensus) == (0, 0, 0)
    assert not (root / "labels" / "labels.sqlite").exists(), "a snapshot never creates the store"
    con = catalog.connect(Lake(root))
    try:
        assert con.execute("SELECT count(*) FROM labels").fetchone()[0] == 0
        columns = [r[0] for r in con.execute("DESCRIBE labels_consensus").fetchall()]
        assert {"chosen", "rejected", "agreement", "kept", "queue_alpha"} <= set(columns)
    finally:
        con.close()


def test_consensus_and_snapshot_ignore_undone_labels(tmp_path):
    """ann and bob prefer candidate 1; bob first said candidate 0, undid it and relabeled: the undone label
    counts nowhere (full agreement, two labels in the snapshot), though the store keeps it."""
    root = make_lake(tmp_path / "lake", [conversation(0, regenerate=True)])
    create_queue(root, kind="pairwise", source="regenerations", per_item=2, name="pairs")

    def side(assignment, candidate: int) -> str:
        return "A" if assignment.sides[0] == candidate else "B"

    with Store.for_lake(root) as store:
        pairs = store.queue("pairs").queue_id
        a = store.next_task(pairs, "ann")
        store.submit(a.task.task_id, "ann", "annotator", {"choice": side(a, 1)})
        b = store.next_task(pairs, "bob")
        wrong = store.submit(b.task.task_id, "bob", "annotator", {"choice": side(b, 0)})
        store.retract(wrong.label_id, "bob")
        store.submit(b.task.task_id, "bob", "annotator", {"choice": side(b, 1)})
        (item,) = analyze(store.queue(pairs), store.labels(pairs)).items
        assert len(store.labels(pairs, include_retracted=True)) == 3
    assert (item.answer, item.n_annotators, item.agreement, item.kept) == ("1", 2, 1.0, True)
    assert snapshot(root).labels == 2
    con = catalog.connect(Lake(root))
    try:
        assert con.execute("SELECT count(*), bool_and(preferred = 1) FROM labels").fetchone() == (2, True)
        assert con.execute("SELECT agreement, kept FROM labels_consensus").fetchone() == (1.0, True)
    finally:
        con.close()
