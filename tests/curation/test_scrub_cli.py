"""`flywheel scrub`, `flywheel scan-leaks` and the leak-scan functions, on real files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from curation.cli import register
from lakehouse import cli_options
from tests.helpers.cli import flywheel

ROOT = Path(__file__).resolve().parent.parent.parent
MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    app = cli_options.app()  # the CLI's error boundary: UserError -> exit 2
    register(app)
    return app


def _run(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scrub_command_writes_scrubbed_lines_with_input_offsets(app, tmp_path):
    rows = [
        {"id": "a", "text": "hi, I'm Jake Peterson, mail jake.p@gmail.com"},
        {"id": "b", "text": "", "conversation_id": "c1"},
        {"id": "c", "text": "Jake here, call (212) 555-0199", "conversation_id": "c1"},
        {"id": "d", "text": "my number again: 212 555 0199", "conversation_id": "c1"},
        {"id": "e", "text": "hey Luna, I'm Jake", "character": "Luna"},
        {
            "id": "f",
            "text": "Morgana says hi to Luna and Jake",
            "character": {"name": "Luna", "description": "You are Luna. Your mentor is Morgana."},
        },
    ]
    source = _jsonl(tmp_path / "in.jsonl", rows)
    result = _run(app, "scrub", "--in", source, "--out", tmp_path / "out.jsonl")
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [o["id"] for o in out] == ["a", "b", "c", "d", "e", "f"]
    for row, o in zip(rows, out, strict=True):
        assert set(o) >= {"id", "text", "entities"}
        for e in o["entities"]:
            assert set(e) == {"type", "start", "end", "score"}
            assert 0 <= e["start"] < e["end"] <= len(row["text"])
    assert out[0]["text"] == "hi, I'm <PERSON_1>, mail <EMAIL_ADDRESS_1>"
    assert [rows[0]["text"][e["start"] : e["end"]] for e in out[0]["entities"]] == ["Jake Peterson", "jake.p@gmail.com"]
    assert out[2]["text"] == "<PERSON_1> here, call <PHONE_NUMBER_1>"
    assert out[3]["text"] == "my number again: <PHONE_NUMBER_1>"  # same conversation, same number
    assert out[2]["conversation_id"] == "c1" and "conversation_id" not in out[0]
    assert out[4]["text"] == "hey Luna, I'm <PERSON_1>"
    assert out[5]["text"] == "Morgana says hi to Luna and <PERSON_1>"


def test_scrub_command_rejects_a_bad_line_and_writes_nothing(app, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "fine"}\n{"id": 2, "text": null}\n')
    result = _run(app, "scrub", "--in", source, "--out", tmp_path / "out.jsonl")
    assert result.exit_code == 2
    assert "in.jsonl:2" in result.output and "text" in result.output
    assert not (tmp_path / "out.jsonl").exists()
    source.write_text('{"id": 1, "text": "fine"}\nnot json\n')
    assert _run(app, "scrub", "--in", source, "--out", tmp_path / "out.jsonl").exit_code == 2
    recipe = tmp_path / "r.yaml"
    recipe.write_text("scrub:\n  mode: masked\n")
    result = _run(app, "scrub", "--in", source, "--out", tmp_path / "out.jsonl", "--recipe", recipe)
    assert result.exit_code == 2 and "mode" in result.output


def _release(tmp_path: Path, leak: str | None) -> Path:
    """A release-like directory: data/train-*.parquet with TRL conversational columns."""
    release = tmp_path / "release" / "v1"
    (release / "data").mkdir(parents=True)
    second = leak or "my cat is called Mochi"
    table = pa.table(
        {
            "sample_id": ["s1", "s2"],
            "conversation_id": ["c1", "c2"],
            "prompt": pa.array(
                [[{"role": "user", "content": "hi"}], [{"role": "user", "content": second}]], pa.list_(MESSAGE)
            ),
            "chosen": pa.array(
                [[{"role": "assistant", "content": "hello!"}], [{"role": "assistant", "content": "ok"}]],
                pa.list_(MESSAGE),
            ),
            "turn": [1, 3],
        }
    )
    pq.write_table(table, release / "data" / "train-00000.parquet")
    (release / "manifest.json").write_text("{}")
    return release


def test_scan_leaks_exit_codes_on_a_release_directory(app, tmp_path):
    clean = _release(tmp_path / "clean", None)
    result = _run(app, "scan-leaks", clean)
    assert result.exit_code == 0, result.output
    leaky = _release(tmp_path / "leaky", "my card is 4111 1111 1111 1111, write to jo@gmail.com")
    result = _run(app, "scan-leaks", leaky)
    assert result.exit_code == 1
    assert "LEAK s2: CREDIT_CARD, EMAIL_ADDRESS" in result.output
    assert "4111" not in result.output and "jo@gmail.com" not in result.output  # never print the values
    assert _run(app, "scan-leaks", tmp_path / "missing").exit_code == 2


def test_scan_leaks_on_a_parquet_file_with_plain_text_columns(app, tmp_path):
    path = tmp_path / "texts.parquet"
    pq.write_table(
        pa.table(
            {
                "conversation_id": ["x", "y", "z"],
                "text": ["nothing here", "server at 10.0.0.12", None],
                "notes": ["call 415-555-0134", "", "my ssn is 536-22-1234"],
            }
        ),
        path,
    )
    result = _run(app, "scan-leaks", path)
    assert result.exit_code == 1
    assert "LEAK y: IP_ADDRESS" in result.output and "LEAK z: US_SSN" in result.output
    assert "LEAK x" not in result.output  # 555-01xx is the fiction range; 555-0134 is one
    only_ip = _run(app, "scan-leaks", path, "--entities", "IP_ADDRESS")
    assert only_ip.exit_code == 1 and "US_SSN" not in only_ip.output
    assert _run(app, "scan-leaks", path, "--entities", "NOT_A_TYPE").exit_code == 2
    bad = tmp_path / "bad.parquet"
    bad.write_text("not parquet")
    assert _run(app, "scan-leaks", bad).exit_code == 2


def test_scan_leaks_never_prints_a_value_it_found_nor_an_id_holding_one(app, tmp_path):
    planted = {
        "card": "4539 1488 0343 6467",
        "mail": "marta.kowalska@wp.pl",
        "phone": "+48 601 234 567",
        "id mail": "olek.nowak@onet.pl",
    }
    path = tmp_path / "train-00000.parquet"
    pq.write_table(
        pa.table(
            {
                "sample_id": ["c-1:1", f"{planted['id mail']}:1", "c-3:1"],
                "conversation_id": ["c-1", planted["id mail"], "c-3"],
                "messages": pa.array(
                    [
                        [{"role": "user", "content": f"card {planted['card']}"}],
                        [{"role": "user", "content": "hello"}],
                        [{"role": "user", "content": f"mail {planted['mail']} or {planted['phone']}"}],
                    ],
                    pa.list_(MESSAGE),
                ),
            }
        ),
        path,
    )
    result = _run(app, "scan-leaks", path)
    assert result.exit_code == 1
    try:
        printed = result.output + result.stderr
    except ValueError:  # stderr mixed into output
        printed = result.output
    assert "LEAK c-1:1: CREDIT_CARD" in printed and "LEAK c-3:1: EMAIL_ADDRESS, PHONE_NUMBER" in printed
    assert "LEAK train-00000.parquet#1: EMAIL_ADDRESS" in printed  # the row's id holds the address
    digits = lambda text: "".join(c for c in text if c.isdigit())  # noqa: E731
    for value in planted.values():
        assert value not in printed and value.split("@")[0] not in printed
        assert not digits(value) or digits(value) not in digits(printed)


def test_scan_functions_and_row_ids_without_id_columns(tmp_path):
    from curation.scrub.leak_gate import scan_paths, scan_texts

    leaks = scan_texts(
        [
            ("r1", "all good"),
            ("r2", "email me: a.b@proton.me"),
            ("r3", "demo: a@example.com"),
            ("r4", "card 1234 5678 9012 3456 (not a valid card number)"),
        ]
    )
    assert [(leak.row_id, leak.entity_type) for leak in leaks] == [("r2", "EMAIL_ADDRESS")]
    path = tmp_path / "t.parquet"
    pq.write_table(
        pa.table(
            {
                "messages": pa.array(
                    [[{"role": "user", "content": "ok"}], [{"role": "user", "content": "IBAN DE89370400440532013000"}]],
                    pa.list_(MESSAGE),
                )
            }
        ),
        path,
    )
    report = scan_paths([path])
    assert report.rows == 2 and report.texts == 4  # every string, roles included: fail closed
    assert report.by_row() == {"t.parquet#1": ["IBAN_CODE"]}
    assert report.leaks[0].column == "messages[].content"


def test_surrogate_output_passes_the_leak_scan(app, tmp_path):
    rows = [
        {"id": i, "text": t}
        for i, t in enumerate(
            [
                "email jake.p@gmail.com or call (212) 867-5309",
                "card 4111 1111 1111 1111 ssn 536-22-1234",
                "iban DE89 3704 0044 0532 0130 00, ip 172.16.4.20 and 2001:4860:4860::8888",
            ]
        )
    ]
    source = _jsonl(tmp_path / "in.jsonl", rows)
    assert _run(app, "scrub", "--in", source, "--out", tmp_path / "out.jsonl", "--mode", "surrogate").exit_code == 0
    out = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert all(len(o["entities"]) >= 2 for o in out)
    path = tmp_path / "scrubbed.parquet"
    pq.write_table(pa.table({"sample_id": [str(o["id"]) for o in out], "text": [o["text"] for o in out]}), path)
    result = _run(app, "scan-leaks", path)
    assert result.exit_code == 0, result.output
    raw = tmp_path / "raw.parquet"
    pq.write_table(pa.table({"sample_id": [str(r["id"]) for r in rows], "text": [r["text"] for r in rows]}), raw)
    assert _run(app, "scan-leaks", raw).exit_code == 1


@pytest.mark.slow
def test_surrogate_runs_are_byte_identical_across_processes(app, tmp_path):
    source = _jsonl(
        tmp_path / "in.jsonl",
        [
            {
                "id": 1,
                "text": "I'm Jake Peterson, mail jake.p@gmail.com, I live at 12 Oak Street",
                "conversation_id": "k",
            },
            {"id": 2, "text": "jake again, 212-867-5309", "conversation_id": "k"},
        ],
    )
    here, there = tmp_path / "here.jsonl", tmp_path / "there.jsonl"
    assert _run(app, "scrub", "--in", source, "--out", here, "--mode", "surrogate").exit_code == 0
    # another process with another string-hash seed than this one
    env = {**os.environ, "PYTHONHASHSEED": str(hash("seed") % 1000 + 1), "PYTHONPATH": str(ROOT)}
    flywheel("scrub", "--in", source, "--out", there, "--mode", "surrogate", env=env, cwd=ROOT, check=True)
    assert here.read_bytes() == there.read_bytes()
    assert b"jake.p@gmail.com" not in here.read_bytes()


@pytest.mark.slow
def test_scrub_eval_reports_each_part_of_the_labeled_set(app, tmp_path):
    from curation.simulator import SimulationConfig, run_simulation

    simulated = tmp_path / "sim"
    run_simulation(SimulationConfig(conversations=30, seed=5), simulated, workers=1, progress=False)
    result = _run(app, "eval", "scrub", "--num-messages", 100, "--num-real", 0, "--simulated", simulated)
    assert result.exit_code in (0, 1), result.output  # 1: a target missed on so small a set
    rows = [
        line.split(" | ") for line in result.output.splitlines() if line.startswith(("| simulator |", "| templates |"))
    ]
    assert {row[0].strip("| ") for row in rows} == {"simulator", "templates"}
    assert "Character name survival" in result.output

    result = _run(app, "eval", "scrub", "--num-messages", 100, "--num-real", 0, "--simulated", tmp_path / "missing")
    assert result.exit_code == 2
    result = _run(app, "eval", "scrub", "--num-messages", 100, "--num-real", 0, "--simulated", tmp_path)
    assert result.exit_code == 2 and "not a simulator output folder" in result.output
