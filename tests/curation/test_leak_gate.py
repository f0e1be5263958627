"""The leak gate: `ReleaseWriter` refuses to publish without a passing leak scan, on every publish path
(the writer itself, `flywheel releases build`, train's rejection sampling), with the one scan that
`flywheel scan-leaks` runs; opting out is explicit and recorded; the pre-filter never hides a text the
detector would flag; our own hash ids are not scanned, ids built from user input are."""

from __future__ import annotations

import gzip
import json
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from curation.scrub import leak_gate
from lakehouse import cli_options
from lakehouse.lake import Lake
from lakehouse.releases import LeakScanRefused, ReleaseError, ReleaseWriter, versions
from tests.conftest import _shared

MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
HH_ID = "hh-cb5545ca83f02695-chosen:1"  # an id ingest made: its hash reads as an IBAN when scanned as text

# Hostile formats the scanner detects: each must be refused by the gate.
HOSTILE = {
    "full-width digits": "call me on ４１５ ８６７ ５３０９",
    "arabic-indic digits": "call me on ٤١٥ ٨٦٧ ٥٣٠٩",
    "nbsp phone": "my phone is 415\u00a0867\u00a05309",
    "narrow nbsp phone": "my phone is 415\u202f867\u202f5309",
    "zero-width phone": "my phone is 415\u200b867\u200b5309",
    "zero-width card": "card 4111\u200b1111\u200b1111\u200b1111",
    "at/dot e-mail": "write to jane.doe at gmail dot com",
    "bracketed at/dot e-mail": "write to jane.doe (at) gmail (dot) com",
    "zero-width e-mail": "mail jane\u200b.doe@gmail.com",
    "full-width ssn": "my ssn is ５３６-２２-１２３４",
    "full-width at": "mail jane＠gmail.com",
    "spaced at": "mail jane @ gmail.com",
    "en-dash phone": "my phone is 415–867–5309",
    "wide-spaced phone": "my phone is 4 1 5   8 6 7   5 3 0 9",
    "nbsp card": "card 4111\u00a01111\u00a01111\u00a01111",
    "5-5-6 card": "my card number is 45320 15112 830366",
    "dotted card": "my card number is 4532.0151.1283.0366",
    "passport": "my passport number is X1234567",
}


def release_table(texts: list[str], ids: list[str] | None = None) -> pa.Table:
    ids = ids or [f"c-{i:02d}:1" for i in range(len(texts))]
    messages = [[{"role": "user", "content": t}, {"role": "assistant", "content": "Noted, thank you."}] for t in texts]
    return pa.table(
        {
            "messages": pa.array(messages, MESSAGES),
            "sample_id": ids,
            "conversation_id": [i.rsplit(":", 1)[0] for i in ids],
        }
    )


def stage(lake: Lake, table: pa.Table, name: str = "r", **options) -> ReleaseWriter:
    writer = ReleaseWriter(lake, name, "sft", **options)
    writer.write_split("train", table)
    return writer


def finalize(writer: ReleaseWriter) -> dict:
    return writer.finalize(parents={}, recipe={"test": True}, split_method="test", dropped={})


def assert_nothing_published(lake: Lake, name: str = "r") -> None:
    assert versions(lake, name) == []
    assert not list((lake.root / "releases").glob(f"{name}/*"))
    assert not list(lake.staging_root.glob("release-*"))


# -- the writer itself ----------------------------------------------------------------------------------


def test_a_planted_card_refuses_the_release_naming_type_and_row_never_the_value(tmp_path):
    lake = Lake(tmp_path / "lake")
    writer = stage(lake, release_table(["hello there", "my card is 4111 1111 1111 1111", "bye"]))
    with pytest.raises(LeakScanRefused) as refused:
        finalize(writer)
    message = str(refused.value)
    assert "refused: the leak scan" in message and "CREDIT_CARD" in message and "c-01:1" in message
    assert "messages[].content" in message and "4111" not in message
    with pytest.raises(ReleaseError):
        writer.publish()
    assert_nothing_published(lake)


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_every_hostile_format_the_scanner_detects_is_refused_by_the_gate(tmp_path, name):
    lake = Lake(tmp_path / "lake")
    with pytest.raises(LeakScanRefused, match="c-00:1"):
        finalize(stage(lake, release_table([HOSTILE[name]])))
    assert_nothing_published(lake)


