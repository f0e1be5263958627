"""The lake's storage guarantees: atomic commits, recovery after a crash, read-only catalog access."""

from __future__ import annotations

import datetime as dt
import json
import threading

import pyarrow as pa
import pytest

from lakehouse import catalog, schemas, tables
from lakehouse import lake as lake_module
from lakehouse.lake import Lake
from tests.helpers.cli import flywheel
from tests.helpers.lakes import exposures

UTC = dt.UTC


def test_files_are_content_addressed_and_partitioned_by_day(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, pa.concat_tables([exposures(10, 1), exposures(5, 2)]))
    files = lake.files(tables.BRONZE_EXPOSURES)
    assert [f.parent.name for f in files] == ["day=2026-10-01", "day=2026-10-02"]
    other = Lake(tmp_path / "other")
    with other.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, pa.concat_tables([exposures(10, 1), exposures(5, 2)]))
    assert [f.name for f in other.files(tables.BRONZE_EXPOSURES)] == [f.name for f in files]
    assert other.snapshot_id(tables.BRONZE_EXPOSURES) == lake.snapshot_id(tables.BRONZE_EXPOSURES)
    assert lake.read(tables.BRONZE_EXPOSURES).num_rows == 15


def test_an_uncommitted_transaction_leaves_nothing_visible(tmp_path):
    lake = Lake(tmp_path)
    with pytest.raises(RuntimeError), lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(3))
        raise RuntimeError("the process dies here")
    assert lake.files(tables.BRONZE_EXPOSURES) == []
    assert not any(lake.staging_root.iterdir())


def test_a_commit_killed_between_two_tables_is_rolled_forward_by_the_next_writer_only(tmp_path, monkeypatch):
    lake = Lake(tmp_path)
    applied = []
    real_apply = lake_module.apply_intent

    def die_after_first_table(the_lake, record, *opened):
        first = dict(record, tables=dict(list(record["tables"].items())[:1]))
        real_apply(the_lake, first, *opened)
        applied.append(record)
        raise KeyboardInterrupt("killed between the two tables' commits")

    monkeypatch.setattr(lake_module, "apply_intent", die_after_first_table)
    tx = lake.transaction()
    tx.write(tables.BRONZE_EXPOSURES, exposures(4))
    tx.write(tables.INGESTED_FILES, pa.Table.from_pylist([], schema=schemas.INGESTED_FILES))
    tx.write(tables.QUARANTINE, pa.Table.from_pylist([], schema=schemas.QUARANTINE))
    tx.write(tables.BRONZE_PREFERENCE_PAIRS, pa.Table.from_pylist([], schema=schemas.PREFERENCE_PAIRS))
    tx.writer(tables.BRONZE_CONVERSATIONS)
    with pytest.raises(KeyboardInterrupt):
        tx.commit()
    monkeypatch.setattr(lake_module, "apply_intent", real_apply)
    intents = list((tmp_path / "_txlog").glob("*.json"))
    assert len(intents) == 1 and len(applied) == 1
    # a reader changes nothing: the intent stays until a writer comes
    catalog.refresh(Lake(tmp_path))
    assert list((tmp_path / "_txlog").glob("*.json")) == intents
    with Lake(tmp_path).transaction() as other:
        other.write(tables.BRONZE_EXPOSURES, exposures(2, day=3))
    assert not list((tmp_path / "_txlog").glob("*.json"))
    assert Lake(tmp_path).read(tables.BRONZE_EXPOSURES).num_rows == 4 + 2


def test_replace_swaps_a_whole_table(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(6))
    with lake.transaction() as tx:
        tx.replace(tables.BRONZE_EXPOSURES, exposures(2))
    assert lake.read(tables.BRONZE_EXPOSURES).num_rows == 2


def test_catalog_has_typed_empty_tables_and_is_read_only(tmp_path):
    lake = Lake(tmp_path)
    catalog.refresh(lake)
    con = catalog.connect(lake)
    assert con.execute("SELECT count(*) FROM samples").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    columns = dict(
        con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'bronze_conversations'"
        ).fetchall()
    )
    assert columns["started_at"] == "TIMESTAMP WITH TIME ZONE" and columns["day"] == "DATE"
    with pytest.raises(Exception, match="read-only"):
        con.execute("CREATE TABLE x (a INT)")
    con.close()


