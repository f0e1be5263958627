"""The lake as Delta tables: versions and time travel, conflicts between writers, snapshot-pinned and
relocatable catalog reads, stage output visible only when complete, readers that change nothing."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time

import pyarrow as pa
import pytest

from lakehouse import catalog, schemas, tables
from lakehouse.lake import ConflictError, Lake, LakeError, SchemaMismatchError, vacuum
from tests.helpers.cli import flywheel, start_flywheel
from tests.helpers.lakes import exposures, query
from tests.helpers.records import line, record, write_lines

UTC = dt.UTC
KEY = "k" * 40


def test_every_table_is_a_delta_table_with_versions_and_time_travel(tmp_path):
    from deltalake import DeltaTable

    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(4))
    first = lake.version(tables.BRONZE_EXPOSURES)
    with lake.transaction() as tx:
        tx.replace(tables.BRONZE_EXPOSURES, exposures(2, day=2))
    assert lake.version(tables.BRONZE_EXPOSURES) == first + 1
    assert lake.read(tables.BRONZE_EXPOSURES).num_rows == 2
    assert lake.read(tables.BRONZE_EXPOSURES, version=first).num_rows == 4  # time travel
    delta = DeltaTable(str(tmp_path / "bronze" / "exposures"))
    assert delta.metadata().partition_columns == ["day"] and delta.version() == first + 1
    assert delta.to_pyarrow_table().num_rows == 2  # delta-rs itself reads what we committed


def test_other_engines_read_a_table_directly_as_docs_show(tmp_path):
    """The snippets of docs/architecture.md ("Reading the lake with other engines")."""
    import duckdb
    import polars as pl
    from deltalake import DeltaTable

    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(
            tables.BRONZE_EXPOSURES, pa.concat_tables([exposures(3, 1, arm="control"), exposures(5, 2, arm="test")])
        )
    lake_dir = str(tmp_path)
    # --- snippet: Polars ---
    frame = pl.read_delta(f"{lake_dir}/bronze/exposures")
    # --- snippet: DuckDB over the files of one pinned version ---
    table = DeltaTable(f"{lake_dir}/bronze/exposures")
    files = table.file_uris()
    rows = duckdb.sql(
        f"SELECT arm, count(*) FROM read_parquet({files}, hive_partitioning = true) GROUP BY arm ORDER BY arm"
    ).fetchall()
    # --- end of snippets ---
    assert frame.height == 8 and sorted(frame["arm"].unique().to_list()) == ["control", "test"]
    assert rows == [("control", 3), ("test", 5)] and table.version() == lake.version(tables.BRONZE_EXPOSURES)


def test_a_replace_that_raced_another_writer_is_a_conflict_and_commits_nothing(tmp_path):
    with Lake(tmp_path).transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(3))
    slow, fast = Lake(tmp_path).transaction(), Lake(tmp_path).transaction()
    slow_files = slow.replace(tables.BRONZE_EXPOSURES, exposures(1, day=5))
    fast.replace(tables.BRONZE_EXPOSURES, exposures(2, day=6))
    fast.commit()
    with pytest.raises(ConflictError, match="bronze/exposures changed while this command ran"):
        slow.commit()
    lake = Lake(tmp_path)
    assert lake.read(tables.BRONZE_EXPOSURES).num_rows == 2
    assert not (tmp_path / slow_files[0]).exists()  # the loser's files are gone, the winner's untouched
    assert not any((tmp_path / "_staging").iterdir())


def test_blind_appends_by_two_writers_both_land(tmp_path):
    one, two = Lake(tmp_path).transaction(), Lake(tmp_path).transaction()
    one.write(tables.BRONZE_EXPOSURES, exposures(3))
    two.write(tables.BRONZE_EXPOSURES, exposures(4, day=2))
    one.commit()
    two.commit()
    assert Lake(tmp_path).read(tables.BRONZE_EXPOSURES).num_rows == 7


def test_the_schema_on_disk_is_enforced(tmp_path, monkeypatch):
    with Lake(tmp_path).transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(1))
    other = schemas.EXPOSURES.append(pa.field("extra", pa.string()))
    changed = tables.TableSpec("bronze/exposures", other, time_column="exposed_at")
    monkeypatch.setitem(tables.TABLES, "bronze/exposures", changed)
    rows = exposures(1).append_column("extra", pa.array(["x"]))
    with (
        pytest.raises(SchemaMismatchError, match="bronze/exposures .* has another schema"),
        Lake(tmp_path).transaction() as tx,
    ):
        tx.write(changed, rows)


def test_two_ingest_processes_at_once_keep_each_conversation_once(tmp_path):
    path = write_lines(tmp_path / "in.jsonl", [line(record(i)) for i in range(300)])
    env = {**os.environ, "FLYWHEEL_HMAC_KEY": KEY, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    lake_dir = str(tmp_path / "lake")
    runs = [start_flywheel("ingest", str(path), "--lake", lake_dir, env=env) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in runs]
    codes = [code for code, _ in results]
    assert all(code in (0, 1) for code in codes), results
    assert 0 in codes, results
    for code, err in results:
        if code == 1:
            assert "changed while this command ran" in err and "Traceback" not in err
    ((rows, distinct),) = query(lake_dir, "SELECT count(*), count(DISTINCT conversation_id) FROM bronze_conversations")
    assert rows == distinct == 300


def test_interleaved_ingests_retry_against_the_winners_version(tmp_path, monkeypatch):
    """Deterministic version of the race above: the second ingest's commit meets the first's."""
    from rich.console import Console

    from curation.ingest import ingest as ingest_module
    from curation.pipeline import runner
    from curation.pipeline.recipe import parse

    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", KEY)
    path = write_lines(tmp_path / "in.jsonl", [line(record(i)) for i in range(50)])
    recipe = parse({"name": "t", "stages": [{"stage": "ingest", "paths": [str(path)]}]})
    lake_dir = tmp_path / "lake"
    real_finish = ingest_module.Ingestor.finish
    calls = []

    def finish_after_a_rival_commits(self):
        real_finish(self)
        if not calls:
            calls.append("rival")
            rival = runner.run(recipe, Lake(lake_dir), Console(quiet=True), command="ingest")
            assert rival.status == "succeeded"

    monkeypatch.setattr(ingest_module.Ingestor, "finish", finish_after_a_rival_commits)
    record_ = runner.run(recipe, Lake(lake_dir), Console(quiet=True), command="ingest")
    assert record_.status == "succeeded", record_.error
    ((rows, distinct),) = query(lake_dir, "SELECT count(*), count(DISTINCT conversation_id) FROM bronze_conversations")
    assert rows == distinct == 50
    ingested = record_.stages[0]  # its retry saw the rival's commit: the file is already ingested
    assert calls == ["rival"] and ingested.rows_out == 0 and ingested.details["files_skipped"] == [str(path)]


def test_a_reader_never_deletes_a_live_writers_files(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(2))
    catalog.refresh(lake)
    writer = Lake(tmp_path).transaction()
    staged = writer.write(tables.BRONZE_EXPOSURES, exposures(3, day=9))
    long_ago = time.time() - 3 * 3600  # a writer stalled for hours
    for path in [*(tmp_path / "_staging").rglob("*"), tmp_path / staged[0]]:
        os.utime(path, (long_ago, long_ago))
    done = flywheel("sql", "--lake", str(tmp_path), "SELECT count(*) FROM exposures", "--format", "csv")
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1] == "2"
    Lake(tmp_path).read(tables.BRONZE_EXPOSURES)
    with pytest.raises(LakeError, match="a writer is running"):
        vacuum(Lake(tmp_path), retention_hours=0)
    assert (tmp_path / staged[0]).exists() and writer.dir.exists()
    writer.commit()
    assert Lake(tmp_path).read(tables.BRONZE_EXPOSURES).num_rows == 5


def test_vacuum_deletes_only_unreferenced_files_past_retention(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        old = tx.write(tables.BRONZE_EXPOSURES, exposures(3))
    with lake.transaction() as tx:
        tx.replace(tables.BRONZE_EXPOSURES, exposures(1, day=4))
    assert vacuum(lake, retention_hours=168) == {}
    assert (tmp_path / old[0]).exists()  # still used by version 1 (time travel)
    removed = vacuum(lake, retention_hours=0)
    assert any(old[0].endswith(f) for f in removed["bronze/exposures"])
    assert not (tmp_path / old[0]).exists() and lake.read(tables.BRONZE_EXPOSURES).num_rows == 1


def test_a_copied_lake_reads_itself_after_the_original_is_gone(tmp_path):
    original = tmp_path / "a"
    with Lake(original).transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(6))
    catalog.refresh(Lake(original))
    copy = tmp_path / "b"
    shutil.copytree(original, copy)
    shutil.rmtree(original)
    done = flywheel("sql", "--lake", str(copy), "SELECT count(*) FROM exposures", "--format", "csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "6"


@pytest.mark.parametrize(
    "command",
    [
        ["sql", "SELECT 1"],
        ["releases", "verify"],
        ["releases", "list"],
        ["similar", "hello"],
        ["lake", "versions"],
        ["catalog", "refresh"],
    ],
)
def test_a_missing_lake_is_an_error_and_is_never_created(tmp_path, command):
    typo = tmp_path / "typo"
    done = flywheel(*command, "--lake", str(typo))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "no lake at" in done.stderr and "Traceback" not in done.stderr
    assert not typo.exists()


def test_partial_stage_output_stays_hidden_until_the_stage_completes(tmp_path):
    """What the scrub stage relies on: its per-file commits are partial, the catalog keeps the bronze
    text layer (or the last complete silver) until every input is done."""
    lake = Lake(tmp_path)
    bronze = pa.Table.from_pylist([{**_bronze_row(i)} for i in range(4)], schema=schemas.BRONZE_CONVERSATIONS)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_CONVERSATIONS, bronze)
    silver = pa.Table.from_pylist(
        [{**_bronze_row(i), "pii_counts": []} for i in range(4)], schema=schemas.SILVER_CONVERSATIONS
    )
    with lake.transaction(partial=True) as tx:  # the first of two files scrubbed, then the crash
        tx.write(tables.SILVER_CONVERSATIONS, silver.slice(0, 2))
    catalog.refresh(lake)
    assert query(tmp_path, "SELECT DISTINCT text_layer FROM conversations") == [("bronze",)]
    assert query(tmp_path, "SELECT count(*) FROM silver_conversations") == [(0,)]
    with lake.transaction(partial=True) as tx:  # the rerun finishes the rest ...
        tx.write(tables.SILVER_CONVERSATIONS, silver.slice(2))
    lake.complete(tables.SILVER_CONVERSATIONS)  # ... and completes the stage
    catalog.refresh(lake)
    assert query(tmp_path, "SELECT text_layer, count(*) FROM conversations GROUP BY 1") == [("silver", 4)]


def _bronze_row(i: int) -> dict:
    return {
        "conversation_id": f"c-{i}",
        "source": "app",
        "started_at": dt.datetime(2026, 10, 5, tzinfo=UTC),
        "user_id": None,
        "character": None,
        "model_version": None,
        "experiment": None,
        "app": None,
        "locale": None,
        "messages": [{"role": "user", "content": "hi", "ts": None, "signals": None}],
        "content_hash": f"h{i}",
        "origin": None,
    }


@pytest.mark.slow  # loads presidio and spaCy for the scrub stage
def test_a_scrub_killed_mid_way_never_publishes_half_scrubbed_silver(tmp_path, monkeypatch):
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse import ledger

    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", KEY)
    days = [record(i, started_at=f"2026-10-0{1 + i % 3}T10:00:00Z") for i in range(9)]
    path = write_lines(tmp_path / "in.jsonl", [line(r) for r in days])
    lake = Lake(tmp_path / "lake")

    def run(*stages):
        return runner.run(parse({"name": "t", "stages": list(stages)}), lake, Console(quiet=True))

    assert run({"stage": "ingest", "paths": [str(path)]}).status == "succeeded"
    assert len(lake.files(tables.BRONZE_CONVERSATIONS)) == 3  # one file per day
    real_record, done = ledger.record, []

    def die_on_the_second_file(*args, **kwargs):
        if done:
            raise KeyboardInterrupt("kill -9 during the second bronze file")
        done.append(real_record(*args, **kwargs))

    monkeypatch.setattr(ledger, "record", die_on_the_second_file)
    with pytest.raises(KeyboardInterrupt):
        run({"stage": "scrub", "mode": "placeholder"})
    monkeypatch.setattr(ledger, "record", real_record)
    assert len(lake.files(tables.SILVER_CONVERSATIONS)) == 1  # the first file is committed (partial) ...
    assert query(lake.root, "SELECT DISTINCT text_layer FROM conversations") == [("bronze",)]  # ... not shown
    assert query(lake.root, "SELECT count(*) FROM silver_conversations") == [(0,)]
    assert run({"stage": "scrub", "mode": "placeholder"}).status == "succeeded"  # the rerun resumes
    assert query(lake.root, "SELECT text_layer, count(*) FROM conversations GROUP BY 1") == [("silver", 9)]


def test_lake_migrate_adopts_a_lake_of_the_earlier_format_in_place(tmp_path):
    import pyarrow.parquet as pq

    old = tmp_path / "bronze" / "exposures"
    for day in (1, 2):  # the earlier format: day directories of content-addressed files, no _delta_log
        (old / f"day=2026-10-0{day}").mkdir(parents=True)
        pq.write_table(exposures(3 + day, day=day), old / f"day=2026-10-0{day}" / f"part-{day:024d}.parquet")
    done = flywheel("lake", "migrate", "--lake", str(tmp_path))
    assert done.returncode == 0, done.stderr
    assert "bronze/exposures: 2 files adopted" in done.stdout
    lake = Lake(tmp_path)
    assert lake.version(tables.BRONZE_EXPOSURES) is not None
    assert lake.read(tables.BRONZE_EXPOSURES).num_rows == 4 + 5
    assert query(tmp_path, "SELECT day, count(*) FROM exposures GROUP BY 1 ORDER BY 1") == [
        (dt.date(2026, 10, 1), 4),
        (dt.date(2026, 10, 2), 5),
    ]
    again = flywheel("lake", "migrate", "--lake", str(tmp_path))
    assert again.returncode == 0 and "nothing to migrate" in again.stdout


def test_lake_versions_and_history_show_each_tables_commits(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(2))
    with lake.transaction(partial=True) as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(2, day=3))
    versions = flywheel("lake", "versions", "--lake", str(tmp_path))
    assert versions.returncode == 0, versions.stderr
    assert "bronze/exposures" in versions.stdout and "catalog shows 1: a stage has not finished" in versions.stdout
    history = flywheel("lake", "history", "bronze/exposures", "--lake", str(tmp_path))
    assert history.returncode == 0, history.stderr
    lines = history.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["v2", "v1", "v0"] and lines[0].endswith("partial")


REPLACER = """
import sys, time
from lakehouse import tables
from lakehouse.lake import ConflictError, Lake
from tests.helpers.lakes import exposures
root, rows, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
time.sleep(max(0.0, start - time.time()))
tx = Lake(root).transaction()
tx.replace(tables.BRONZE_EXPOSURES, exposures(rows, day=rows))  # both read the same version ...
time.sleep(1.5)  # ... and commit after the other has read it
try:
    tx.commit()