def test_the_gate_and_scan_leaks_give_one_result(tmp_path):
    """The refusal's report is what `scan_paths` (the `scan-leaks` command) says about the same file."""
    texts = [*HOSTILE.values(), "nothing to see", "order 1234567 shipped 2026-10-05"]
    table = release_table(texts)
    (tmp_path / "copy").mkdir()
    pq.write_table(table, tmp_path / "copy" / "train-00000.parquet")
    alone = leak_gate.scan_paths([tmp_path / "copy"])
    with pytest.raises(LeakScanRefused) as refused:
        finalize(stage(Lake(tmp_path / "lake"), table))
    gate = refused.value.report
    assert [(x.row_ref, x.column, x.entity_type) for x in gate.leaks] == [
        (x.row_ref, x.column, x.entity_type) for x in alone.leaks
    ]
    assert {x.row_ref for x in alone.leaks} == {f"c-{i:02d}:1" for i in range(len(HOSTILE))}


def test_publish_refuses_without_the_gate_or_when_files_change_after_it(tmp_path):
    lake = Lake(tmp_path / "lake")
    unscanned = stage(lake, release_table(["hello"]))
    unscanned.manifest = {"name": "r"}  # as if finalize had been skipped
    with pytest.raises(LeakScanRefused, match="no leak scan ran"):
        unscanned.publish()
    unscanned.discard()
    for changed in ("test-00000.parquet", "train-00000.parquet"):  # a file added, a file replaced
        writer = stage(lake, release_table(["hello"]))
        finalize(writer)
        pq.write_table(release_table(["my card is 4111 1111 1111 1111"]), writer.staging / "data" / changed)
        with pytest.raises(LeakScanRefused, match="changed after the leak scan"):
            writer.publish()
        writer.discard()
    assert versions(lake, "r") == []


def test_with_no_scanner_registered_nothing_is_published(tmp_path, monkeypatch):
    import importlib.metadata

    real = importlib.metadata.entry_points
    monkeypatch.setattr(
        importlib.metadata,
        "entry_points",
        lambda **kw: [] if kw.get("group") == "flywheel.leak_scanners" else real(**kw),
    )
    lake = Lake(tmp_path / "lake")
    with pytest.raises(ReleaseError, match="no leak scanner is registered"):
        finalize(stage(lake, release_table(["hello"])))
    assert_nothing_published(lake)


def test_skipping_the_scan_needs_a_reason_and_is_recorded_in_the_manifest_and_the_releases_view(tmp_path):
    from lakehouse import catalog

    lake = Lake(tmp_path / "lake")
    with pytest.raises(ReleaseError, match="needs a reason"):
        ReleaseWriter(lake, "r", "sft", leak_scan="skip")
    with pytest.raises(ReleaseError, match="not one of"):
        ReleaseWriter(lake, "r", "sft", leak_scan="off")
    writer = stage(
        lake,
        release_table(["my card is 4111 1111 1111 1111"]),
        leak_scan="skip",
        reason="synthetic card numbers for a payment-form test",
        requested_by="alice",
    )
    finalize(writer)
    release = writer.publish()
    assert release.manifest["leak_scan"] == {
        "mode": "skip",
        "reason": "synthetic card numbers for a payment-form test",
        "requested_by": "alice",
    }
    scanned = stage(lake, release_table(["hello"]), name="s")
    finalize(scanned)
    assert scanned.publish().manifest["leak_scan"]["mode"] == "required"
    con = catalog.connect(lake)
    try:
        rows = con.execute(
            "SELECT name, leak_scan->>'mode', leak_scan->>'requested_by', leak_scan->>'reason' "
            "FROM releases ORDER BY name"
        ).fetchall()
    finally:
        con.close()
    assert rows == [
        ("r", "skip", "alice", "synthetic card numbers for a payment-form test"),
        ("s", "required", None, None),
    ]


def test_the_publisher_can_hand_the_scanner_the_recipes_scrub_config(tmp_path):
    lake = Lake(tmp_path / "lake")
    writer = stage(
        lake,
        release_table(["my card is 4111 1111 1111 1111"]),
        scan_options={"scrub": {"scan_entities": ["IP_ADDRESS"]}},
    )
    manifest = finalize(writer)
    assert manifest["leak_scan"]["scanners"][0]["entities"] == ["IP_ADDRESS"]
    with pytest.raises(LeakScanRefused, match="CREDIT_CARD"):  # the default config: the high tier
        finalize(stage(lake, release_table(["my card is 4111 1111 1111 1111"]), name="s"))


# -- ids ------------------------------------------------------------------------------------------------


def test_our_hash_ids_are_not_scanned_but_read_as_identifiers_in_text(tmp_path):
    assert leak_gate.entities(HH_ID) == ["IBAN_CODE"]  # why the id columns' hashes are masked
    lake = Lake(tmp_path / "lake")
    writer = stage(lake, release_table(["hello"], ids=[HH_ID]))
    finalize(writer)
    assert writer.publish().ref == "r@1"


