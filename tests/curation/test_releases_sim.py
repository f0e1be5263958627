"""Every release type from the traffic simulator, through the real pipeline (simulate -> ingest -> scrub ->
release, tests/helpers/sim_lake.py): what the recipe published, that no planted personal data reached a release,
and that each release loads with `datasets` and trains two steps of the matching TRL trainer."""

from __future__ import annotations

import gzip
import json

import pytest

from lakehouse.releases import resolve, verify, versions
from tests.helpers import sim_lake, trl_steps

pytestmark = pytest.mark.slow
TRAINING = ("sft", "preference", "kto", "rl-prompts")
# The identifiers the leak scan also looks for; the scrubber must have replaced every planted one.
HIGH_RISK = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE", "IP_ADDRESS")


@pytest.fixture(scope="module")
def sim(simulated_lake):
    return simulated_lake


@pytest.fixture(scope="module")
def built(sim) -> dict:
    return {entry["name"]: resolve(sim.lake, entry["name"]) for entry in sim_lake.RELEASES}


@pytest.fixture(scope="module")
def tiny(built) -> trl_steps.Tiny:
    return trl_steps.tiny(built.values())


def texts(release) -> list[str]:
    columns = ("messages", "prompt", "chosen", "rejected", "completion")
    table = release.read()
    return [
        m["content"] for c in columns if c in table.column_names for ms in table.column(c).to_pylist() for m in ms or []
    ]


def test_the_recipe_published_every_release_from_scrubbed_text(sim, built):
    assert {name: versions(sim.lake, name) for name in built} == {name: [1] for name in built}
    for name, release in built.items():
        manifest = release.manifest
        assert verify(release) == [], name
        assert manifest["text_layer"] == "silver" and manifest["leak_scan"]["hits"] == 0
        assert manifest["splits"] and sum(manifest["splits"].values()) > 0
    evaluation = built["eval-prompts"]
    assert evaluation.manifest["splits"]["test"] == sum(evaluation.manifest["splits"].values())
    assert set(evaluation.read().column("source").to_pylist()) == {"user", "internal"}  # win rates by source
    for name in TRAINING:
        assert [s["ref"] for s in built[name].manifest["leakage"]["eval_sets"]] == ["eval-prompts@1"]
        assert built[name].manifest["dropped"].get("eval_leak", 0) > 0  # same-conversation turns at least


def test_planted_personal_data_never_reaches_a_release(sim, built):
    planted = set()
    with gzip.open(sim.simulated / "truth.jsonl.gz", "rt") as lines:
        for line in lines:
            planted.update(p["value"] for p in json.loads(line)["pii"] if p["type"] in HIGH_RISK)
    published = "\n".join(text for release in built.values() for text in texts(release))
    assert len(planted) > 50
    assert sorted(value for value in planted if value in published) == []
    assert "<PHONE_NUMBER_1>" in published or "<EMAIL_ADDRESS_1>" in published  # replaced, not dropped


def test_sft_is_the_recipe_mixture_of_liked_continued_and_internal_replies(built):
    manifest = built["sft"].manifest
    taken = {source["source"]: source["taken"] for source in manifest["mixture"]}
    assert taken["liked"] > 0 and abs(taken["liked"] - 2 * taken["continued"]) <= 2
    assert 0 < taken["internal"] <= 300
    assert manifest["dropped"]["regenerated"] > 0  # a regenerated reply is never an SFT target
    rows = built["sft"].read().to_pylist()
    assert {r["origin"] for r in rows} == {"liked", "continued", "internal"}
    assert all(r["messages"][0]["role"] == "system" and r["messages"][-1]["role"] == "assistant" for r in rows)


def test_preference_pairs_are_regenerations_and_show_the_simulated_style_effects(built):
    release = built["preference"]
    rows = release.read().to_pylist()
    for row in rows:
        conversation, turn = row["rejected_sample_id"].rsplit(":", 1)
        assert row["chosen_sample_id"] == f"{conversation}:{int(turn) + 1}"  # the replacement is the next message
    dropped = release.manifest["dropped"]
    assert dropped["length_ratio"] > 0 and dropped["emoji_diff"] > 0 and dropped["replacement_not_preferred"] > 0
    # the simulator regenerates refusals and stock openers far more often; its replacements ask back more
    report = {f["feature"]: f for f in release.manifest["artifacts"]["features"]}
    assert report["refusal"]["chosen"] < report["refusal"]["rejected"]
    assert report["stock_opening"]["chosen"] < report["stock_opening"]["rejected"]
    assert report["ends_with_question"]["chosen"] > report["ends_with_question"]["rejected"]


def test_prompt_releases_end_with_a_user_message(built):
    for name in ("eval-prompts", "rl-prompts"):
        data = trl_steps.loaded(built[name])
        assert all(p[-1]["role"] == "user" for split in data for p in data[split]["prompt"])
    rl = built["rl-prompts"].read().to_pylist()
    per_character: dict[str, int] = {}
    for row in rl:
        per_character[row["character_id"]] = per_character.get(row["character_id"], 0) + 1
    assert len(per_character) > 10 and max(per_character.values()) <= 4


def test_sft_release_trains_with_sft_trainer(built, tiny, tmp_path):
    data = trl_steps.loaded(built["sft"])
    assert trl_steps.sft(data["train"], tiny, tmp_path) == 2


def test_preference_release_trains_a_reward_model_and_dpo(built, tiny, tmp_path):
    data = trl_steps.loaded(built["preference"])
    assert trl_steps.reward(data["train"], tiny, tmp_path / "rm") == 2
    assert trl_steps.dpo(data["train"], tiny, tmp_path / "dpo") == 2


def test_unpaired_release_trains_with_kto(built, tiny, tmp_path):
    data = trl_steps.loaded(built["kto"])
    assert set(data["train"]["label"]) == {True, False}
    assert trl_steps.kto(data["train"], tiny, tmp_path / "kto") == 2
