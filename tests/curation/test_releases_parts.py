"""Unit tests of the release machinery's parts: storage (streaming, versions, verify), the
group splits, the mixture arithmetic and the artifact report's agreement with the registry."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation.releases import artifacts_report, mixture, splits
from curation.releases.eval_overlap import shingles
from lakehouse import style_artifacts
from lakehouse.lake import Lake
from lakehouse.releases import ReleaseError, ReleaseWriter, resolve, verify, versions


def table(n: int, start: int = 0) -> pa.Table:
    ids = range(start, start + n)
    return pa.table({"sample_id": [f"s-{i:05d}" for i in ids], "value": list(ids)})


def publish(lake: Lake, name: str, data: pa.Table, batch: int | None = None):
    writer = ReleaseWriter(lake, name, "prompt")
    if batch:
        for offset in range(0, data.num_rows, batch):
            writer.append("train", data.slice(offset, batch))
    else:
        writer.write_split("train", data)
    writer.finalize(parents={}, recipe={"n": data.num_rows}, split_method="none", dropped={})
    return writer.publish()


def test_streamed_files_do_not_depend_on_how_rows_were_batched(tmp_path, monkeypatch):
    from lakehouse import releases

    monkeypatch.setattr(releases, "STREAM_ROW_GROUP", 1000)
    data = table(3500)
    a = publish(Lake(tmp_path / "a"), "r", data, batch=700)
    b = publish(Lake(tmp_path / "b"), "r", data, batch=1300)
    assert a.manifest["content_hash"] == b.manifest["content_hash"]
    metadata = pq.ParquetFile(a.data_files("train")[0]).metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [1000, 1000, 1000, 500]
    assert a.read("train").equals(data)


def test_versions_increase_and_an_existing_version_is_never_overwritten(tmp_path, monkeypatch):
    from lakehouse import releases

    lake = Lake(tmp_path / "lake")
    first = publish(lake, "r", table(3))
    second = publish(lake, "r", table(4))
    assert (first.ref, second.ref, versions(lake, "r")) == ("r@1", "r@2", [1, 2])
    assert resolve(lake, "r").ref == "r@2" and resolve(lake, "r@1").manifest["splits"]["train"] == 3
    # a writer that saw a stale list of versions tries to write version 2, is refused, and takes 3
    stale = iter([[1]])
    real = releases.versions
    monkeypatch.setattr(releases, "versions", lambda lake_, name: next(stale, None) or real(lake_, name))
    writer = ReleaseWriter(lake, "r", "prompt")
    writer.write_split("train", table(5))
    writer.finalize(parents={}, recipe={}, split_method="none", dropped={})
    assert writer.publish().ref == "r@3"
    assert (
        resolve(lake, "r@2").manifest["splits"]["train"] == 4 and resolve(lake, "r@3").manifest["splits"]["train"] == 5
    )
    with pytest.raises(ReleaseError, match="has no version '9'"):
        resolve(lake, "r@9")


def test_verify_recomputes_hashes_and_row_counts(tmp_path):
    release = publish(Lake(tmp_path / "lake"), "r", table(10))
    assert verify(release) == []
    manifest = release.manifest
    manifest["dropped"] = {"made_up": 1}
    (release.path / "manifest.json").write_text(json.dumps(manifest))
    assert verify(release) == ["content hash does not match the manifest"]
    data_file = release.data_files("train")[0]
    pq.write_table(table(9), data_file)
    problems = verify(release)
    assert "sha256 mismatch for data/train-00000.parquet" in problems
    (release.path / "data" / "test-00000.parquet").write_bytes(data_file.read_bytes())
    assert "unlisted file data/test-00000.parquet" in verify(release)


def test_dataset_cards_of_two_releases_never_share_a_datasets_cache_entry(tmp_path):
    import datasets

    lake = Lake(tmp_path / "lake")
    a = publish(lake, "a", table(3))
    b = publish(lake, "b", pa.table({"sample_id": ["x"], "other": [1.5]}))
    assert (a.path.name, b.path.name) == ("1", "1")  # same base name: the cache key needs the config name
    assert datasets.load_dataset(str(a.path))["train"].column_names == ["sample_id", "value"]
    assert datasets.load_dataset(str(b.path))["train"].column_names == ["sample_id", "other"]


def test_components_join_rows_linked_by_conversation_or_cluster():
    start = np.array([50, 40, 30, 20, 10], dtype=np.uint64)
    conversation = np.array([0, 0, 1, 2, 3])  # rows 0 and 1 share a conversation
    cluster = np.array([0, 1, 1, 2, 3])  # rows 1 and 2 share a cluster: 0, 1, 2 form one group
    label = splits.components(start, [conversation, cluster])
    assert label.tolist() == [30, 30, 30, 20, 10]
    mixed = splits.splitmix64(np.arange(100_000, dtype=np.uint64)).astype(np.float64) / 2.0**64
    assert 0.49 < float((mixed < 0.5).mean()) < 0.51


def test_ratio_targets():
    assert mixture.ratio_targets({"a": 100, "b": 10}, {"a": 1, "b": 1}, None) == {"a": 10, "b": 10}
    assert mixture.ratio_targets({"a": 100, "b": 100}, {"a": 3, "b": 1}, None) == {"a": 100, "b": 33}
    assert mixture.ratio_targets({"a": 100, "b": 5}, {"a": 1, "b": 1}, 40) == {"a": 20, "b": 5}


def test_report_shifts_equal_the_registry_compare():
    chosen = [("hi", "Sure! Here is a list:\n- one\n- two\nWant more? \U0001f600"), ("hey", "Absolutely! Great.")]
    rejected = [("hi", "no"), ("hey", "I can't help with that, as an AI.")]
    summary = {name: style_artifacts.summarize(rows) for name, rows in (("chosen", chosen), ("rejected", rejected))}
    ours = artifacts_report.shifts(summary["rejected"], summary["chosen"], {"refusal": 0.9})
    theirs = style_artifacts.compare(rejected, chosen, {"refusal": 0.9})
    assert ours == theirs


def test_shingles_are_word_ngrams_of_normalized_text():
    assert shingles("Hello, World! How are you?", 3) == {"hello world how", "world how are", "how are you"}
    assert shingles("OK!", 3) == {"ok"} and shingles("...", 3) == set()