except ConflictError as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
"""


def test_two_processes_replacing_one_table_end_with_one_whole_result_or_a_conflict(tmp_path):
    with Lake(tmp_path).transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(1))
    start = time.time() + 3  # after both interpreters have imported
    env = {**os.environ, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", REPLACER, str(tmp_path), str(rows), str(start)],
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for rows in (3, 7)
    ]
    results = [(p.wait(timeout=120), p.stderr.read()) for p in runs]
    assert sorted(code for code, _ in results) == [0, 1], results
    loser = next(err for code, err in results if code == 1)
    assert "bronze/exposures changed while this command ran" in loser and "Traceback" not in loser
    winner_rows = (3, 7)[[code for code, _ in results].index(0)]
    table = Lake(tmp_path).read(tables.BRONZE_EXPOSURES)
    assert table.num_rows == winner_rows  # the winner's rows, whole; nothing of the loser
    assert not any((tmp_path / "_staging").iterdir())


def test_a_catalog_connection_keeps_reading_its_snapshot_while_writers_commit(tmp_path):
    lake = Lake(tmp_path)
    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, exposures(5))
    catalog.refresh(lake)
    con = catalog.connect(lake)
    try:
        with lake.transaction() as tx:
            tx.replace(tables.BRONZE_EXPOSURES, exposures(2, day=8))
        catalog.refresh(lake)
        assert con.execute("SELECT count(*) FROM exposures").fetchone() == (5,)  # its version, whole
    finally:
        con.close()
    assert query(tmp_path, "SELECT count(*) FROM exposures") == [(2,)]  # a new connection: the new one
