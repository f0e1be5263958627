"""Annotator quality on real pairs: hh-rlhf chosen/rejected replies are gold items (the known answer is
the human-chosen reply), mixed into a queue at its gold rate; accuracy, agreement over time and the pace
per queue reach the Review page."""

from __future__ import annotations

import gzip
import itertools

import pytest

from labeling_app import quality
from labeling_app.config import load_config
from labeling_app.consensus import analyze
from labeling_app.queues import add_gold, create_queue
from labeling_app.settings import APP_SCRIPT
from labeling_app.sources import PREFERENCE_PAIRS_SQL, SourceError
from labeling_app.store import Store

PAIRS = 24


@pytest.fixture(scope="module")
def hh_lake(tmp_path_factory, hh_path):
    """A lake holding the first hh-rlhf pairs, a queue of 8 of them and 8 others as gold items."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    root = tmp_path_factory.mktemp("quality")
    head = root / "hh-head.jsonl.gz"
    with gzip.open(hh_path, "rt") as source, gzip.open(head, "wt") as out:
        out.writelines(itertools.islice(source, PAIRS))
    lake = Lake(root / "lake")
    recipe = parse({"name": "test", "stages": [{"stage": "ingest", "paths": [str(head)]}]})
    runner.run(recipe, lake, Console(quiet=True), command="ingest")
    config = load_config().model_copy(update={"gold_rate": 0.5})
    base = PREFERENCE_PAIRS_SQL.strip()
    create_queue(lake.root, kind="pairwise", source=f"{base} LIMIT 8", per_item=2, name="hh", config=config)
    assert add_gold(lake.root, "hh", f"{base} LIMIT 8 OFFSET 8") == (8, 0)
    return lake.root


def _label_everything(lake, careful: str, careless: str) -> None:
    """`careful` picks the human-chosen reply everywhere; `careless` always clicks A."""
    with Store.for_lake(lake) as store:
        queue = store.queue("hh")
        for name in (careful, careless):
            while (a := store.next_task(queue.queue_id, name)) is not None:
                chosen = next(i for i, c in enumerate(a.task.payload["candidates"]) if c["origin"] == "chosen")
                choice = ("A" if a.sides[0] == chosen else "B") if name == careful else "A"
                store.submit(a.task.task_id, name, "annotator", {"choice": choice}, seconds=2.0)


def test_gold_accuracy_separates_a_careful_from_a_careless_annotator(hh_lake):
    _label_everything(hh_lake, "careful", "careless")
    with Store.for_lake(hh_lake, read_only=True) as store:
        queue = store.queue("hh")
        gold = store.labels(queue.queue_id, gold=True)
        labels = store.labels(queue.queue_id)
        sides = {(g["task_id"], g["annotator"]): g["side_mapping"] for g in gold}
    assert queue.n_tasks == 8 and queue.n_labels == 16, "gold stays out of the queue's counts"
    assert all(g["gold"] == {"preference": "0"} for g in gold), "hh-rlhf's chosen reply is candidate 0"
    rows = {r["annotator"]: r for r in quality.gold_accuracy(queue, gold)}
    assert rows["careful"]["gold items"] == 8 and rows["careful"]["accuracy"] == 1.0
    lucky = sum(1 for (_, name), s in sides.items() if name == "careless" and s["A"] == 0)
    assert rows["careless"]["correct"] == lucky < 8, "clicking A is right only where A is the chosen reply"
    over_time = quality.agreement_over_time(analyze(queue, labels), labels)
    assert {r["annotator"] for r in over_time} == {"careful", "careless"}
    assert all(0 <= r["agreement"] <= 1 and r["compared"] > 0 for r in over_time)
    (pace,) = quality.throughput({queue.queue_id: "hh"}, labels)
    assert pace["labels"] == 16 and pace["median seconds per item"] == 2.0


def test_gold_needs_a_known_answer(hh_lake):
    anonymous = PREFERENCE_PAIRS_SQL.strip().replace("'chosen' AS origin_a, 'rejected' AS origin_b,", "")
    with pytest.raises(SourceError, match="needs a `gold` column"):
        add_gold(hh_lake, "hh", f"{anonymous} LIMIT 2 OFFSET 16")
    with pytest.raises(SourceError, match="use a, b or tie"):
        add_gold(hh_lake, "hh", f"SELECT *, 'left' AS gold FROM ({anonymous}) LIMIT 2 OFFSET 16")
    assert add_gold(hh_lake, "hh", f"SELECT *, 'B' AS gold FROM ({anonymous}) LIMIT 2 OFFSET 16") == (2, 0)
    with Store.for_lake(hh_lake, read_only=True) as store:
        added = store.con.execute("SELECT gold, payload FROM tasks ORDER BY task_id DESC LIMIT 2").fetchall()
    assert [row["gold"] for row in added] == ['{"preference": "1"}'] * 2
    assert all('"gold"' not in row["payload"] for row in added), "the answer is never in what annotators see"


def test_the_review_page_shows_gold_accuracy_and_the_charts(hh_lake, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FLYWHEEL_LAKE", str(hh_lake))
    monkeypatch.setenv("FLYWHEEL_LABEL_LOCAL_MODE", "1")
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=60).run()
    at.sidebar.radio(key="page").set_value("Review").run()
    assert not at.exception
    gold = next(d.value for d in at.dataframe if "gold items" in d.value.columns)
    assert set(gold["annotator"]) == {"careful", "careless"}
    assert gold.set_index("annotator").loc["careful", "accuracy"] == 1.0
    charts = at.get("vega_lite_chart")
    assert len(charts) == 3, "agreement over time, labels per hour, seconds per item"
