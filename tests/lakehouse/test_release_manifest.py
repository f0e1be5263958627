"""The typed release manifest (lakehouse/manifest.py): it reads back exactly what ReleaseWriter wrote, its
dump is the JSON on disk (so the content hash is unchanged), and a drifted manifest is refused."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
from pydantic import ValidationError

from curation.releases.build import build
from curation.releases.config import ReleaseEntry
from curation.releases.manifest import CuratedManifest
from lakehouse.lake import Lake
from lakehouse.manifest import ReleaseManifest
from lakehouse.releases import ReleaseWriter, content_hash
from tests.helpers.release_lakes import all_records, ingest


def _publish(lake: Lake, **finalize):
    writer = ReleaseWriter(lake, "typed", "prompt", leak_scan="skip", reason="manifest model test", requested_by="ci")
    writer.write_split("train", pa.table({"sample_id": ["s-1", "s-2"], "prompt": ["a", "b"]}))
    writer.write_split("test", pa.table({"sample_id": ["s-3"], "prompt": ["c"]}))
    writer.finalize(parents={"tables": {"samples": 3}}, recipe={"n": 3}, split_method="hash", dropped={}, **finalize)
    return writer.publish()


def test_the_manifest_model_round_trips_a_manifest_written_by_release_writer(tmp_path):
    release = _publish(Lake(tmp_path), extra={"frozen_eval": True, "notes": ["one note"], "rows_in": 3})
    on_disk = json.loads((release.path / "manifest.json").read_text())
    model = release.manifest_model
    assert model.to_json_dict() == on_disk
    assert content_hash(model.to_json_dict()) == on_disk["content_hash"] == model.content_hash
    assert (model.version, model.type, model.splits) == (1, "prompt", {"train": 2, "validation": 0, "test": 1})
    assert [(f.path, f.split, f.rows) for f in model.files] == [
        ("data/test-00000.parquet", "test", 1),
        ("data/train-00000.parquet", "train", 2),
    ]
    assert model.leak_scan is not None and model.leak_scan.mode == "skip" and model.leak_scan.requested_by == "ci"
    assert model.sections == {"frozen_eval": True, "notes": ["one note"], "rows_in": 3}


def test_the_curated_view_types_the_builder_sections_and_still_round_trips(tmp_path):
    release = _publish(Lake(tmp_path), extra={"frozen_eval": True, "rows_in": 3, "strata": {"origin": {"sim": 3}}})
    curated = CuratedManifest.model_validate(release.manifest)
    assert curated.frozen_eval is True and curated.rows_in == 3 and curated.strata == {"origin": {"sim": 3}}
    assert curated.mixture == [] and curated.notes == []  # absent sections read as empty
    assert curated.to_json_dict() == release.manifest


def test_a_manifest_missing_a_field_or_with_a_bad_file_entry_is_refused(tmp_path):
    manifest = _publish(Lake(tmp_path)).manifest
    with pytest.raises(ValidationError, match="content_hash"):
        ReleaseManifest.model_validate({k: v for k, v in manifest.items() if k != "content_hash"})
    manifest["files"][0]["checksum"] = "x"
    with pytest.raises(ValidationError, match="checksum"):
        ReleaseManifest.model_validate(manifest)


@pytest.mark.parametrize("kind", ["sft", "preference", "unpaired"])
def test_a_release_curation_built_reads_as_the_curated_manifest_and_round_trips(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", "k" * 40)
    ingest(tmp_path / "lake", all_records())
    entry = ReleaseEntry.model_validate({"name": kind, "type": kind, "allow_unscrubbed": True})
    release = build(Lake(tmp_path / "lake"), entry, code_version="test").release
    curated = CuratedManifest.model_validate(release.manifest)
    assert curated.to_json_dict() == release.manifest
    assert curated.rows_in == sum(curated.splits.values()) + sum(curated.dropped.values())
    assert curated.split["method"] == curated.split_method and curated.text_layer is not None
