"""`flywheel simulate --num-bad-records N` plants N malformed records that ingest quarantines, each for the
reason its id names (so the README's quarantine query has something to show on the default lake); with
the default 0 the traffic is unchanged byte for byte."""

from __future__ import annotations

import json

from rich.console import Console

from curation.pipeline import runner
from curation.pipeline.recipe import parse
from curation.simulator import SimulationConfig, run_simulation
from lakehouse import catalog
from lakehouse.lake import Lake


def test_planted_bad_records_are_quarantined_for_the_reason_they_name(tmp_path, monkeypatch):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", "k" * 40)
    out = tmp_path / "sim"
    run_simulation(SimulationConfig(conversations=6, seed=7, bad_records=10), out, workers=1, progress=False)
    lake = Lake(tmp_path / "lake")
    stage = {"stage": "ingest", "paths": [str(out / "traffic")]}
    result = runner.run(parse({"name": "t", "stages": [stage]}), lake, Console(quiet=True), command="ingest")
    assert result.status == "succeeded", result.error
    con = catalog.connect(lake)
    try:
        rows = con.sql("SELECT reason, raw FROM quarantine").fetchall()
    finally:
        con.close()
    assert len(rows) == 10
    planted = {}
    for reason, raw in rows:
        text = bytes(raw).decode()
        cid = json.loads(text)["conversation_id"] if reason != "invalid_json" else text.split('"')[3]
        planted[cid] = reason
    assert all(cid.endswith(reason) for cid, reason in planted.items()), planted
    assert set(planted.values()) == {"invalid_json", "empty_messages", "unknown_role", "bad_timestamp", "invalid_value"}


def test_no_bad_records_by_default_and_the_traffic_bytes_do_not_depend_on_them(tmp_path):
    clean, dirty = tmp_path / "clean", tmp_path / "dirty"
    run_simulation(SimulationConfig(conversations=6, seed=7), clean, workers=1, progress=False)
    run_simulation(SimulationConfig(conversations=6, seed=7, bad_records=3), dirty, workers=1, progress=False)
    assert sorted(p.name for p in (clean / "traffic").iterdir()) == ["part-00000.jsonl.gz"]
    assert (clean / "traffic" / "part-00000.jsonl.gz").read_bytes() == (
        dirty / "traffic" / "part-00000.jsonl.gz"
    ).read_bytes()
    assert (dirty / "traffic" / "malformed.jsonl.gz").exists()
