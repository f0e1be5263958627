"""`flywheel erase` on a small simulated lake run through every stage (ingest with quarantine, scrub, dedup,
embed, cluster, sample, releases) plus a label queue with labels and a snapshot: after erasing a user,
nothing of them is left in any catalog view or in the bytes of any file under the lake (Parquet values
decompressed, other files as raw bytes), except in the release versions the erasure marked superseded;
other users keep every row; a dry run changes nothing; erasing twice is a no-op; an unknown user exits 2."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from rich.console import Console
from typer.testing import CliRunner

from lakehouse import catalog, erasure, superseded, tables
from lakehouse.cli import _register_plugins, app
from lakehouse.lake import Lake
from lakehouse.releases import list_releases, resolve, verify
from tests.helpers.lakes import query
from tests.helpers.records import line, write_lines
from tests.helpers.sim_lake import RELEASES, simulate

pytestmark = pytest.mark.slow
KEY = "erase-test-key-" + "k" * 32
CANARY = "my canary sentence for the erasure test, kraken teaspoon"
STAGES = [
    {"stage": "scrub"},
    {"stage": "dedup"},
    {"stage": "embed"},
    {"stage": "cluster"},
    {"stage": "sample", "target": 120, "max_per_cluster": 12, "max_per_character": 40},
    {"stage": "release", "releases": RELEASES},
]


@dataclass(frozen=True)
class Built:
    root: Path
    clear_id: str
    pseudonym: str
    texts: list[str]  # messages only the subject wrote or got, raw and scrubbed
    other_clear_id: str


def run_recipe(lake: Lake, stages: list[dict]):
    from curation.pipeline import runner
    from curation.pipeline.recipe import parse

    record = runner.run(parse({"name": "erase-test", "stages": stages}), lake, Console(quiet=True))
    assert record.status == "succeeded", record.error
    return {s.name: s for s in record.stages}


def pseudonym(clear: str) -> str:
    from curation.ingest.pseudonymize import Pseudonymizer

    return Pseudonymizer(KEY.encode()).digest(clear)


def traffic(sim: Path) -> list[dict]:
    with gzip.open(sim / "traffic" / "part-00000.jsonl.gz", "rt") as fh:
        return [json.loads(row) for row in fh]


def pick_subject(records: list[dict]) -> tuple[str, str]:
    """The user with the most conversations (more rows in more tables), and another one."""
    counts: dict[str, int] = {}
    for r in records:
        if r.get("user_id") and r["source"] == "user":
            counts[r["user_id"]] = counts.get(r["user_id"], 0) + 1
    ranked = sorted(counts, key=lambda u: (-counts[u], u))
    return ranked[0], ranked[1]


def quarantined_records(records: list[dict], clear: str, other: str) -> list[bytes]:
    """Rejected lines that name the subject (an invalid record, a conflicting copy of their conversation, a
    truncated line) and one of another user, which must stay."""
    mine = next(r for r in records if r["user_id"] == clear)
    empty = {**mine, "conversation_id": "q-empty", "messages": [{"role": "user", "content": ""}]}
    conflicting = {**mine, "messages": mine["messages"] + [{"role": "user", "content": CANARY}]}
    truncated = line({**mine, "conversation_id": "q-cut"})[:120]
    theirs = {
        **next(r for r in records if r["user_id"] == other),
        "conversation_id": "q-other",
        "messages": [{"role": "user", "content": ""}],
    }
    return [line(empty), line(conflicting), truncated, line(theirs)]


def label_everything(root: Path, subject_pseudonym: str) -> None:
    """A rating queue over the subject's samples and a few others (its SQL names the pseudonym, as an
    operator's might), two labels per item, and a snapshot."""
    from labeling_app.queues import create_queue
    from labeling_app.snapshot import snapshot
    from labeling_app.store import Store

    sql = (
        f"SELECT * FROM samples WHERE user_id = '{subject_pseudonym}' OR sample_id IN "
        f"(SELECT sample_id FROM samples WHERE user_id <> '{subject_pseudonym}' ORDER BY sample_id LIMIT 6)"
    )
    created = create_queue(root, kind="rating", source=sql, per_item=2, name="erase-test")
    with Store.for_lake(root) as store:
        for annotator in ("ann-a", "ann-b"):
            while (assignment := store.next_task(created.queue.queue_id, annotator)) is not None:
                store.submit(assignment.task.task_id, annotator, "annotator", {"score": 4})
    snapshot(root)


