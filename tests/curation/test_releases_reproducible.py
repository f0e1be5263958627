"""Reproducible releases: the content hash depends on the data and the recipe only (not on run ids, times
or table versions), the manifest records the version of every input table, and `flywheel releases
rebuild NAME@V` makes a release again from those versions (Delta time travel) and checks its hash."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from curation.pipeline import runner
from curation.pipeline.recipe import parse
from lakehouse import tables
from lakehouse.lake import Lake
from lakehouse.releases import list_releases
from tests.helpers import sim_lake
from tests.helpers.cli import flywheel
from tests.helpers.records import line, record, write_lines

RELEASES = [entry for entry in sim_lake.RELEASES if entry["name"] in ("eval-prompts", "sft", "rl-prompts")]


def curate(lake: Lake, paths: list[str]):
    stages = [
        {"stage": "ingest", "paths": paths},
        {"stage": "scrub", "mode": "placeholder"},
        {"stage": "dedup"},
        {"stage": "release", "releases": RELEASES},
    ]
    result = runner.run(parse({"name": "repro", "stages": stages}), lake, Console(quiet=True))
    assert result.status == "succeeded", result.error
    return result


def hashes(lake: Lake) -> dict[str, str]:
    return {r.ref: r.manifest["content_hash"] for r in list_releases(lake)}


@pytest.mark.slow
def test_two_clean_runs_give_identical_hashes_and_a_release_rebuilds_from_its_table_versions(tmp_path, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", "k" * 40)
    simulated = sim_lake.simulate(tmp_path / "sim", conversations=150)
    inputs = [str(simulated / "traffic")]
    one, two = Lake(tmp_path / "one"), Lake(tmp_path / "two")
    curate(one, inputs)
    curate(two, inputs)
    run_ids = {
        lake.read(tables.BRONZE_CONVERSATIONS, columns=["origin"])["origin"][0].as_py()["run_id"] for lake in (one, two)
    }
    assert len(run_ids) == 2  # the bronze rows differ (run ids) ...
    assert len(hashes(one)) == len(RELEASES) and hashes(one) == hashes(two)  # ... the releases do not

    sft = next(r for r in list_releases(one) if r.name == "sft")
    recorded = sft.manifest["parents"]["tables"]
    assert recorded["silver/conversations"] == one.version(tables.SILVER_CONVERSATIONS)
    assert all(isinstance(v, int) for v in recorded.values() if v is not None)

    # new traffic moves the tables on; the release still rebuilds from the versions it recorded
    extra = write_lines(tmp_path / "more.jsonl", [line(record(i, source="user")) for i in range(40)])
    curate(one, [*inputs, str(extra)])
    assert one.version(tables.SILVER_CONVERSATIONS) > recorded["silver/conversations"]
    done = flywheel("releases", "rebuild", sft.ref, "--lake", str(one.root))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{sft.ref}: ok, rebuilt from" in done.stdout and "silver/conversations@v" in done.stdout

    # a manifest whose hash no longer matches what its table versions give is reported, exit 1
    manifest_path = sft.path / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["content_hash"] = "0" * 64
    manifest_path.write_text(json.dumps(manifest))
    mismatch = flywheel("releases", "rebuild", sft.ref, "--lake", str(one.root))
    assert mismatch.returncode == 1 and "MISMATCH" in mismatch.stderr