def test_opaque_ids_are_masked_and_only_they():
    from lakehouse.releases import OPAQUE_ID

    ids = [
        HH_ID,
        "sim-0004155:3",
        "3F2A9C1E-7B4D-4E0A-9C1B-2D3E4F5A6B7C:1",
        "persona-chat-00ff00ff00ff00ff",
        "jane.doe@gmail.com:1",
        "sharegpt-4155550134:1",
        "hh-cb5545ca83f0269:1",
    ]
    masked = pc.replace_substring_regex(pa.array(ids), OPAQUE_ID, "<id>").to_pylist()
    assert masked == [
        "<id>-chosen:1",
        "<id>:3",
        "<id>:1",
        "<id>",
        "jane.doe@gmail.com:1",
        "sharegpt-4155550134:1",
        "hh-cb5545ca83f0269:1",
    ]


def test_an_id_built_from_user_input_is_scanned_and_never_printed(tmp_path):
    lake = Lake(tmp_path / "lake")
    table = release_table(["hello", "fine"], ids=["c-00:1", "jane.doe@gmail.com:1"])
    with pytest.raises(LeakScanRefused) as refused:
        finalize(stage(lake, table))
    message = str(refused.value)
    assert "EMAIL_ADDRESS in conversation_id" in message and "EMAIL_ADDRESS in sample_id" in message
    assert "train-00000.parquet#1" in message and "jane" not in message
    assert_nothing_published(lake)


def test_every_string_column_is_scanned_including_provenance(tmp_path):
    table = release_table(["hello"]).append_column("character_id", pa.array(["call 415 867 5309"]))
    with pytest.raises(LeakScanRefused, match="PHONE_NUMBER in character_id"):
        finalize(stage(Lake(tmp_path / "lake"), table))


# -- the pre-filter -------------------------------------------------------------------------------------


def test_every_character_that_normalizes_to_a_digit_or_an_at_sign_is_counted_by_the_prefilter():
    """Over all of Unicode: the pre-filter's classes, after its normalization, cover every character
    whose NFKC form holds a digit (`str.isdigit`: decimal digits of every script, superscripts, circled
    digits) or an `@`, so no spelling of a number or an address can slip past it. (CJK numerals such as
    一 are letters, numeric but not digits: no recognizer reads them as digits either.)"""
    chars = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    nfkc = [unicodedata.normalize("NFKC", c) for c in chars]
    digit_like = [c for c, n in zip(chars, nfkc, strict=True) if any(x.isdigit() for x in n)]
    at_like = [c for c, n in zip(chars, nfkc, strict=True) if "@" in n]
    assert len(digit_like) > 900 and {"@", "＠", "﹫"} <= set(at_like)
    normalized = leak_gate.normalize(pa.array(digit_like))
    counted = pc.count_substring_regex(normalized, leak_gate.NUMBER).to_pylist()
    assert [c for c, n in zip(digit_like, counted, strict=True) if n == 0] == []
    found = pc.match_substring_regex(leak_gate.normalize(pa.array(at_like)), leak_gate.AT_SIGN).to_pylist()
    assert all(found)
    # format characters are dropped before the test: a zero-width joiner cannot hide an `@` or a digit
    assert leak_gate.normalize(pa.array(["a\u200b@\u2060b", "4\u200d1"])).to_pylist() == ["a@b", "41"]


def _real_texts(limit: int) -> list[str]:
    texts = []
    with gzip.open(_shared("pii-dev-contextual-anonymizer.jsonl.gz"), "rt") as f:
        for line in f:
            texts.append(json.loads(line)["text"])
            if len(texts) >= limit:
                break
    with gzip.open(_shared("hh-rlhf-harmless-base-test-1500.jsonl.gz"), "rt") as f:
        for line in list(f)[:60]:
            texts += [t for t in json.loads(line)["chosen"].split("\n\n") if t.strip()]
    return texts + list(HOSTILE.values())


def test_the_prefilter_never_skips_a_text_the_full_scan_flags_on_data_we_did_not_write(monkeypatch):
    """The shared PII dev set (machine-labeled texts with e-mails, phones, ids...) and hh-rlhf: the scan
    with the pre-filter finds exactly what the detector finds on every text."""
    texts = _real_texts(250)
    table = pa.table({"text": texts})
    filtered = leak_gate.scan_table(table)
    assert filtered.suspects < len(set(texts))  # the pre-filter did rule texts out
    monkeypatch.setattr(leak_gate, "NECESSARY", {})  # no declared condition: every text goes to the detector
    full = leak_gate.scan_table(table)
    assert full.suspects == len(set(texts) - {""})
    assert [(x.row, x.entity_type) for x in filtered.leaks] == [(x.row, x.entity_type) for x in full.leaks]
    assert len(filtered.leaks) > 30


