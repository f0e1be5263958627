"""Ingest: every bad input is quarantined with a reason, nothing is lost, reruns add nothing."""

from __future__ import annotations

import gzip
import json

import pytest

from curation.ingest.config import IngestConfig
from curation.pipeline.recipe import parse
from lakehouse import tables
from lakehouse.lake import Lake
from tests.helpers.lakes import query, run_ingest
from tests.helpers.records import line, record, write_lines

KEY = "k" * 40


@pytest.fixture(autouse=True)
def hmac_key(monkeypatch):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", KEY)


def quarantine(lake: Lake) -> dict[int, tuple[str, str, bytes]]:
    rows = query(lake, "SELECT line, reason, detail, raw FROM quarantine ORDER BY line")
    return {line_no: (reason, detail, bytes(raw)) for line_no, reason, detail, raw in rows}


def test_valid_records_land_in_bronze_with_pseudonymized_users(tmp_path):
    lake = Lake(tmp_path / "lake")
    path = write_lines(tmp_path / "in.jsonl", [line(record(i)) for i in range(20)])
    result = run_ingest(lake, path)
    assert result.status == "succeeded"
    rows = query(lake, "SELECT conversation_id, user_id, started_at, day, n_messages FROM conversations ORDER BY 1")
    assert len(rows) == 20
    cid, user_id, started_at, day, n_messages = rows[0]
    assert cid == "c-0" and n_messages == 4 and str(day) == "2026-10-05"
    assert user_id != "user-0" and len(user_id) == 32
    assert query(lake, "SELECT count(DISTINCT user_id) FROM conversations")[0][0] == 7
    samples = query(
        lake,
        "SELECT sample_id, prompt[1].role, prompt[1].content, response, depth, thumb "
        "FROM samples WHERE conversation_id = 'c-0' ORDER BY turn",
    )
    assert samples[0][:2] == ("c-0:1", "system")
    assert samples[0][2].startswith("You are Luna. A cheerful astronomer.")
    assert samples[1][3:] == ("Look up at dawn next week.", 2, 0)


@pytest.mark.parametrize(
    "bad_line, reason",
    [
        (b'{"conversation_id": "x", "source": "user", ', "invalid_json"),
        (b'["not", "an", "object"]', "not_an_object"),
        (json.dumps(record(90, messages="hello")).encode(), "wrong_type"),
        (json.dumps({k: v for k, v in record(91).items() if k != "source"}).encode(), "missing_field"),
        (json.dumps(record(92, messages=[])).encode(), "empty_messages"),
        (json.dumps(record(93, messages=[{"content": "no role"}])).encode(), "missing_role"),
        (json.dumps(record(94, messages=[{"role": "robot", "content": "beep"}])).encode(), "unknown_role"),
        (json.dumps(record(95, started_at="yesterday at noon")).encode(), "bad_timestamp"),
        (json.dumps(record(96, started_at="2999-01-01T00:00:00Z")).encode(), "future_timestamp"),
        (b'{"conversation_id": "u", "source": "user", "note": "\xff\xfe"}', "invalid_utf8"),
        (line(record(99)).replace(b"comet", b"com\xe9t"), "invalid_utf8"),
        (json.dumps(record(97, source="partner")).encode(), "invalid_value"),
        (json.dumps(record(98, messages=[{"role": "user", "content": ""}])).encode(), "empty_content"),
    ],
)
def test_each_bad_record_is_quarantined_with_its_reason(tmp_path, bad_line, reason):
    lake = Lake(tmp_path / "lake")
    lines = [line(record(1)), bad_line, line(record(2))]
    path = write_lines(tmp_path / "in.jsonl", lines)
    result = run_ingest(lake, path)
    stats = result.stages[0]
    assert (stats.rows_in, stats.rows_out, dict(stats.dropped)) == (3, 2, {reason: 1})
    q = quarantine(lake)
    assert list(q) == [2] and q[2][0] == reason and q[2][2] == bad_line
    assert q[2][1]  # a human-readable detail
    assert [r[0] for r in query(lake, "SELECT conversation_id FROM conversations ORDER BY 1")] == ["c-1", "c-2"]


def test_ten_megabyte_message_is_quarantined_not_crashing(tmp_path):
    lake = Lake(tmp_path / "lake")
    huge = record(5, messages=[{"role": "user", "content": "a" * (10 << 20)}])
    path = write_lines(tmp_path / "in.jsonl", [line(record(1)), line(huge)])
    stats = run_ingest(lake, path).stages[0]
    assert (stats.rows_out, dict(stats.dropped)) == (1, {"message_too_large": 1})
    assert "10,485,760 bytes" in quarantine(lake)[2][1]