def distinctive_texts(lake: Lake, pseudonym_: str) -> list[str]:
    """Messages of the subject (both layers) that no other conversation contains, even as a substring."""
    mine, others = set(), []
    for spec in (tables.BRONZE_CONVERSATIONS, tables.SILVER_CONVERSATIONS):
        rows = lake.read(spec, columns=["user_id", "messages"]).to_pylist()
        for row in rows:
            contents = [m["content"] for m in row["messages"] if m["content"]]
            (mine.update(contents) if row["user_id"] == pseudonym_ else others.extend(contents))
    blob = "\n".join(others)
    return sorted(t for t in mine if len(t) >= 25 and t not in blob)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Built:
    monkey = pytest.MonkeyPatch()
    monkey.setenv("FLYWHEEL_HMAC_KEY", KEY)
    base = tmp_path_factory.mktemp("erase")
    sim = simulate(base / "sim", conversations=200, seed=3)
    records = traffic(sim)
    clear, other = pick_subject(records)
    lake = Lake(base / "lake")
    run_recipe(lake, [{"stage": "ingest", "paths": [str(sim / "traffic"), str(sim / "exposures.jsonl.gz")]}])
    extra = write_lines(base / "rejected.jsonl", quarantined_records(records, clear, other))
    run_recipe(lake, [{"stage": "ingest", "paths": [str(extra)]}])
    run_recipe(lake, STAGES)
    label_everything(lake.root, pseudonym(clear))
    plant_run_record(lake, pseudonym(clear))
    catalog.refresh(lake)
    monkey.undo()
    return Built(lake.root, clear, pseudonym(clear), distinctive_texts(lake, pseudonym(clear)) + [CANARY], other)


def plant_run_record(lake: Lake, pseudonym_: str) -> None:
    """A failed run whose error message quotes one of the subject's conversation ids and the pseudonym."""
    from lakehouse.runs import RunRecord, new_run_id, write_run

    conversation = erasure.subject_for(lake, pseudonym_).conversation_ids
    error = f"refused: sample {sorted(conversation)[0]}:1 of user {pseudonym_} failed a check"
    write_run(lake, RunRecord(new_run_id("test"), "test", str(lake.root), status="failed", error=error))


@pytest.fixture()
def built(template, tmp_path, monkeypatch) -> Built:
    """A private copy of the template lake (its own catalog), with the key configured."""
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", KEY)
    monkeypatch.setenv("USER", "dpo-officer")
    root = tmp_path / "lake"
    shutil.copytree(template.root, root)
    catalog.refresh(Lake(root))
    return Built(root, template.clear_id, template.pseudonym, template.texts, template.other_clear_id)


