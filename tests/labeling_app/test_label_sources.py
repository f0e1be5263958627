"""Queue sources: SQL over the real `samples` view, presets, releases; clear errors; nothing dropped silently."""

from __future__ import annotations

import pyarrow as pa
import pytest

from labeling_app import sources
from labeling_app.queues import create_queue
from labeling_app.store import Store, StoreError
from lakehouse.lake import Lake
from lakehouse.releases import ReleaseWriter
from tests.helpers.label_lake import conversation, make_lake


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    conversations = [conversation(i, regenerate=i % 2 == 0) for i in range(6)]
    conversations += [
        conversation(10 + i, model_version=v, user_text="Same question for both?")
        for i, v in enumerate(["gen-1", "gen-2"])
    ]
    return make_lake(tmp_path_factory.mktemp("sources") / "lake", conversations)


def test_regenerations_pair_a_regenerated_reply_with_its_replacement(lake):
    found = sources.load_items(lake, "pairwise", "regenerations")
    assert len(found.items) == 3
    key, payload = found.items[0]
    assert key == "c0000:1|c0000:2"
    assert [c["text"] for c in payload["candidates"]] == [
        "I cannot help with that (0).",
        "Aye! Let us chart a course, friend 0.",
    ]
    assert payload["prompt"][0]["role"] == "system" and payload["prompt"][-1]["role"] == "user"
    assert payload["character"]["name"] == "Captain Mira"


def test_model_versions_never_pair_different_characters(lake):
    # conversations 10 and 11 share the user text but not the character: their prompts differ
    assert sources.load_items(lake, "pairwise", "model-versions:gen-1,gen-2").items == []
    with pytest.raises(sources.SourceError, match="two different versions"):
        sources.load_items(lake, "pairwise", "model-versions:gen-1")


def test_model_versions_finds_pairs(tmp_path):
    first, second = conversation(10, model_version="gen-1"), conversation(12, model_version="gen-2")
    second["messages"] = [dict(m) for m in first["messages"]]
    second["messages"][1] = {**second["messages"][1], "content": "A different reply from gen-2."}
    root = make_lake(tmp_path / "lake", [first, second])
    found = sources.load_items(root, "pairwise", "model-versions:gen-1,gen-2")
    assert len(found.items) == 1
    _, payload = found.items[0]
    assert [c["model_version"] for c in payload["candidates"]] == ["gen-1", "gen-2"]


def test_missing_columns_are_named(lake):
    with pytest.raises(sources.SourceError, match="lacks response_a, response_b"):
        sources.load_items(
            lake, "pairwise", "SELECT sample_id AS sample_id_a, sample_id AS sample_id_b, prompt FROM samples"
        )
    with pytest.raises(sources.SourceError, match="lacks response"):
        sources.load_items(lake, "rating", "SELECT sample_id, prompt FROM samples")


def test_bad_sql_unknown_preset_and_missing_release_are_clear_errors(lake):
    with pytest.raises(sources.SourceError, match="the query failed"):
        sources.load_items(lake, "rating", "SELECT nope FROM samples")
    with pytest.raises(sources.SourceError, match="unknown preset"):
        sources.load_items(lake, "pairwise", "regenerationz")
    with pytest.raises(sources.SourceError, match="no release directory"):
        sources.load_items(lake, "pairwise", "releases/prefs/9")


def test_rows_that_cannot_be_tasks_are_counted_by_reason():
    rows = [
        {"sample_id": "a", "prompt": [{"role": "user", "content": "hi"}], "response": "hello"},
        {"sample_id": "b", "prompt": [{"role": "user", "content": "hi"}], "response": "  "},
        {"sample_id": "c", "prompt": [], "response": "orphan"},
        {"sample_id": "d", "prompt": [{"role": "system", "content": "only a system prompt"}], "response": "x"},
        {"sample_id": "a", "prompt": [{"role": "user", "content": "hi"}], "response": "hello"},
    ]
    found = sources.rows_to_items("rating", rows)
    assert [k for k, _ in found.items] == ["a"]
    assert found.skipped == {"empty_response": 1, "no_prompt": 2, "duplicate_item": 1}
    assert "skipped duplicate_item=1, empty_response=1, no_prompt=2" in found.summary()


def _release(lake_root, name: str, trl_type: str, table: pa.Table):
    writer = ReleaseWriter(Lake(lake_root), name, trl_type)
    writer.write_split("train", table)
    writer.finalize(parents={}, recipe={}, split_method="test", dropped={})
    return writer.publish()


def test_preference_and_sft_releases(lake):
    message = lambda role, text: {"role": role, "content": text}  # noqa: E731
    prefs = pa.Table.from_pylist(
        [
            {
                "sample_id": f"s{i}",
                "prompt": [message("system", "You are Mira."), message("user", f"q{i}")],
                "chosen": [message("assistant", f"good {i}")],
                "rejected": [message("assistant", f"bad {i}")],
            }
            for i in range(3)
        ]
    )
    release = _release(lake, "prefs", "preference", prefs)
    found = sources.load_items(lake, "pairwise", "prefs@latest")
    assert [k for k, _ in found.items] == ["s0:chosen|s0:rejected", "s1:chosen|s1:rejected", "s2:chosen|s2:rejected"]
    assert found.items[0][1]["candidates"][1]["origin"] == "rejected"
    assert found.items[0][1]["character"]["system_prompt"] == "You are Mira."
    assert sources.load_items(lake, "pairwise", str(release.path)).items == found.items
    with pytest.raises(sources.SourceError, match="need an sft or unpaired release"):
        sources.load_items(lake, "rewrite", "prefs@latest")

    sft = pa.Table.from_pylist([{"sample_id": "t0", "messages": [message("user", "hi"), message("assistant", "yo")]}])
    _release(lake, "chats", "sft", sft)
    (item,) = sources.load_items(lake, "rewrite", "chats@1").items
    assert item[1]["candidates"][0]["text"] == "yo" and item[1]["prompt"] == [message("user", "hi")]
    with pytest.raises(sources.SourceError, match="no version"):
        sources.load_items(lake, "rewrite", "chats@7")


def test_create_queue_appends_without_duplicates_and_refuses_name_clash(tmp_path):
    root = make_lake(tmp_path / "lake", [conversation(i, regenerate=True) for i in range(4)])
    first = create_queue(root, kind="pairwise", source="regenerations", per_item=2, name="p", limit=2)
    assert (first.added, first.queue.n_tasks) == (2, 2)
    with pytest.raises(StoreError, match="already exists"):
        create_queue(root, kind="pairwise", source="regenerations", per_item=2, name="p")
    again = create_queue(root, kind="pairwise", source="regenerations", per_item=2, name="p", append=True)
    assert (again.added, again.already_present, again.queue.n_tasks) == (2, 2, 4)
    with pytest.raises(StoreError, match="holds pairwise tasks"):
        create_queue(root, kind="rating", source="SELECT * FROM samples", per_item=1, name="p", append=True)
    with pytest.raises(sources.SourceError, match="gave no rating items"):
        create_queue(root, kind="rating", source="SELECT * FROM samples WHERE false", per_item=1)
    with Store.for_lake(root, read_only=True) as store:
        assert [q.name for q in store.queues()] == ["p"]