def test_truncated_gzip_keeps_complete_lines_and_quarantines_the_damage(tmp_path):
    lake = Lake(tmp_path / "lake")
    data = gzip.compress(b"\n".join(line(record(i)) for i in range(200)) + b"\n", mtime=0)
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) * 2 // 3])
    stats = run_ingest(lake, path).stages[0]
    assert stats.dropped == {"truncated_file": 1}
    assert 100 < stats.rows_out < 200 and stats.rows_in == stats.rows_out + 1
    ((reason, detail, raw),) = quarantine(lake).values()
    assert reason == "truncated_file" and f"after line {stats.rows_out}" in detail
    assert line(record(stats.rows_out)).startswith(raw)  # the partial last line is kept as evidence


def test_same_id_with_other_content_is_a_conflict_and_reingest_adds_nothing(tmp_path):
    lake = Lake(tmp_path / "lake")
    first = write_lines(tmp_path / "a.jsonl", [line(record(i)) for i in range(5)])
    run_ingest(lake, first)
    again = run_ingest(lake, first).stages[0]
    assert (again.rows_in, again.rows_out) == (0, 0)
    assert again.details["files_skipped"] == [str(first.resolve())]
    changed = record(3, app="ios")
    second = write_lines(tmp_path / "b.jsonl", [line(changed), line(record(4)), line(record(6))])
    stats = run_ingest(lake, second).stages[0]
    assert dict(stats.dropped) == {"conflicting_duplicate": 1, "duplicate_record": 1}
    assert stats.rows_out == 1
    assert query(lake, "SELECT count(*) FROM conversations")[0][0] == 6


def test_directory_with_mixed_formats(tmp_path, hh_path):
    lake = Lake(tmp_path / "lake")
    folder = tmp_path / "mixed"
    write_lines(folder / "native.jsonl.gz", [line(record(i)) for i in range(3)], gz=True)
    write_lines(
        folder / "openai.jsonl",
        [
            json.dumps(
                {
                    "messages": [
                        {"role": "system", "content": "Be nice."},
                        {"role": "user", "content": [{"type": "text", "text": "Hello"}]},
                        {"role": "assistant", "content": "Hi!"},
                    ]
                }
            ).encode()
        ],
    )
    write_lines(
        folder / "sharegpt.jsonl",
        [
            json.dumps(
                {
                    "id": "s1",
                    "conversations": [{"from": "human", "value": "Hey"}, {"from": "gpt", "value": "Hello there"}],
                }
            ).encode()
        ],
    )
    (folder / "sharegpt-array.json").write_text(
        json.dumps([{"id": "s2", "conversations": [{"from": "human", "value": "Yo"}, {"from": "gpt", "value": "Hi"}]}])
    )
    (folder / "exposures.jsonl").write_text(
        json.dumps({"experiment_id": "exp-1", "arm": "test", "user_id": "user-1", "exposed_at": "2026-10-01T00:00:00Z"})
        + "\n"
    )
    with gzip.open(hh_path) as fh:
        write_lines(folder / "hh.jsonl", [fh.readline().rstrip(b"\n")])
    (folder / "notes.jsonl").write_text('{"hello": "world"}\n')
    stats = run_ingest(lake, folder).stages[0]
    formats = {f["path"].rsplit("/", 1)[-1]: f["format"] for f in stats.details["files"]}
    assert formats == {
        "native.jsonl.gz": "native",
        "openai.jsonl": "openai",
        "sharegpt.jsonl": "sharegpt",
        "sharegpt-array.json": "sharegpt",
        "exposures.jsonl": "exposures",
        "hh.jsonl": "hh",
        "notes.jsonl": "unknown",
    }
    assert dict(stats.dropped) == {"unknown_format": 1}
    assert query(lake, "SELECT count(*) FROM conversations")[0][0] == 3 + 1 + 2 + 2
    assert query(lake, "SELECT count(*) FROM exposures")[0][0] == 1
    assert query(lake, "SELECT count(*) FROM preference_pairs")[0][0] == 1
    (exposed_user,) = query(lake, "SELECT user_id FROM exposures")[0]
    assert exposed_user in {u for (u,) in query(lake, "SELECT user_id FROM conversations")}


def test_user_ids_need_a_key_or_drop(tmp_path, monkeypatch):
    monkeypatch.delenv("FLYWHEEL_HMAC_KEY")
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY_FILE", str(tmp_path / "absent.key"))
    lake = Lake(tmp_path / "lake")
    path = write_lines(tmp_path / "in.jsonl", [line(record(i)) for i in range(3)])
    refused = run_ingest(lake, path)
    assert refused.status == "failed" and "pseudonymization key" in refused.error
    assert lake.files(tables.BRONZE_CONVERSATIONS) == []
    dropped = run_ingest(lake, path, drop_user_ids=True)
    assert dropped.status == "succeeded"
    assert query(lake, "SELECT count(*), count(user_id) FROM conversations")[0] == (3, 0)


