"""Read-only SQL is read-only: the `flywheel sql` shell, reviewer queue SQL and recipe conditions cannot write,
attach, install, change settings or read files outside the lake's tables (issue 13, item 4)."""

from __future__ import annotations

import threading

import pyarrow as pa
import pytest

from labeling_app import annotators, sources
from lakehouse import catalog, sql_guard, sql_shell, tables
from lakehouse.lake import Lake
from tests.helpers.cli import flywheel
from tests.helpers.label_lake import conversation, make_lake

KEY_TEXT = "0123456789abcdef0123456789abcdef-secret-key"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A lake with conversations, an annotators file inside it (labels/annotators.yaml) and an HMAC key file
    outside it (.flywheel/hmac.key), as `flywheel ingest` and `flywheel label annotator add` leave them."""
    base = tmp_path_factory.mktemp("readonly")
    root = make_lake(base / "lake", [conversation(i) for i in range(4)])
    key = base / ".flywheel" / "hmac.key"
    key.parent.mkdir()
    key.write_text(KEY_TEXT + "\n")
    _, token = annotators.add(annotators.default_path(root), "ana", "annotator")
    outside = base / "outside.parquet"
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x": [1]}), outside)
    return {
        "base": base,
        "lake": Lake(root),
        "key": key,
        "annotators": annotators.default_path(root),
        "token": token,
        "outside": outside,
    }


def run(world, query: str, capsys) -> tuple[int, str, str]:
    code = sql_shell.run_one(world["lake"], query, format="csv")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_select_over_the_catalog_still_works(world, capsys):
    code, out, err = run(world, "SELECT count(*) AS n FROM conversations", capsys)
    assert (code, out, err) == (0, "n\n4\n", "")
    code, out, _ = run(world, "DESCRIBE samples", capsys)
    assert code == 0 and "sample_id" in out


def test_reading_lake_tables_by_path_is_allowed(world, capsys):
    pattern = world["lake"].root / "bronze" / "conversations" / "**" / "*.parquet"
    code, out, err = run(world, f"SELECT count(*) AS n FROM read_parquet('{pattern}')", capsys)
    assert (code, out) == (0, "n\n4\n"), err


STATEMENTS = {
    "copy_to_silver": "COPY (SELECT 1 AS x) TO '{lake}/silver/conversations/evil.parquet' (FORMAT parquet)",
    "copy_to_outside": "COPY (SELECT 1 AS x) TO '{base}/evil.csv'",
    "copy_from": "COPY conversations FROM '{base}/outside.parquet'",
    "attach_read_write": "ATTACH '{base}/evil.duckdb' AS evil (READ_WRITE)",
    "attach_catalog": "ATTACH '{lake}/catalog.duckdb' AS again",
    "detach": "DETACH lake",
    "install": "INSTALL httpfs",
    "load": "LOAD httpfs",
    "set_external_access": "SET enable_external_access = true",
    "set_allowed_directories": "SET allowed_directories = ['/']",
    "reset": "RESET lock_configuration",
    "pragma": "PRAGMA database_list",
    "call": "CALL pragma_version()",
    "checkpoint": "CHECKPOINT",
    "export": "EXPORT DATABASE '{base}/dump'",
    "import": "IMPORT DATABASE '{base}/dump'",
    "create_secret": "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
    "create_table": "CREATE TABLE t AS SELECT 1",
    "create_temp_table": "CREATE TEMP TABLE t AS SELECT 1",
    "insert": "INSERT INTO conversations SELECT * FROM conversations",
    "delete": "DELETE FROM bronze_conversations",
    "drop_view": "DROP VIEW conversations",
    "use": "USE memory",
    "vacuum": "VACUUM",
    "explain_analyze": "EXPLAIN ANALYZE SELECT 1",
    "second_statement": "SELECT 1; COPY (SELECT 1) TO '{base}/second.csv'",
    "second_statement_set": "SELECT 1; SET enable_external_access = true",
}


@pytest.mark.parametrize("name", sorted(STATEMENTS))
def test_statements_other_than_one_select_are_refused(world, capsys, name):
    query = STATEMENTS[name].format(lake=world["lake"].root, base=world["base"])
    code, out, err = run(world, query, capsys)
    assert code == 1 and out == ""
    assert err.startswith("error: ") and ("SELECT queries only" in err or "one statement at a time" in err), err
    assert not (world["lake"].root / "silver").exists()
    assert not list(world["base"].glob("evil*")) and not (world["base"] / "second.csv").exists()


def secret_reads(world) -> dict[str, str]:
    key, people = world["key"], world["annotators"]
    return {
        "read_text_key": f"SELECT content FROM read_text('{key}')",
        "read_blob_key": f"SELECT content FROM read_blob('{key}')",
        "read_csv_key": f"SELECT * FROM read_csv('{key}', header = false)",
        "read_csv_auto_key": f"SELECT * FROM '{key}'",
        "sniff_csv_key": f"SELECT * FROM sniff_csv('{key}')",
        "glob_key_dir": f"SELECT * FROM glob('{key.parent}/*')",
        "read_text_annotators": f"SELECT content FROM read_text('{people}')",
        "read_csv_annotators": f"SELECT * FROM read_csv('{people}', header = false)",
        "glob_labels_dir": f"SELECT * FROM glob('{people.parent}/*')",
        "dotdot_from_a_table_dir": f"SELECT content FROM read_text('{world['lake'].root}/bronze/../labels/annotators.yaml')",
        "label_store": f"SELECT content FROM read_blob('{people.parent}/labels.sqlite')",
        "parquet_outside_the_lake": f"SELECT * FROM read_parquet('{world['outside']}')",
        "etc_passwd": "SELECT content FROM read_text('/etc/passwd')",
        "relative_path": "SELECT content FROM read_text('.flywheel/hmac.key')",
        "json_outside": f"SELECT * FROM read_json('{key}')",
        "subquery": f"SELECT (SELECT content FROM read_text('{key}')) AS k",
        "http": "SELECT * FROM read_csv('https://example.com/x.csv')",
    }


@pytest.mark.parametrize(
    "name",
    [
        "read_text_key",
        "read_blob_key",
        "read_csv_key",
        "read_csv_auto_key",
        "sniff_csv_key",
        "glob_key_dir",
        "read_text_annotators",
        "read_csv_annotators",
        "glob_labels_dir",
        "dotdot_from_a_table_dir",
        "label_store",
        "parquet_outside_the_lake",
        "etc_passwd",
        "relative_path",
        "json_outside",
        "subquery",
        "http",
    ],
)
def test_files_outside_the_lake_tables_are_unreadable(world, capsys, name):
    code, out, err = run(world, secret_reads(world)[name], capsys)
    assert code == 1 and out == "", out
    if name == "read_csv_auto_key":  # a bare path: DuckDB's replacement scans are off with external access
        assert "does not exist" in err, err
    else:
        assert "disabled by configuration" in err or "disabled through configuration" in err, err
        assert "read-only SQL reads only the lake's tables" in err
    assert KEY_TEXT not in out + err and world["token"] not in out + err


def test_the_shell_command_refuses_with_a_clear_message_and_exit_1(world):
    copy = f"COPY (SELECT 1) TO '{world['lake'].root}/bronze/evil.csv'"
    result = flywheel("sql", copy, "--lake", world["lake"].root)
    assert result.returncode == 1
    assert "read-only SQL runs SELECT queries only; COPY statements are refused" in result.stderr
    assert not (world["lake"].root / "bronze" / "evil.csv").exists()


def test_the_interactive_prompt_refuses_and_goes_on(world):
    script = (
        f"SELECT content FROM read_text('{world['key']}');\nINSTALL httpfs;\n"
        "SET enable_external_access = true;\n.format csv\nSELECT count(*) AS n FROM conversations;\n"
    )
    result = flywheel("sql", "--lake", world["lake"].root, input=script)
    assert result.returncode == 0
    assert "n\n4\n" in result.stdout and KEY_TEXT not in result.stdout
    assert result.stderr.count("error: ") == 3
    assert "INSTALL statements are refused" in result.stderr and "SET statements are refused" in result.stderr


def test_locking_one_connection_leaves_other_catalog_readers_alone(world):
    locked = sql_guard.connect(world["lake"])
    plain = catalog.connect(world["lake"])
    try:
        assert plain.execute("SELECT current_setting('enable_external_access')").fetchone() == (True,)
        assert locked.execute("SELECT current_setting('lock_configuration')").fetchone() == (True,)
    finally:
        locked.close()
        plain.close()


@pytest.mark.parametrize(
    "query",
    [
        "COPY (SELECT 1) TO '{base}/queue.csv'",
        "ATTACH '{base}/q.duckdb' (READ_WRITE)",
        "SELECT 1 AS sample_id; SET threads = 1",
    ],
)
def test_queue_sql_refuses_statements_other_than_one_select(world, query):
    with pytest.raises(sources.SourceError, match="the query was refused: "):
        sources.load_items(world["lake"].root, "rating", query.format(base=world["base"]))
    assert not (world["base"] / "queue.csv").exists() and not (world["base"] / "q.duckdb").exists()


def test_queue_sql_cannot_read_the_key_or_the_annotators_file(world):
    for path in (world["key"], world["annotators"]):
        query = (
            f"SELECT sample_id, prompt, response || (SELECT content FROM read_text('{path}')) AS response FROM samples"
        )
        with pytest.raises(sources.SourceError, match="disabled by configuration"):
            sources.load_items(world["lake"].root, "rating", query)


@pytest.mark.parametrize(
    "condition",
    [
        "true)) s; COPY (SELECT 1) TO '/tmp/flywheel-evil.csv'; SELECT ((1",
        "true) s; COPY (SELECT 1) TO '/tmp/flywheel-evil.csv' --",
        "true; SELECT 1",
        "true -- the rest of the query",
        "true /* unterminated",
        "true) OR (true",
        "a, b",
        "",
    ],
)
def test_recipe_conditions_that_are_not_one_expression_are_refused_when_the_recipe_loads(condition):
    from pydantic import ValidationError

    from curation.releases.config import ReleaseEntry

    with pytest.raises(ValidationError, match="not one SQL expression|holds an SQL comment"):
        ReleaseEntry(name="r", type="sft", filter=condition)
    with pytest.raises(ValidationError, match="not one SQL expression|holds an SQL comment"):
        ReleaseEntry(name="r", type="sft", sources=[{"kind": "samples", "name": "s", "filter": condition}])
    with pytest.raises(ValidationError, match="chosen_when"):
        ReleaseEntry(
            name="r", type="preference", sources=[{"kind": "regenerations", "name": "g", "chosen_when": condition}]
        )
    with pytest.raises(ValidationError, match="undesirable"):
        ReleaseEntry(name="r", type="unpaired", sources=[{"kind": "signals", "name": "g", "undesirable": condition}])


def test_recipe_conditions_with_subqueries_strings_and_lambdas_are_kept():
    from curation.releases.config import ReleaseEntry

    condition = (
        "source IN (SELECT 'hh') AND content LIKE '%;--%' AND len(list_filter(prompt, lambda m: m.role = 'user')) > 1"
    )
    assert ReleaseEntry(name="r", type="sft", filter=condition).filter == condition


def test_the_release_build_connection_cannot_read_the_key(world):
    import duckdb

    from curation.releases.inputs import open_inputs

    inputs = open_inputs(world["lake"], threads=1)
    try:
        assert inputs.con.execute("SELECT count(*) FROM release_samples").fetchone()[0] > 0
        with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
            inputs.con.execute(
                f"SELECT * FROM release_samples WHERE sample_id IN (SELECT content FROM read_text('{world['key']}'))"
            )
        with pytest.raises(duckdb.Error, match="locked"):
            inputs.con.execute("SET enable_external_access = true")
    finally:
        inputs.close()


def test_locked_readers_keep_working_while_a_writer_commits(tmp_path):
    """Many locked readers at once, while a writer commits and refreshes the catalog: no reader errors."""
    lake = Lake(tmp_path / "lake")
    row = {"experiment_id": "e", "arm": "a", "user_id": "u", "exposed_at": None, "origin": None}
    import datetime as dt

    def batch(i: int) -> pa.Table:
        stamp = dt.datetime(2026, 10, 1 + i % 5, tzinfo=dt.UTC)
        return pa.Table.from_pylist(
            [{**row, "user_id": f"u{i}", "exposed_at": stamp}], schema=tables.BRONZE_EXPOSURES.schema
        )

    with lake.transaction() as tx:
        tx.write(tables.BRONZE_EXPOSURES, batch(0))
    catalog.refresh(lake)
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                con = sql_guard.connect(lake)
                try:
                    assert con.execute("SELECT count(*) FROM exposures").fetchone()[0] >= 1
                finally:
                    con.close()
            except Exception as exc:
                errors.append(repr(exc))

    threads = [threading.Thread(target=reader) for _ in range(12)]
    for t in threads:
        t.start()
    for i in range(1, 8):
        with lake.transaction() as tx:
            tx.write(tables.BRONZE_EXPOSURES, batch(i))
        catalog.refresh(lake)
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


def test_catalog_views_with_lake_relative_paths_are_readable_and_secrets_are_not(world, monkeypatch):
    """A catalog whose views name files relative to the lake root (resolved through file_search_path, as a
    movable lake's catalog does) reads through the locked connection; relative paths to the annotators
    file or the key are refused, from any working directory."""
    import duckdb

    lake = world["lake"]
    files = [str(p.relative_to(lake.root)) for p in lake.files(tables.BRONZE_CONVERSATIONS)]
    pinned = lake.root / ".relative-catalog.duckdb"
    build = duckdb.connect(str(pinned))
    build.execute("SET file_search_path = ?", [str(lake.root)])
    listed = "[" + ", ".join(f"'{f}'" for f in files) + "]"
    build.execute(f"CREATE VIEW rel AS SELECT * FROM read_parquet({listed}, hive_partitioning = true)")
    build.close()
    monkeypatch.chdir(world["base"])  # holds .flywheel/hmac.key, like a project directory
    con = sql_guard.connect(lake, catalog_path=pinned)
    try:
        assert con.execute("SELECT count(*) FROM rel").fetchone() == (4,)
        for path in (
            "labels/annotators.yaml",
            ".flywheel/hmac.key",
            "bronze/../labels/annotators.yaml",
            "bronze/../../.flywheel/hmac.key",
        ):
            with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
                con.execute(f"SELECT content FROM read_text('{path}')")
    finally:
        con.close()
        pinned.unlink()
