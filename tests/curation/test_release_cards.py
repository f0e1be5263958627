"""Dataset cards users can trust: every statement is measured on the release as built (composition by
source, languages, placeholder shares, flagged artifacts, the eval set it is disjoint from, the lineage
hash), the card is never part of the content hash, `releases push` sends exactly the verified files with
the card to a Hub (a stand-in server on 127.0.0.1; never the network), and `releases list` prints json,
csv, or a table that cuts nothing at 80 columns."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from huggingface_hub import DatasetCard

from curation.releases.build import build
from curation.releases.card import PLACEHOLDER, size_category
from curation.releases.config import ReleaseEntry
from lakehouse.lake import Lake
from tests.helpers.hub_standin import HubStandIn
from tests.helpers.release_lakes import LUNA, all_records, chat, copy_lake, ingest, reply, user

KEY = "k" * 40
FRENCH = [
    chat(
        f"fr-{i}",
        [
            user(f"Bonjour Luna, est-ce que tu peux me parler des étoiles filantes ce soir, numéro {i} ?"),
            reply("Bien sûr ! Les étoiles filantes sont des poussières qui brûlent dans le ciel.", thumb=1),
        ],
        character=LUNA,
    )
    for i in range(6)
]
PLACEHOLDERS = [
    chat(
        f"pii-{i}",
        [
            user(f"My friend is <PERSON_1>, say hi to them, message {i}."),
            reply("Hi <PERSON_1>, nice to meet you!", thumb=1),
        ],
    )
    for i in range(3)
]


@pytest.fixture(autouse=True)
def hmac_key(monkeypatch):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", KEY)


@pytest.fixture(scope="module")
def template_lake(tmp_path_factory):
    os.environ.setdefault("FLYWHEEL_HMAC_KEY", KEY)
    root = tmp_path_factory.mktemp("cards") / "lake"
    ingest(root, all_records() + FRENCH + PLACEHOLDERS)
    return root


@pytest.fixture
def lake(template_lake, tmp_path) -> Lake:
    return Lake(copy_lake(template_lake, tmp_path / "lake"))


def make(lake: Lake, **entry):
    entry.setdefault("allow_unscrubbed", True)
    return build(lake, ReleaseEntry.model_validate(entry), code_version="test")


def card_of(built) -> DatasetCard:
    return DatasetCard.load(built.release.path / "README.md")


def test_card_metadata_is_measured_license_from_the_recipe(lake):
    built = make(lake, name="sft", type="sft", license="cc-by-4.0")
    data = card_of(built).data
    assert data.license == "cc-by-4.0"
    assert data.tags == ["trl", "sft"]
    assert set(data.language) == {"en", "fr"}  # the French chats are there, nothing else
    assert data.size_categories == [size_category(sum(built.release.manifest["splits"].values()))] == ["n<1K"]
    assert data.task_categories == ["text-generation"]
    assert data.configs[0]["data_files"][0]["path"].startswith("data/")


def test_composition_is_what_was_built_not_what_the_description_says(lake):
    built = make(lake, name="prefs", type="preference", description="Regenerations, hh-rlhf pairs and labels.")
    text = card_of(built).text
    taken = {m["source"]: m["taken"] for m in built.release.manifest["mixture"]}
    assert taken["regenerations"] > 0 and taken.get("preference_pairs", 0) == 0
    assert f"| regenerations | regenerations | {taken['regenerations']:,} | 100.0% |" in text
    assert "contributed no row to this build: preference_pairs" in text


def test_placeholder_shares_are_counted_in_the_rows_and_in_the_targets(lake):
    built = make(lake, name="sft", type="sft")
    rows = built.release.read().to_pylist()
    anywhere = sum(any(PLACEHOLDER.search(m["content"]) for m in r["messages"]) for r in rows)
    targets = sum(bool(PLACEHOLDER.search(r["messages"][-1]["content"])) for r in rows)
    assert anywhere >= 3 and targets >= 3
    text = card_of(built).text
    assert f"{anywhere:,} of {len(rows):,} rows ({anywhere / len(rows):.1%}) carry a placeholder" in text
    assert f"; {targets:,} ({targets / len(rows):.1%}) in the text trained on" in text


def test_card_names_the_eval_set_it_is_disjoint_from_and_the_lineage_hash(lake):
    frozen = make(lake, name="eval-set", type="prompt", frozen_eval=True, filter="conversation_id LIKE 'c-0%'")
    built = make(lake, name="sft", type="sft")
    text = card_of(built).text
    eval_hash = frozen.release.manifest["content_hash"]
    assert f"`eval-set@1` (content hash `{eval_hash[:12]}`)" in text
    assert built.release.manifest["content_hash"] in text
    assert "frozen evaluation set" in card_of(frozen).text


def test_the_card_is_not_part_of_the_content_hash(lake):
    first = make(lake, name="sft", type="sft", license="mit", description="one wording")
    again = make(lake, name="sft", type="sft", license="apache-2.0", description="one wording")
    assert again.status == "unchanged"  # a new license on the card is not new content
    assert "license" not in first.release.manifest["recipe"]


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    code = "import sys; sys.argv[0] = 'flywheel'; from lakehouse.cli import main; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        check=False,
    )


def test_push_sends_the_verified_files_and_the_card_to_the_hub(lake):
    built = make(lake, name="sft", type="sft", license="cc-by-4.0")
    with HubStandIn() as hub:
        done = _cli(
            "releases", "push", "sft@1", "--repo-id", "acme/chat-sft", "--lake", str(lake.root), "--endpoint", hub.url
        )
        assert done.returncode == 0, done.stderr
        pushed = hub.repos["acme/chat-sft"]["files"]
    release = built.release.path
    for entry in built.release.manifest["files"]:
        assert pushed[entry["path"]] == (release / entry["path"]).read_bytes()
    assert json.loads(pushed["manifest.json"]) == built.release.manifest
    card = DatasetCard(pushed["README.md"].decode())
    assert card.data.license == "cc-by-4.0" and card.data.tags == ["trl", "sft"]
    assert hub.repos["acme/chat-sft"]["commits"] == [
        f"sft@1 (content hash {built.release.manifest['content_hash'][:12]})"
    ]


def test_push_refuses_a_release_whose_files_no_longer_match_the_manifest(lake):
    built = make(lake, name="sft", type="sft")
    data = built.release.path / built.release.manifest["files"][0]["path"]
    data.chmod(0o644)
    data.write_bytes(data.read_bytes() + b"x")
    with HubStandIn() as hub:
        done = _cli("releases", "push", "sft@1", "--repo-id", "acme/x", "--lake", str(lake.root), "--endpoint", hub.url)
        assert done.returncode != 0 and "does not match its manifest" in done.stderr
        assert hub.requests == []  # nothing was sent


def test_push_dry_run_prints_the_card_and_reaches_no_server(lake):
    make(lake, name="sft", type="sft")
    done = _cli(
        "releases",
        "push",
        "sft",
        "--repo-id",
        "acme/x",
        "--lake",
        str(lake.root),
        "--dry-run",
        "--endpoint",
        "http://127.0.0.1:9",
    )
    assert done.returncode == 0, done.stderr
    assert "would push sft@1 to dataset acme/x" in done.stdout and "tags:\n- trl\n- sft" in done.stdout


def test_releases_list_in_json_csv_and_an_80_column_table_that_cuts_nothing(lake):
    make(lake, name="a-rather-long-release-name", type="sft")
    make(lake, name="prefs", type="preference")
    as_json = json.loads(_cli("releases", "list", "--lake", str(lake.root), "--format", "json").stdout)
    refs = [r["release"] for r in as_json]
    assert refs == ["a-rather-long-release-name@1", "prefs@1"]
    as_csv = list(
        csv.DictReader(io.StringIO(_cli("releases", "list", "--lake", str(lake.root), "--format", "csv").stdout))
    )
    assert [r["release"] for r in as_csv] == refs and len(as_csv[0]["content_hash"]) == 12
    table = _cli("releases", "list", "--lake", str(lake.root), env={"COLUMNS": "80"}).stdout
    assert all(ref in table for ref in refs) and "…" not in table
    assert max(len(line) for line in table.splitlines()) <= 80