def test_the_scanned_types_are_the_structured_identifiers_unless_the_recipe_names_them():
    from curation.scrub.config import DEFAULT_SCAN_ENTITIES, ScrubConfig

    assert leak_gate.gate_entities(ScrubConfig()) == list(DEFAULT_SCAN_ENTITIES)
    assert "ID_NUMBER" in leak_gate.gate_entities(ScrubConfig())
    assert set(leak_gate.gate_entities(ScrubConfig())) <= set(ScrubConfig().tiers["high"].entities)
    assert leak_gate.gate_entities(ScrubConfig(scan_entities=["IP_ADDRESS"])) == ["IP_ADDRESS"]


# -- the other publish paths ----------------------------------------------------------------------------


@pytest.fixture
def cli():
    from curation.cli import register

    app = cli_options.app()  # the CLI's error boundary: UserError -> exit 2
    register(app)
    return lambda *args: CliRunner().invoke(app, [str(a) for a in args])


def _recipe(path: Path, scrub: dict | None = None, **entry) -> Path:
    import yaml

    release = {"name": "sft", "type": "sft", "allow_unscrubbed": True, **entry}
    stages = [{"stage": "scrub", **scrub}] if scrub is not None else []
    path.write_text(yaml.safe_dump({"name": "gate", "stages": [*stages, {"stage": "release", "releases": [release]}]}))
    return path


def test_releases_build_refuses_a_planted_value_and_the_recipe_can_opt_out_on_record(tmp_path, monkeypatch, cli):
    from tests.helpers.release_lakes import chat, ingest, plain_conversations, reply, user

    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", "k" * 40)
    root = tmp_path / "lake"
    ingest(root, [*plain_conversations(4), chat("pii-0", [user("text me on +1 415 867 5309"), reply("Sure", thumb=1)])])
    result = cli("releases", "build", _recipe(tmp_path / "r.yaml"), "--lake", root)
    assert result.exit_code == 1
    assert "refused: the leak scan" in result.output and "PHONE_NUMBER" in result.output and "pii-0:1" in result.output
    assert "867" not in result.output
    assert_nothing_published(Lake(root), "sft")
    skipped = cli(
        "releases",
        "build",
        _recipe(tmp_path / "s.yaml", leak_scan="skip", leak_scan_reason="reviewed by privacy team"),
        "--lake",
        root,
    )
    assert skipped.exit_code == 0, skipped.output
    manifest = json.loads((root / "releases" / "sft" / "1" / "manifest.json").read_text())
    assert manifest["leak_scan"]["mode"] == "skip" and manifest["leak_scan"]["reason"] == "reviewed by privacy team"
    assert manifest["leak_scan"]["requested_by"]
    shown = cli("releases", "show", "sft", "--lake", root)
    assert "SKIPPED by" in shown.output and "reviewed by privacy team" in shown.output
    # the release stage hands the gate the recipe's scrub config: here it scans IP addresses only
    narrowed = cli(
        "releases",
        "build",
        _recipe(tmp_path / "n.yaml", scrub={"scan_entities": ["IP_ADDRESS"]}, name="sft-ip"),
        "--lake",
        root,
    )
    assert narrowed.exit_code == 0, narrowed.output
    manifest = json.loads((root / "releases" / "sft-ip" / "1" / "manifest.json").read_text())
    assert manifest["leak_scan"]["mode"] == "required"
    assert manifest["leak_scan"]["scanners"][0]["entities"] == ["IP_ADDRESS"]


def test_rejection_sampling_publishes_through_the_gate(tmp_path):
    """train's best-of-K release goes through the same writer: a generated reply with an identifier in it
    refuses the release."""
    from train import rejection

    lake = Lake(tmp_path / "lake")
    schema = pa.schema(
        [pa.field("messages", MESSAGES), pa.field("sample_id", pa.string()), pa.field("reward", pa.float64())]
    )
    rows = {
        "train": [
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "reach me at jane.doe@gmail.com"},
                ],
                "sample_id": "c-00:1",
                "reward": 1.0,
            }
        ]
    }
    with pytest.raises(LeakScanRefused, match=r"EMAIL_ADDRESS.*c-00:1|c-00:1.*EMAIL_ADDRESS"):
        rejection._write(lake, "best-of-k", "sft", rows, schema, parents={}, recipe={}, extra={}, description="")
    assert_nothing_published(lake, "best-of-k")
    rows["train"][0]["messages"][1]["content"] = "happy to help"
    release = rejection._write(lake, "best-of-k", "sft", rows, schema, parents={}, recipe={}, extra={}, description="")
    assert release.manifest["leak_scan"]["mode"] == "required"
