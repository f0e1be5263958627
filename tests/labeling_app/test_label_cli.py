"""`flywheel label ...` end to end: tokens, queues, demo, agreement and snapshot commands."""

from __future__ import annotations

import pytest
import yaml

from labeling_app import annotators
from labeling_app.store import Store
from tests.helpers.cli import flywheel
from tests.helpers.label_lake import conversation, make_lake


def test_add_annotator_prints_a_token_and_stores_only_its_hash(tmp_path):
    result = flywheel("label", "add-annotator", "alice", "--role", "reviewer", "--lake", str(tmp_path))
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    path = tmp_path / "labels" / "annotators.yaml"
    text = path.read_text()
    assert token.startswith("fwl_") and token not in text
    assert yaml.safe_load(text)["annotators"][0]["token_sha256"] == annotators.hash_token(token)
    assert annotators.authenticate(path, token).role == "reviewer"
    assert annotators.authenticate(path, token + "x") is None
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = flywheel("label", "add-annotator", "alice", "--lake", str(tmp_path))
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = flywheel("label", "add-annotator", "bad name!", "--lake", str(tmp_path))
    assert bad.returncode == 2 and "name" in bad.stderr


@pytest.mark.slow
def test_queue_create_list_demo_agreement_snapshot(tmp_path):
    lake = make_lake(tmp_path / "lake", [conversation(i, regenerate=i % 2 == 0) for i in range(6)])
    missing = flywheel(
        "label", "queue", "create", "--kind", "pairwise", "--from", "SELECT sample_id FROM samples", "--lake", str(lake)
    )
    assert missing.returncode == 2 and "lacks" in missing.stderr and "response_a" in missing.stderr
    created = flywheel(
        "label",
        "queue",
        "create",
        "--kind",
        "pairwise",
        "--from",
        "regenerations",
        "--per-item",
        "2",
        "--name",
        "pairs",
        "--lake",
        str(lake),
    )
    assert created.returncode == 0, created.stderr
    assert "queue 'pairs' (pairwise, 2 labels per item): 3 tasks added" in created.stdout

    demo = flywheel("label", "demo", "--lake", str(lake))
    assert demo.returncode == 0, demo.stderr
    tokens = dict(line.split(" token: ") for line in demo.stdout.splitlines() if " token: " in line)
    assert set(tokens) == {"demo-annotator", "demo-reviewer"}
    listed = flywheel("label", "queue", "list", "--lake", str(lake))
    names = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert names == ["pairs", "demo-pairwise", "demo-questionnaire", "demo-rewrite", "demo-rating"]
    assert "kept as it is" in flywheel("label", "demo", "--lake", str(lake)).stdout

    with Store.for_lake(lake) as store:
        queue = store.queue("demo-rating")
        for name, score in (("ann", 4), ("bob", 2)):
            while (a := store.next_task(queue.queue_id, name)) is not None:
                store.submit(a.task.task_id, name, "annotator", {"score": score if a.task.task_id % 2 else 5})
    report = flywheel("label", "agreement", "--queue", "demo-rating", "--lake", str(lake))
    assert report.returncode == 0, report.stderr
    assert report.stdout.startswith("demo-rating\tengagingness\talpha=") and "alpha=n/a" not in report.stdout

    snap = flywheel("label", "snapshot", "--lake", str(lake))
    assert snap.returncode == 0, snap.stderr
    assert f"{2 * queue.n_tasks} labels" in snap.stdout
    count = flywheel(
        "sql", "SELECT count(*) AS n FROM labels WHERE queue = 'demo-rating'", "--format", "csv", "--lake", str(lake)
    )
    assert count.stdout.strip().splitlines()[-1] == str(2 * queue.n_tasks)
