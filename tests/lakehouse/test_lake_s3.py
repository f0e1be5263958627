"""The lake on object storage: the same recipe with `--lake s3://BUCKET/PREFIX` against a real S3-compatible
server (moto's server mode on 127.0.0.1, started here) gives the releases a local lake gives; `flywheel
sql` reads it; a release loads from it and verifies; the commit lock is a conditional write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from rich.console import Console

from curation.pipeline import runner
from curation.pipeline.recipe import parse
from lakehouse import location, tables
from lakehouse.lake import Lake, LakeError, vacuum
from lakehouse.releases import list_releases, verify
from tests.curation.test_releases_reproducible import RELEASES
from tests.helpers import sim_lake
from tests.helpers.s3_server import s3_server

CONVERSATIONS = 40
BUCKET = "flywheel-test"


@pytest.fixture(scope="module")
def server():
    with s3_server(BUCKET) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    return sim_lake.simulate(tmp_path_factory.mktemp("s3sim"), conversations=CONVERSATIONS)


def curate(lake: Lake, simulated) -> None:
    stages = [
        {"stage": "ingest", "paths": [str(simulated / "traffic")]},
        {"stage": "scrub", "mode": "placeholder"},
        {"stage": "dedup"},
        {"stage": "release", "releases": RELEASES},
    ]
    result = runner.run(parse({"name": "s3", "stages": stages}), lake, Console(quiet=True))
    assert result.status == "succeeded", result.error


def flywheel(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from lakehouse.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ},
    )


@pytest.mark.slow
def test_a_recipe_on_s3_gives_the_releases_of_a_local_lake_and_sql_and_release_loading_read_it(
    server, simulated, tmp_path, monkeypatch
):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", "k" * 40)
    monkeypatch.setenv("FLYWHEEL_LOCAL_DIR", str(tmp_path / "local"))
    uri = f"s3://{BUCKET}/lakes/one"
    remote, local = Lake(uri), Lake(tmp_path / "local-lake")
    assert remote.remote and isinstance(remote.root, location.ObjectPath)
    curate(remote, simulated)
    curate(local, simulated)

    hashes = {r.ref: r.manifest["content_hash"] for r in list_releases(remote)}
    assert len(hashes) == len(RELEASES)
    assert hashes == {r.ref: r.manifest["content_hash"] for r in list_releases(local)}

    # the Delta tables are on the server, readable by any Delta reader with the same environment
    from deltalake import DeltaTable

    silver = DeltaTable(f"{uri}/silver/conversations")
    assert silver.to_pyarrow_dataset().count_rows() == CONVERSATIONS
    assert remote.read(tables.SILVER_CONVERSATIONS).num_rows == CONVERSATIONS

    # a release loads from the bucket and verifies against its manifest
    sft = next(r for r in list_releases(remote) if r.name == "sft")
    assert str(sft.path).startswith(f"{uri}/releases/sft/")
    assert verify(sft) == []
    assert sft.read("train").num_rows == sft.manifest["splits"]["train"]

    # `flywheel sql --lake s3://...` in another process, through Arrow datasets (no DuckDB httpfs)
    done = flywheel(
        "sql",
        "SELECT (SELECT count(*) FROM conversations) AS conversations, text_layer, "
        "(SELECT count(*) FROM release_rows WHERE release_name = 'sft') AS sft_rows, "
        "(SELECT count(*) FROM runs) AS runs FROM conversations LIMIT 1",
        "--lake",
        uri,
        "--format",
        "json",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    row = json.loads(done.stdout)[0]
    assert row == {
        "conversations": CONVERSATIONS,
        "text_layer": "silver",
        "sft_rows": sum(sft.manifest["splits"].values()),
        "runs": 1,
    }
    # still read-only: the guard refuses file access there as on a local lake
    refused = flywheel("sql", "SELECT * FROM read_text('/etc/passwd')", "--lake", uri)
    assert refused.returncode != 0 and "passwd" not in refused.stdout

    # vacuum needs a liveness check object stores do not give: a clear refusal, nothing deleted
    with pytest.raises(LakeError, match="not supported yet"):
        vacuum(remote)


def test_a_missing_remote_lake_is_an_error_for_sql_never_a_new_lake(server):
    done = flywheel("sql", "SELECT 1", "--lake", f"s3://{BUCKET}/no/such/lake")
    assert done.returncode == 2 and "no lake at s3://" in done.stderr


def test_label_commands_refuse_a_lake_on_object_storage_with_a_clear_error(server):
    done = flywheel("label", "queue", "list", "--lake", f"s3://{BUCKET}/lakes/labels")
    assert done.returncode == 2 and "the label store needs a local lake directory" in done.stderr


def test_the_commit_lock_on_s3_admits_one_holder_at_a_time_and_takes_over_a_dead_holders_lease(server):
    path = location.parse(f"s3://{BUCKET}/locks/commit.lock")
    inside, overlaps = [0], []

    def hold():
        for _ in range(5):
            with location.exclusive_lock(path):
                inside[0] += 1
                overlaps.append(inside[0])
                inside[0] -= 1

    threads = [threading.Thread(target=hold) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [1] * 15 and not path.exists()

    # a holder that died left its lease; once it is older than LEASE_SECONDS the next writer takes it over
    assert path.create_exclusive(json.dumps({"id": "dead", "at": 0}).encode())
    assert not path.create_exclusive(b"{}")  # If-None-Match: the second create fails
    with location.exclusive_lock(path):
        assert json.loads(path.read_bytes())["id"] != "dead"
    assert not path.exists()


def test_a_release_version_is_claimed_once_on_s3(server, tmp_path):
    target = location.parse(f"s3://{BUCKET}/claims/releases/x/1")
    for n in (1, 2):
        staged = tmp_path / f"staged{n}"
        (staged / "data").mkdir(parents=True)
        (staged / "data" / "train-00000.parquet").write_bytes(b"rows %d" % n)
        (staged / "manifest.json").write_text(json.dumps({"n": n}))
        assert location.publish_dir(staged, target) is (n == 1)
    assert json.loads((target / "manifest.json").read_text()) == {"n": 1}


def test_lake_uris_without_a_bucket_or_with_file_scheme_are_refused():
    with pytest.raises(location.LocationError, match="needs a bucket"):
        location.parse("s3://")
    with pytest.raises(location.LocationError, match="local lake"):
        location.parse("file:///tmp/lake")