def test_strict_fails_the_run_and_records_nothing(tmp_path):
    lake = Lake(tmp_path / "lake")
    path = write_lines(tmp_path / "in.jsonl", [line(record(1)), b"{broken"])
    result = run_ingest(lake, path, strict=True)
    assert result.status == "failed" and "1 records quarantined" in result.error
    assert query(lake, "SELECT count(*) FROM quarantine")[0][0] == 0


def test_recipe_errors_name_the_bad_key():
    from curation.pipeline.recipe import RecipeError

    with pytest.raises(RecipeError, match=r"stages\[0\] \(ingest\): treshold: unknown key"):
        parse({"name": "x", "stages": [{"stage": "ingest", "paths": ["a"], "treshold": 1}]})
    with pytest.raises(RecipeError, match="unknown stage 'ingset'"):
        parse({"name": "x", "stages": [{"stage": "ingset"}]})
    with pytest.raises(RecipeError, match=r"stages\[0\] \(ingest\): paths: Field required"):
        parse({"name": "x", "stages": [{"stage": "ingest"}]})


def test_config_defaults_are_documented_types():
    config = IngestConfig(paths=["x"])
    assert config.format == "auto" and config.source == "internal" and not config.strict


def test_hh_rlhf_real_file(tmp_path, hh_path):
    lake = Lake(tmp_path / "lake")
    stats = run_ingest(lake, hh_path).stages[0]
    assert (stats.rows_in, stats.rows_out) == (1500, 1496)
    assert dict(stats.dropped) == {"empty_content": 4}  # four lines whose chosen reply is empty
    assert query(lake, "SELECT count(*) FROM conversations")[0][0] == 2992
    assert query(lake, "SELECT count(*) FROM preference_pairs")[0][0] == 1496
    with gzip.open(hh_path, "rt") as fh:
        first = json.loads(fh.readline())
    pair_id, turn, chosen, rejected = query(
        lake,
        """
        SELECT p.pair_id, p.turn, c.messages, r.messages FROM preference_pairs p
        JOIN conversations c ON c.conversation_id = p.chosen_conversation_id
        JOIN conversations r ON r.conversation_id = p.rejected_conversation_id
        WHERE p.origin.line = 1""",
    )[0]
    assert pair_id.startswith("hh-") and chosen[:turn] == rejected[:turn]
    assert chosen[0]["role"] == "user" and first["chosen"].startswith("\n\nHuman: " + chosen[0]["content"])
    assert first["chosen"].endswith(chosen[turn]["content"]) and first["rejected"].endswith(rejected[turn]["content"])
    assert {m["role"] for m in chosen} == {"user", "assistant"}


def test_persona_chat_real_file(tmp_path, persona_chat_path):
    import csv

    lake = Lake(tmp_path / "lake")
    stats = run_ingest(lake, persona_chat_path).stages[0]
    assert (stats.rows_in, stats.rows_out, dict(stats.dropped)) == (1000, 1000, {})
    with open(persona_chat_path, newline="") as fh:
        first = next(csv.DictReader(fh))
    messages, character = query(lake, "SELECT messages, character FROM conversations WHERE origin.line = 1")[0]
    turns = [t for t in first["Best Generated Conversation"].splitlines() if t.strip()]
    assert messages[0]["role"] == "user" and turns[0].endswith(messages[0]["content"])
    assert messages[1]["role"] == "assistant" and turns[1].endswith(messages[1]["content"])
    assert character["description"].startswith(first["user 2 personas"].splitlines()[0].strip())
    assert (
        query(lake, "SELECT count(*) FROM samples WHERE source = 'internal'")[0][0]
        == query(lake, "SELECT count(*) FROM turns WHERE role = 'assistant'")[0][0]
    )


def test_curate_and_releases_build_refuse_a_bad_recipe_naming_the_key(tmp_path):
    from typer.testing import CliRunner

    from lakehouse.cli import _register_plugins, app

    _register_plugins()
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("name: bad\nstages:\n  - stage: ingest\n    paths: [x]\n    treshold: 1\n")
    for command in (["curate", str(recipe)], ["releases", "build", str(recipe)]):
        result = CliRunner().invoke(app, [*command, "--lake", str(tmp_path / "lake")])
        assert result.exit_code == 2, result.output
        assert "treshold: unknown key" in result.output
    assert not (tmp_path / "lake").exists()
