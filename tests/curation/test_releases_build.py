"""Release builders on small native-record lakes: every type's rows, drops by reason, splits, leakage,
determinism and versions, fail-closed refusals, the catalog views and the `flywheel releases` commands."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from curation.releases.build import Built, build
from curation.releases.config import ReleaseEntry
from curation.releases.job import BuildError
from lakehouse import catalog
from lakehouse.lake import Lake
from lakehouse.releases import resolve, verify, versions
from tests.helpers.release_lakes import all_records, chat, copy_lake, ingest, reply, user

KEY = "k" * 40


@pytest.fixture(autouse=True)
def hmac_key(monkeypatch):
    monkeypatch.setenv("FLYWHEEL_HMAC_KEY", KEY)


@pytest.fixture(scope="module")
def template_lake(tmp_path_factory):
    import os

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", KEY)
    root = tmp_path_factory.mktemp("releases") / "lake"
    ingest(root, all_records())
    return root


@pytest.fixture
def lake(template_lake, tmp_path) -> Lake:
    return Lake(copy_lake(template_lake, tmp_path / "lake"))


def make(lake: Lake, **entry) -> Built:
    entry.setdefault("allow_unscrubbed", True)
    return build(lake, ReleaseEntry.model_validate(entry), code_version="test")


def rows(built: Built, split: str | None = None) -> list[dict]:
    return built.release.read(split).to_pylist()


def split_of(built: Built) -> dict[str, str]:
    return {
        r["sample_id"]: s
        for s in ("train", "validation", "test")
        if built.release.data_files(s)
        for r in rows(built, s)
    }


def test_sft_rows_carry_the_character_and_never_teach_rejected_replies(lake):
    built = make(lake, name="sft-main", type="sft", split={"validation": 0.2, "test": 0.2})
    assert built.status == "published" and built.release.ref == "sft-main@1"
    data = rows(built)
    by_id = {r["sample_id"]: r for r in data}
    first = by_id["c-01:1"]
    assert first["messages"][0]["role"] == "system" and first["messages"][0]["content"].startswith("You are Luna.")
    assert [m["role"] for m in first["messages"]] == ["system", "user", "assistant"]
    assert first["messages"][-1]["content"].startswith("Sure! Here is a fact about")
    assert (first["conversation_id"], first["turn"], first["source"], first["model_version"]) == (
        "c-01",
        1,
        "user",
        "gen-14",
    )
    assert first["dedup_cluster"] == "c-01:1" and first["topic_cluster"] is None and first["origin"] == "samples"
    assert by_id["c-00:1"]["messages"][0]["content"].startswith("You are Orion.")
    # the replacement after a regeneration is kept with the regenerated reply removed from its prompt
    replacement = by_id["r-00:2"]["messages"]
    assert [m["content"] for m in replacement if m["role"] == "assistant"] == [replacement[-1]["content"]]
    assert "r-00:1" not in by_id and built.dropped["regenerated"] == 12
    manifest = built.release.manifest
    assert manifest["rows_in"] == len(data) + sum(manifest["dropped"].values())
    assert manifest["split_method"] == "conversation" and manifest["text_layer"] == "bronze"
    assert manifest["leak_scan"]["hits"] == 0 and manifest["leak_scan"]["texts"] > len(data)
    # group-level split: every turn of a conversation lands in the same split
    splits = split_of(built)
    by_conversation = {}
    for sample_id, split in splits.items():
        by_conversation.setdefault(sample_id.split(":")[0], set()).add(split)
    assert all(len(s) == 1 for s in by_conversation.values())
    assert {"train", "validation", "test"} <= set(splits.values())


def test_every_release_type_loads_with_datasets(lake):
    import datasets

    builds = [
        make(lake, name="sft", type="sft"),
        make(lake, name="pref", type="preference", pair_filters={"max_length_ratio": None, "max_emoji_diff": None}),
        make(lake, name="kto", type="unpaired"),
        make(lake, name="prompts", type="prompt"),
    ]
    expected = {
        "sft": {"messages"},
        "preference": {"prompt", "chosen", "rejected"},
        "unpaired": {"prompt", "completion", "label"},
        "prompt": {"prompt"},
    }
    provenance = {"sample_id", "source", "conversation_id", "turn", "topic_cluster", "dedup_cluster", "model_version"}
    for built in builds:
        loaded = datasets.load_dataset(str(built.release.path))
        kind = built.release.manifest["type"]
        assert set(loaded) <= {"train", "validation", "test"} and "train" in loaded
        assert expected[kind] | provenance <= set(loaded["train"].column_names)
        assert sum(len(loaded[s]) for s in loaded) == sum(built.release.manifest["splits"].values())


def test_regeneration_pairs_prefer_the_replacement_the_user_went_on_with(lake):
    built = make(lake, name="pref", type="preference")
    data = {r["sample_id"]: r for r in rows(built)}
    pair = data["r-00:1"]
    assert pair["rejected"] == [{"role": "assistant", "content": "I do not really feel like telling stories today."}]
    assert pair["chosen"][0]["content"].startswith("Once upon a time") and len(pair["chosen"]) == 1
    assert pair["prompt"][-1] == {"role": "user", "content": "Tell me a story about dragons and castles, version 0."}
    assert (pair["chosen_sample_id"], pair["rejected_sample_id"]) == ("r-00:2", "r-00:1")
    assert set(data) == {f"r-{i:02d}:1" for i in range(8)}
    assert built.dropped == {"replacement_not_preferred": 2, "length_ratio": 1, "emoji_diff": 1}
    manifest = built.release.manifest
    assert manifest["pair_filters"]["length_ratio"] == 1 and manifest["pair_filters"]["emoji_diff"] == 1
    report = manifest["artifacts"]
    assert report["compared"] == ["chosen", "rejected"] and report["rows"] == {"chosen": 8, "rejected": 8}
    features = {f["feature"]: f for f in report["features"]}
    assert features["ends_with_question"]["chosen"] == 1.0 and features["ends_with_question"]["rejected"] == 0.0
    assert features["ends_with_question"]["flagged"] and "ends_with_question" in report["flagged"]
    assert features["length_tokens"]["distribution"]["rejected"]["p50"] == 9.0


def test_pair_filters_and_artifact_thresholds_come_from_the_recipe(lake):
    built = make(
        lake,
        name="pref",
        type="preference",
        pair_filters={"max_length_ratio": None, "max_emoji_diff": None},
        artifacts={"thresholds": {"ends_with_question": 1.5}},
    )
    assert built.dropped == {"replacement_not_preferred": 2} and built.rows_out == 10
    features = {f["feature"]: f for f in built.release.manifest["artifacts"]["features"]}
    assert features["ends_with_question"]["threshold"] == 1.5 and not features["ends_with_question"]["flagged"]
    with pytest.raises(BuildError, match="style artifacts flagged .*length_tokens"):
        make(lake, name="pref-strict", type="preference", artifacts={"fail_on_flag": True})
    assert versions(lake, "pref-strict") == []


def test_style_features_are_computed_once_into_an_attribute_table(lake):
    first = make(lake, name="pref", type="preference")
    assert first.details["style_features"]["computed"] > 0
    second = make(lake, name="pref-again", type="preference", seed=3)
    assert second.details["style_features"] == {
        "needed": first.details["style_features"]["needed"],
        "reused": first.details["style_features"]["needed"],
        "computed": 0,
    }
    con = catalog.connect(lake)
    try:
        stored = con.execute(
            "SELECT count(*) FROM read_parquet(?)", [[str(f) for f in lake.files("attributes/style_features")]]
        ).fetchall()[0][0]
    finally:
        con.close()
    assert stored == first.details["style_features"]["computed"]


def test_unpaired_rows_from_thumbs_and_reports(lake):
    built = make(lake, name="kto", type="unpaired")
    data = {r["sample_id"]: r for r in rows(built)}
    assert data["c-03:1"]["label"] is True and data["c-03:1"]["completion"][0]["role"] == "assistant"
    assert data["d-0:1"]["label"] is False and data["p-0:1"]["label"] is False and data["r-00:4"]["label"] is False
    assert "x-0:1" not in data and built.dropped == {"conflicting_signals": 1}
    assert sum(r["label"] for r in data.values()) == 30
    report = built.release.manifest["artifacts"]
    assert report["compared"] == ["desirable", "undesirable"] and report["rows"]["desirable"] == 30


def test_prompt_release_is_stratified_and_ends_with_the_user(lake):
    built = make(
        lake,
        name="rl-prompts",
        type="prompt",
        filter="depth = 1",
        sources=[{"name": "samples", "kind": "samples", "stratify_by": ["character_id"], "per_stratum": 5}],
    )
    data = rows(built)
    assert len(data) == 10
    assert {r["stratum"] for r in data} == {"character_id=char-luna", "character_id=char-orion"}
    assert all(r["prompt"][-1]["role"] == "user" for r in data)
    mixture = built.release.manifest["mixture"][0]
    assert mixture["per_stratum"] == 5 and mixture["taken"] == 10
    assert built.dropped["over_stratum_cap"] == mixture["available"] - 10


def test_mixture_takes_sources_in_their_ratios_and_counts_overlap(lake):
    built = make(
        lake,
        name="mix",
        type="sft",
        sources=[
            {"name": "liked", "kind": "samples", "filter": "thumb = 1", "ratio": 3},
            {
                "name": "luna",
                "kind": "samples",
                "filter": "character_id = 'char-luna' AND conversation_id LIKE 'c-%'",
                "ratio": 1,
            },
            {"name": "safety", "kind": "samples", "filter": "conversation_id LIKE 'p-%'", "cap": 1},
        ],
    )
    mixture = {m["source"]: m for m in built.release.manifest["mixture"]}
    # every liked reply (30 + x-0) is taken; Luna's other replies fill a third of that
    assert (mixture["liked"]["taken"], mixture["luna"]["taken"]) == (31, 31 // 3)
    assert mixture["luna"]["available"] > 31 // 3 and built.dropped["over_ratio"] == mixture["luna"]["available"] - 10
    assert mixture["safety"]["taken"] == 1 and built.dropped["over_cap"] == 1
    assert built.dropped["overlap"] > 0  # liked Luna replies are offered by both and belong to `liked`
    origins = {r["origin"] for r in rows(built)}
    assert origins == {"liked", "luna", "safety"}
    total = make(
        lake,
        name="mix-total",
        type="sft",
        total=8,
        sources=[
            {"name": "liked", "kind": "samples", "filter": "thumb = 1", "ratio": 1},
            {"name": "other", "kind": "samples", "filter": "thumb = 0", "ratio": 1},
        ],
    )
    assert {m["source"]: m["taken"] for m in total.release.manifest["mixture"]} == {"liked": 4, "other": 4}


def test_release_source_mixes_another_release_in(lake):
    patch = make(lake, name="patch", type="sft", filter="conversation_id LIKE 'd-%'")
    built = make(
        lake,
        name="mixed",
        type="sft",
        sources=[
            {"name": "own", "kind": "samples", "filter": "thumb = 1"},
            {"name": "patch", "kind": "release", "ref": "patch", "splits": ["train", "validation", "test"]},
        ],
    )
    data = {r["sample_id"]: r for r in rows(built)}
    assert {r["origin"] for r in data.values()} == {"own", "patch"}
    patched = [r for r in data.values() if r["origin"] == "patch"]
    assert len(patched) == patch.rows_out
    assert patched[0]["messages"][-1]["content"] == "Tides are when water does stuff."
    assert (
        built.release.manifest["parents"]["releases"]["patch@1"]["content_hash"]
        == patch.release.manifest["content_hash"]
    )
    with pytest.raises(BuildError, match="is a sft release, not preference"):
        make(lake, name="bad", type="preference", sources=[{"name": "p", "kind": "release", "ref": "patch"}])


def test_same_lake_and_recipe_give_the_same_content_hash(template_lake, tmp_path):
    entry = {"name": "sft", "type": "sft", "split": {"validation": 0.2, "test": 0.2}}
    first_lake = Lake(copy_lake(template_lake, tmp_path / "a"))
    second_lake = Lake(copy_lake(template_lake, tmp_path / "b"))
    first, second = make(first_lake, **entry), make(second_lake, **entry)
    assert first.release.manifest["content_hash"] == second.release.manifest["content_hash"]
    assert [f["sha256"] for f in first.release.manifest["files"]] == [
        f["sha256"] for f in second.release.manifest["files"]
    ]
    again = make(first_lake, **entry)
    assert (again.status, again.release.ref) == ("unchanged", "sft@1") and versions(first_lake, "sft") == [1]
    changed = make(first_lake, **{**entry, "filter": "thumb = 1"})
    assert changed.release.ref == "sft@2"
    assert changed.release.manifest["content_hash"] != first.release.manifest["content_hash"]
    reseeded = make(first_lake, **{**entry, "filter": "thumb = 1", "seed": 1})
    assert reseeded.release.ref == "sft@3"  # the recipe changed, so the release did even with the same rows
    assert verify(resolve(first_lake, "sft@1")) == []


def test_frozen_eval_set_is_built_once_and_training_releases_leak_nothing_of_it(lake, tmp_path):
    root = copy_lake(lake.root, tmp_path / "lake2")
    opener = "Hi Luna, could you please tell me something surprising about black holes number 1"
    ingest(
        root,
        [
            chat("e-0", [user(opener + " today?"), reply("They are dark.")]),  # a near-copy of c-01's opener
            chat("e-1", [user("ok"), reply("Okay!")]),
        ],
    )
    lake2 = Lake(root)
    eval_entry = {
        "name": "eval",
        "type": "prompt",
        "frozen_eval": True,
        "filter": "conversation_id IN ('c-01', 'e-1') AND depth = 1",
    }
    evaluation = make(lake2, **eval_entry)
    assert evaluation.status == "published"
    assert evaluation.release.manifest["splits"] == {"train": 0, "validation": 0, "test": 2}
    assert evaluation.release.manifest["frozen_eval"] is True
    again = make(lake2, **{**eval_entry, "filter": "true"})
    assert (again.status, again.release.ref) == ("reused", "eval@1") and "--refreeze" in again.details["note"]
    training = make(lake2, name="sft", type="sft")
    kept = {r["sample_id"] for r in rows(training)}
    leakage = training.release.manifest["leakage"]
    assert leakage["eval_sets"][0]["ref"] == "eval@1"
    assert leakage["same_conversation"] == 3  # both turns of c-01 and the one of e-1
    # e-0 and the openers of c-13 and c-25 ("... black holes number 13?") are Luna's near-copies of c-01's;
    # c-04 asks Orion, and the short follow-ups are only ever matched exactly
    assert leakage["near_duplicate"] == 3 and not {"e-0:1", "c-13:1", "c-25:1"} & kept
    assert {"c-13:3", "c-04:1"} <= kept
    assert training.dropped["eval_leak"] == leakage["removed"] == 6
    assert not any(s.startswith(("c-01:", "e-1:")) for s in kept)
    refrozen = build(
        lake2,
        ReleaseEntry.model_validate({**eval_entry, "filter": "conversation_id = 'c-02'", "allow_unscrubbed": True}),
        refreeze=True,
    )
    assert refrozen.release.ref == "eval@2"
    assert make(lake2, name="sft", type="sft").release.manifest["leakage"]["eval_sets"][0]["ref"] == "eval@2"


def test_exact_copy_of_an_eval_prompt_is_removed_even_when_short(lake):
    records = [
        chat("e-1", [user("ok"), reply("Okay!")]),
        chat("e-2", [user("ok"), reply("Sure, what's up?")]),
        chat("e-3", [user("ok"), reply("Hello")], character=None),
    ]
    root = lake.root.parent / "lake3"
    copy_lake(lake.root, root)
    ingest(root, records)
    lake3 = Lake(root)
    make(lake3, name="eval", type="prompt", frozen_eval=True, filter="conversation_id = 'e-1'")
    training = make(lake3, name="sft", type="sft", filter="conversation_id LIKE 'e-%'")
    assert {r["sample_id"] for r in rows(training)} == {"e-3:1"}  # another character's "ok" is another prompt
    leakage = training.release.manifest["leakage"]
    assert (leakage["same_conversation"], leakage["exact_prompt"], leakage["near_duplicate"]) == (1, 1, 0)


def test_unscrubbed_text_is_refused_unless_allowed(lake):
    with pytest.raises(BuildError, match="bronze layer .*allow_unscrubbed"):
        make(lake, name="sft", type="sft", allow_unscrubbed=False)
    assert versions(lake, "sft") == []


def test_leak_scan_refuses_the_release_and_names_the_sample_ids(lake, tmp_path):
    root = tmp_path / "pii-lake"
    copy_lake(lake.root, root)
    ingest(
        root,
        [
            chat("pii-0", [user("Mail me at jane.doe@gmail.com"), reply("Noted.", thumb=1)]),
            chat(
                "pii-1",
                [
                    user("My card is 4111 1111 1111 1111"),
                    reply("Thanks", thumb=1),
                    user("and call (415) 867-5309"),
                    reply("Will do"),
                ],
            ),
        ],
    )
    pii_lake = Lake(root)
    with pytest.raises(BuildError) as refused:
        make(pii_lake, name="sft", type="sft")
    message = str(refused.value)
    assert "refused: the leak scan" in message and "pii-0:1" in message and "pii-1:1" in message
    assert "pii-1:3" in message and "CREDIT_CARD" in message and "EMAIL_ADDRESS" in message
    assert "PHONE_NUMBER" in message
    assert versions(pii_lake, "sft") == [] and not list((pii_lake.root / "_staging").glob("release-*"))
    clean = make(pii_lake, name="sft", type="sft", filter="conversation_id NOT LIKE 'pii-%'")
    assert clean.status == "published"


def test_a_bad_filter_is_a_clear_error(lake):
    with pytest.raises(BuildError, match="source 'samples' \\(samples\\).*no_such_column"):
        make(lake, name="sft", type="sft", filter="no_such_column = 1")


def test_labels_source_is_skipped_with_a_note_until_the_labels_table_exists(lake):
    built = make(lake, name="pref", type="preference")
    assert any("no consensus labels yet" in note for note in built.release.manifest["notes"])


def test_consensus_labels_become_pairs_and_unpaired_rows(lake, monkeypatch):
    import datetime as dt

    import pyarrow as pa

    from lakehouse import tables

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema(
        [
            ("queue", pa.string()),
            ("kind", pa.string()),
            ("task_id", pa.int64()),
            ("item_key", pa.string()),
            ("question", pa.string()),
            ("answer", pa.string()),
            ("n_annotators", pa.int32()),
            ("agreement", pa.float64()),
            ("kept", pa.bool_()),
            ("tie", pa.bool_()),
            ("prompt", pa.list_(message)),
            ("sample_id", pa.string()),
            ("response", pa.string()),
            ("chosen", pa.string()),
            ("rejected", pa.string()),
            ("chosen_sample_id", pa.string()),
            ("rejected_sample_id", pa.string()),
            ("rewriter", pa.string()),
            ("character_id", pa.string()),
            ("snapshot_at", pa.timestamp("us", tz="UTC")),
        ]
    )
    spec = tables.TableSpec("labels/consensus", schema, description="test stand-in for the labeling app's table")
    monkeypatch.setitem(tables.TABLES, spec.name, spec)
    prompt = [{"role": "user", "content": "Which reply is better?"}]
    now = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    base = {
        "kind": "pairwise",
        "question": "preference",
        "n_annotators": 3,
        "prompt": prompt,
        "sample_id": None,
        "response": None,
        "rewriter": None,
        "character_id": "char-luna",
        "snapshot_at": now,
        "queue": "pw",
    }
    label_rows = [
        {
            **base,
            "task_id": 1,
            "answer": "0",
            "agreement": 1.0,
            "kept": True,
            "tie": False,
            "chosen": "A fine reply.",
            "rejected": "Meh.",
            "chosen_sample_id": "c-01:1",
            "rejected_sample_id": "c-01:3",
        },
        {
            **base,
            "task_id": 2,
            "answer": "tie",
            "agreement": 1.0,
            "kept": True,
            "tie": True,
            "chosen": None,
            "rejected": None,
            "chosen_sample_id": None,
            "rejected_sample_id": None,
        },
        {
            **base,
            "task_id": 3,
            "answer": "1",
            "agreement": 0.67,
            "kept": True,
            "tie": False,
            "chosen": "Yes.",
            "rejected": "No thanks.",
            "chosen_sample_id": None,
            "rejected_sample_id": None,
        },
        {
            **base,
            "task_id": 4,
            "answer": None,
            "agreement": 0.34,
            "kept": False,
            "tie": None,
            "chosen": None,
            "rejected": None,
            "chosen_sample_id": None,
            "rejected_sample_id": None,
        },
        {
            **base,
            "kind": "questionnaire",
            "question": "helpful",
            "task_id": 5,
            "answer": "yes",
            "agreement": 1.0,
            "kept": True,
            "tie": None,
            "sample_id": "c-02:1",
            "response": "Helpful reply.",
            "chosen": None,
            "rejected": None,
            "chosen_sample_id": None,
            "rejected_sample_id": None,
        },
        {
            **base,
            "kind": "questionnaire",
            "question": "helpful",
            "task_id": 6,
            "answer": "no",
            "agreement": 1.0,
            "kept": True,
            "tie": None,
            "sample_id": None,
            "response": "Unhelpful reply.",
            "chosen": None,
            "rejected": None,
            "chosen_sample_id": None,
            "rejected_sample_id": None,
        },
    ]
    with lake.transaction() as tx:
        tx.write(spec, pa.Table.from_pylist(label_rows, schema=schema))
    catalog.refresh(lake)
    pairs = make(
        lake,
        name="pref",
        type="preference",
        filter="false",
        sources=[{"name": "labels", "kind": "labels", "min_agreement": 0.7}],
        pair_filters={"max_length_ratio": None, "max_emoji_diff": None},
    )
    data = rows(pairs)
    assert [r["sample_id"] for r in data] == ["label:pw:1"]
    assert data[0]["chosen"][0]["content"] == "A fine reply." and data[0]["conversation_id"] == "c-01"
    assert pairs.dropped == {"label_tie": 1, "label_low_agreement": 1, "label_no_consensus": 1}
    assert pairs.release.manifest["label_agreement"]["labels"]["mean_agreement"] == 1.0
    assert "labels/consensus" in pairs.release.manifest["parents"]["tables"]
    single = make(
        lake, name="kto", type="unpaired", sources=[{"name": "helpful", "kind": "labels", "question": "helpful"}]
    )
    labels = {r["completion"][0]["content"]: r["label"] for r in rows(single)}
    assert labels == {"Helpful reply.": True, "Unhelpful reply.": False}


def test_catalog_lists_releases_and_their_rows(lake):
    make(lake, name="sft", type="sft")
    make(lake, name="kto", type="unpaired")
    catalog.refresh(lake)
    con = catalog.connect(lake)
    try:
        listed = con.execute(
            "SELECT name, version, type, splits.train + splits.validation + splits.test, "
            "content_hash FROM releases ORDER BY name"
        ).fetchall()
        counted = dict(
            con.execute(
                "SELECT release_name || '@' || release_version, count(*) FROM release_rows GROUP BY 1"
            ).fetchall()
        )
        labels = con.execute(
            "SELECT count(*) FILTER (WHERE label) FROM release_rows WHERE release_name = 'kto'"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert [(n, v, t) for n, v, t, _, _ in listed] == [("kto", 1, "unpaired"), ("sft", 1, "sft")]
    assert counted == {f"{n}@{v}": total for n, v, _, total, _ in listed}
    assert labels == 30
    assert listed[1][4] == resolve(lake, "sft").manifest["content_hash"]


def test_releases_commands(lake, tmp_path):
    from typer.testing import CliRunner

    from lakehouse.cli import _register_plugins, app

    _register_plugins()
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        json.dumps(
            {
                "name": "r",
                "stages": [
                    {
                        "stage": "release",
                        "releases": [
                            {
                                "name": "eval",
                                "type": "prompt",
                                "frozen_eval": True,
                                "allow_unscrubbed": True,
                                "filter": "depth = 1",
                                "sources": [{"name": "s", "kind": "samples", "cap": 5}],
                            },
                            {"name": "pref", "type": "preference", "allow_unscrubbed": True},
                            {"name": "sft", "type": "sft", "allow_unscrubbed": True, "filter": "thumb = 1"},
                        ],
                    }
                ],
            }
        )
    )
    runner = CliRunner()
    lake_option = ["--lake", str(lake.root)]
    result = runner.invoke(app, ["releases", "build", str(recipe), *lake_option])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["releases", "build", str(recipe), "--only", "sft", *lake_option])
    assert result.exit_code == 0 and "unchanged" in result.output
    recipe.write_text(recipe.read_text().replace('"thumb = 1"', '"thumb = 1 OR thumb = -1"'))
    assert runner.invoke(app, ["releases", "build", str(recipe), "--only", "sft", *lake_option]).exit_code == 0
    listing = runner.invoke(app, ["releases", "list", *lake_option]).output
    assert "eval@1" in listing and "pref@1" in listing and "sft@2" in listing
    shown = runner.invoke(app, ["releases", "show", "pref", *lake_option]).output
    assert "dropped       emoji_diff: 1, length_ratio: 1, replacement_not_preferred: 2" in shown
    assert "style artifacts: chosen (8) vs rejected (8)" in shown and "FLAG ends_with_question" in shown
    assert "eval leakage  vs eval@1" in shown
    manifest = json.loads(runner.invoke(app, ["releases", "show", "pref", "--format", "json", *lake_option]).output)
    assert manifest["content_hash"] == resolve(lake, "pref").manifest["content_hash"]
    wrong = runner.invoke(app, ["releases", "show", "pref", "--format", "yaml", *lake_option])
    assert wrong.exit_code == 2 and "must be table or json" in wrong.output
    diffed = runner.invoke(app, ["releases", "diff", "sft@1", "sft@2", *lake_option])
    assert diffed.exit_code == 0
    assert "added 16, removed 0, changed 0" in diffed.output and "share by origin" in diffed.output
    assert runner.invoke(app, ["releases", "verify", *lake_option]).output.count(": ok") == 4
    data_file = resolve(lake, "sft@2").data_files("train")[0]
    data_file.chmod(0o644)
    pq.write_table(pq.read_table(data_file).slice(1), data_file)
    broken = runner.invoke(app, ["releases", "verify", "sft@2", *lake_option])
    assert broken.exit_code == 1 and "sha256 mismatch" in broken.output
    missing = runner.invoke(app, ["releases", "show", "nope", *lake_option])
    assert missing.exit_code == 2 and "no release named 'nope'" in missing.output


def test_recipe_errors_name_the_key():
    from curation.pipeline.recipe import RecipeError, parse

    def error(entry: dict) -> str:
        with pytest.raises(RecipeError) as caught:
            parse({"name": "r", "stages": [{"stage": "release", "releases": [entry]}]})
        return str(caught.value)

    assert "releases.0.filtr: unknown key" in error({"name": "a", "type": "sft", "filtr": "x"})
    assert "a sft release takes source kinds samples, labels, release" in error(
        {"name": "a", "type": "sft", "sources": [{"name": "r", "kind": "regenerations"}]}
    )
    assert "unknown artifact feature(s) sparkle" in error(
        {"name": "a", "type": "preference", "artifacts": {"thresholds": {"sparkle": 0.1}}}
    )
    assert "only a prompt release can be a frozen" in error({"name": "a", "type": "sft", "frozen_eval": True})
    assert "must match" in error({"name": "Bad Name", "type": "sft"})