def cli(*args: str):
    _register_plugins()
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def file_digests(root: Path) -> dict[str, str]:
    """Every file's hash but the catalog's and SQLite's side files (a reader creates an empty WAL)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "catalog.duckdb" and not p.name.endswith(("-wal", "-shm"))
    }


def row_counts(root: Path) -> dict[str, int]:
    lake = Lake(root)
    return {
        name: sum(pq.ParquetFile(f).metadata.num_rows for f in lake.files(spec))
        for name, spec in sorted(tables.TABLES.items())
    }


# -- the byte-level search ------------------------------------------------------------------------------------


def _strings(array) -> list:
    """Every string and binary leaf of an Arrow array, however nested."""
    if isinstance(array, pa.ChunkedArray):
        return [leaf for chunk in array.chunks for leaf in _strings(chunk)]
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _strings(array.dictionary)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _strings(array.flatten())
    if pa.types.is_map(kind):
        return _strings(array.keys) + _strings(array.items)
    if pa.types.is_struct(kind):
        return [leaf for i in range(kind.num_fields) for leaf in _strings(array.field(i))]
    if pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind):
        return [array]
    return []


def needles(built: Built) -> list[tuple[str, str]]:
    """(what, RE2-compatible pattern): ids as whole tokens, texts as literal substrings."""
    token = lambda s: rf"(^|[^\w-]){re.escape(s)}($|[^\w-])"  # noqa: E731
    return [("clear id", token(built.clear_id)), ("pseudonym", re.escape(built.pseudonym))] + [
        (f"text {t[:30]!r}", re.escape(t)) for t in built.texts
    ]


def found_in_parquet(path: Path, patterns: list[tuple[str, str]]) -> list[str]:
    table = pq.ParquetFile(path).read()
    hits = []
    for leaf in (leaf for column in table.columns for leaf in _strings(column)):
        for what, pattern in patterns:
            if pc.any(pc.match_substring_regex(leaf, pattern)).as_py():
                hits.append(what)
    return hits


def found_anywhere(root: Path, built: Built, skip: set[Path] = frozenset()) -> dict[str, list[str]]:
    """File -> what of the subject it contains (Parquet decompressed, everything else as raw bytes)."""
    patterns = needles(built)
    raw = [(what, re.compile(pattern.encode())) for what, pattern in patterns]
    found = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p not in skip):
        if path.suffix == ".parquet":
            hits = found_in_parquet(path, patterns)
        else:
            data = path.read_bytes()
            hits = [what for what, pattern in raw if pattern.search(data)]
        if hits:
            found[str(path.relative_to(root))] = hits
    return found


def superseded_data(root: Path) -> set[Path]:
    return {f for r in list_releases(Lake(root)) if superseded.is_superseded(r.path) for f in r.data_files()}


# -- tests ------------------------------------------------------------------------------------------------------


def test_the_lake_holds_the_subject_everywhere_before(built):
    """The test means something: before erasure the subject is in every kind of store."""
    hits = found_anywhere(built.root, built)
    kinds = {path.split("/")[0] for path in hits}
    assert {"bronze", "silver", "quarantine", "labels"} <= kinds, hits
    assert any(path.startswith("runs/") for path in hits)
    assert any(path.startswith("releases/") for path in hits)
    assert len(built.texts) >= 5
    assert (
        query(
            built.root,
            f"SELECT count(*) FROM attributes_embeddings WHERE text_hash IN "
            f"(SELECT md5(content) FROM turns WHERE user_id = '{built.pseudonym}')",
        )[0][0]
        > 0
    )


def test_dry_run_lists_counts_and_changes_nothing(built):
    before = file_digests(built.root)
    result = cli("erase", "--user", built.clear_id, "--dry-run", "--lake", str(built.root))
    assert result.exit_code == 0, result.output
    for table in (
        "bronze/conversations",
        "silver/conversations",
        "quarantine",
        "bronze/exposures",
        "attributes/dedup_prompts",
        "attributes/topics",
        "attributes/embeddings",
        "labels/labels",
    ):
        assert re.search(rf"would delete [1-9][0-9,]* rows from {re.escape(table)}\b", result.output), table
    assert "labels.sqlite tasks" in result.output and "would mark superseded: " in result.output
    assert "warning" not in result.output
    assert file_digests(built.root) == before


def test_erase_by_clear_id_leaves_nothing_of_the_user(built):
    lake = Lake(built.root)
    others_before = other_users(built)
    counts_before = row_counts(built.root)
    subject = erasure.subject_for(lake, built.pseudonym)
    holding = set(erasure.releases_with(lake, subject))
    assert holding and len(subject.conversation_ids) >= 2

    result = cli("erase", "--user", built.clear_id, "--lake", str(built.root), "--reason", "ticket 4711")
    assert result.exit_code == 0, result.output

    assert_no_rows_in_views(built, subject.conversation_ids)
    assert found_anywhere(built.root, built, skip=superseded_data(built.root)) == {}
    marked = {r.ref for r in list_releases(lake) if superseded.is_superseded(r.path)}
    assert marked == holding
    assert query(built.root, "SELECT count(*) FROM releases WHERE superseded")[0][0] == len(holding)
    assert all(verify(r) == [] for r in list_releases(lake))  # marked, not rewritten
    assert other_users(built) == others_before
    assert_counts_match_the_record(built, counts_before)


def other_users(built: Built) -> dict[str, list]:
    """Every other user's conversations, exposures and quarantined rows, as sorted keys."""
    return {
        "conversations": query(
            built.root,
            f"SELECT conversation_id, content_hash FROM bronze_conversations WHERE "
            f"user_id IS DISTINCT FROM '{built.pseudonym}' ORDER BY 1",
        ),
        "silver": query(
            built.root,
            f"SELECT conversation_id, content_hash FROM silver_conversations WHERE "
            f"user_id IS DISTINCT FROM '{built.pseudonym}' ORDER BY 1",
        ),
        "exposures": query(
            built.root, f"SELECT user_id, exposed_at FROM exposures WHERE user_id <> '{built.pseudonym}' ORDER BY 1, 2"
        ),
        "quarantine": query(built.root, "SELECT line, reason FROM quarantine WHERE raw::VARCHAR LIKE '%q-other%'"),
    }