def test_readers_are_never_locked_out_by_a_refresh(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(8))
    catalog.refresh(lake)
    errors: list[Exception] = []
    readers = [catalog.connect(lake) for _ in range(2)]

    def refresh_repeatedly():
        try:
            for _ in range(5):
                catalog.refresh(lake)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)

    thread = threading.Thread(target=refresh_repeatedly)
    thread.start()
    for _ in range(20):
        for con in readers:
            assert con.execute("SELECT count(*) FROM exposures").fetchone() == (8,)
    thread.join()
    assert errors == []
    fresh = catalog.connect(lake)
    assert fresh.execute("SELECT count(*) FROM exposures").fetchone() == (8,)


def test_sql_command_formats(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(4))
    catalog.refresh(lake)
    query = "SELECT arm, count(*) AS n FROM exposures GROUP BY arm ORDER BY arm"
    csv_out = flywheel("sql", query, "--lake", str(tmp_path), "--format", "csv")
    assert csv_out.returncode == 0, csv_out.stderr
    assert csv_out.stdout.splitlines() == ["arm,n", "control,2", "test,2"]
    json_out = flywheel("sql", query, "--lake", str(tmp_path), "--format", "json")
    assert json.loads(json_out.stdout) == [{"arm": "control", "n": 2}, {"arm": "test", "n": 2}]
    table_out = flywheel("sql", query, "--lake", str(tmp_path))
    assert "control" in table_out.stdout and "2 rows" in table_out.stdout
    bad = flywheel("sql", "SELECT * FROM nowhere", "--lake", str(tmp_path))
    assert bad.returncode == 1 and "nowhere" in bad.stderr


def test_interactive_prompt_reads_statements_from_stdin(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(3))
    script = ".format csv\nSELECT count(*) AS n\nFROM exposures;\n.tables\n.quit\n"
    result = flywheel("sql", "--lake", tmp_path, input=script)
    assert result.returncode == 0, result.stderr
    assert "n\n3\n" in result.stdout and "samples" in result.stdout


def test_retention_purges_old_raw_partitions_only(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, pa.concat_tables([exposures(3, 1), exposures(3, 20)]))
    catalog.refresh(lake)
    listed = flywheel(
        "retention",
        "--keep-days",
        "10",
        "--as-of",
        "2026-10-25",
        "--lake",
        str(tmp_path),
        "--table",
        "bronze/exposures",
        "--dry-run",
    )
    assert "would delete bronze/exposures day=2026-10-01" in listed.stdout
    assert lake.read(tables.BRONZE_EXPOSURES).num_rows == 6
    done = flywheel(
        "retention",
        "--keep-days",
        "10",
        "--as-of",
        "2026-10-25",
        "--lake",
        str(tmp_path),
        "--table",
        "bronze/exposures",
    )
    assert done.returncode == 0, done.stderr
    assert [f.parent.name for f in lake.files(tables.BRONZE_EXPOSURES)] == ["day=2026-10-20"]
    con = catalog.connect(lake)
    assert con.execute("SELECT count(*) FROM exposures").fetchone() == (3,)
    assert con.execute("SELECT command FROM runs").fetchall() == [("retention",)]


def test_a_damaged_release_file_is_reported_not_fatal(tmp_path):
    from lakehouse.releases import ReleaseWriter

    lake = Lake(tmp_path)
    for name in ("good", "bad"):
        writer = ReleaseWriter(lake, name, "prompt")
        writer.write_split("train", pa.table({"prompt": [[{"role": "user", "content": "hi"}]], "sample_id": [name]}))
        writer.finalize(parents={}, recipe={}, split_method="conversation", dropped={})
        writer.publish()
    (tmp_path / "releases" / "bad" / "1" / "data" / "train-00000.parquet").write_bytes(b"not parquet")
    catalog.refresh(lake)
    con = catalog.connect(lake)
    assert con.execute("SELECT release_name, sample_id FROM release_rows").fetchall() == [("good", "good")]
    ((path, problem),) = con.execute("SELECT path, problem FROM catalog_problems").fetchall()
    assert path.endswith("bad/1/data/train-00000.parquet") and "unreadable Parquet" in problem