def assert_no_rows_in_views(built: Built, conversations: frozenset[str]) -> None:
    """No view or table of the catalog has a row pointing at the user, but rows of superseded releases."""
    assert erasure.subject_for(Lake(built.root), built.pseudonym).conversation_ids == frozenset()
    listed = ", ".join(f"'{c}'" for c in sorted(conversations))
    columns = query(
        built.root,
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE data_type = 'VARCHAR' AND (column_name = 'user_id' OR "
        "column_name LIKE '%conversation_id' OR column_name LIKE '%sample_id')",
    )
    assert len({t for t, _ in columns}) > 15
    for view, column in columns:
        if column == "user_id":
            condition = f"user_id = '{built.pseudonym}'"
        elif column.endswith("sample_id"):
            condition = f"regexp_replace({column}, ':[0-9]+$', '') IN ({listed})"
        else:
            condition = f"{column} IN ({listed})"
        if view == "release_rows":
            condition += " AND NOT superseded"
        hits = query(built.root, f"SELECT count(*) FROM {view} WHERE {condition}")[0][0]
        assert hits == 0, f"{view}.{column} still points at the erased user"


def assert_counts_match_the_record(built: Built, before: dict[str, int]) -> None:
    (record,) = erasure.records(Lake(built.root))
    assert record["requested_by"] == "dpo-officer" and record["reason"] == "ticket 4711"
    assert erasure.subject_hash(built.pseudonym, record["subject_salt"]) == record["subject_hash"]
    assert built.pseudonym not in json.dumps(record, default=str) and built.clear_id not in json.dumps(
        record, default=str
    )
    after = row_counts(built.root)
    counted = {c["table"]: c["rows"] for c in record["counts"]}
    for table, rows in counted.items():
        if table in before:
            assert before[table] - after[table] == rows, table
    assert counted["bronze/conversations"] > 0 and counted["quarantine"] == 3
    assert counted["labels.sqlite tasks"] > 0 and counted["run records redacted"] == 1
    assert record["rows_deleted"] == sum(n for t, n in counted.items() if t in before)


def test_erase_by_pseudonym_then_again_is_idempotent(built):
    first = cli("erase", "--user", built.pseudonym, "--lake", str(built.root))
    assert first.exit_code == 0, first.output
    assert found_anywhere(built.root, built, skip=superseded_data(built.root)) == {}
    files = file_digests(built.root)
    again = cli("erase", "--user", built.clear_id, "--lake", str(built.root))
    assert again.exit_code == 0 and "already erased" in again.output, again.output
    assert file_digests(built.root) == files
    assert len(erasure.records(Lake(built.root))) == 1


def test_unknown_user_is_exit_2(built):
    result = cli("erase", "--user", "nobody-at-all", "--lake", str(built.root))
    assert result.exit_code == 2 and "no user 'nobody-at-all'" in result.output


def test_superseded_latest_is_skipped_with_a_warning(built):
    cli("erase", "--user", built.clear_id, "--lake", str(built.root))
    lake = Lake(built.root)
    name = next(r.name for r in list_releases(lake) if superseded.is_superseded(r.path))
    with pytest.warns(superseded.SupersededReleaseWarning, match="superseded"):
        release = resolve(lake, name)  # every version is superseded: the newest, with a warning
    assert superseded.is_superseded(release.path)
    with pytest.warns(superseded.SupersededReleaseWarning):
        resolve(lake, f"{name}@{release.version}")


def test_queued_request_is_applied_by_the_erase_stage(built):
    result = cli("erase", "--user", built.clear_id, "--queue", "--lake", str(built.root))
    assert result.exit_code == 0 and "queued" in result.output, result.output
    (request,) = erasure.pending_requests(Lake(built.root))
    assert request["pseudonym"] == built.pseudonym
    stats = run_recipe(Lake(built.root), [{"stage": "erase"}, {"stage": "scrub"}, {"stage": "dedup"}])
    assert stats["erase"].dropped["erased:bronze/conversations"] > 0
    assert stats["scrub"].details["files_scrubbed"] == 0  # the ledger follows the rewritten bronze files
    assert stats["dedup"].details.get("up_to_date") is not True  # whole-table stages recompute
    (done,) = erasure.requests(Lake(built.root))
    assert done["status"] == "done" and done["pseudonym"] is None and done["erasure_id"]
    assert found_anywhere(built.root, built, skip=superseded_data(built.root)) == {}
    assert (
        query(built.root, "SELECT count(*) FROM silver_conversations")[0][0]
        == query(built.root, "SELECT count(*) FROM bronze_conversations")[0][0]
    )


def test_every_registered_table_is_covered(tmp_path):
    """A new table either has id columns (the generic rule), a rule of its package, or a stated exemption."""
    found = erasure.erasers()
    subject = erasure.Subject("p" * 32, frozenset({"c-1"}))
    claimed = {r.table for e in found for r in e.rules(Lake(tmp_path / "empty"), subject)}
    claimed |= {t for e in found for t in (*e.handles, *e.exempt)}
    uncovered = [
        name
        for name, spec in sorted(tables.TABLES.items())
        if name not in claimed and not erasure.id_columns(spec.schema)
    ]
    assert uncovered == []
    assert {e.name for e in found} == {"lakehouse", "curation", "labeling_app", "train"}


def test_store_erase_tasks_keeps_labels_append_only(tmp_path):
    import sqlite3

    from labeling_app.config import load_config
    from labeling_app.queues import queue_spec
    from labeling_app.store import Store

    with Store(tmp_path / "labels.sqlite") as store:
        queue = store.create_queue("q", "rating", 1, "test", queue_spec(load_config(), "rating"), "test")
        store.add_tasks(
            queue.queue_id, [(f"k{i}", {"prompt": [], "candidates": [{"text": f"t{i}"}]}) for i in range(3)]
        )
        for _ in range(3):
            assignment = store.next_task(queue.queue_id, "ann")
            store.submit(assignment.task.task_id, "ann", "annotator", {"score": 3})
        doomed = store.find_tasks(lambda key, payload: key == "k1")
        counts = store.erase_tasks(doomed)
        assert (counts["tasks"], counts["labels"], counts["assignments"]) == (1, 1, 1)
        assert store.queue(queue.queue_id).n_tasks == 2 and store.queue(queue.queue_id).n_labels == 2
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.con.execute("DELETE FROM labels")
    assert b"t1" not in (tmp_path / "labels.sqlite").read_bytes()


def test_style_key_matches_the_release_builders_sql():
    import duckdb

    from curation.erasure import style_key
    from curation.releases.style_features import key_sql

    sql = f"SELECT {key_sql(repr('hi there'), repr('a reply'))}, {key_sql('NULL', repr('a reply'))}"
    with_context, without = duckdb.sql(sql).fetchall()[0]
    assert (with_context, without) == (style_key("hi there", "a reply"), style_key("", "a reply"))


def test_warnings_are_silent_without_an_erasure(built):
    with warnings.catch_warnings():
        warnings.simplefilter("error", superseded.SupersededReleaseWarning)
        resolve(Lake(built.root), "sft")
