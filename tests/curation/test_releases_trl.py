"""Every release type, built from the real public data (hh-rlhf, Synthetic-Persona-Chat) and native
records with user signals, loads with `datasets` and trains two steps of the matching TRL trainer on a
tiny random Llama on CPU: the proof that the format is what TRL takes."""

from __future__ import annotations

import re

import pytest

from curation.releases.build import build
from curation.releases.config import ReleaseEntry
from curation.releases.job import BuildError
from lakehouse.lake import Lake
from tests.helpers import trl_steps
from tests.helpers.release_lakes import all_records, ingest

pytestmark = pytest.mark.slow


def make(lake: Lake, **entry):
    return build(lake, ReleaseEntry.model_validate({"allow_unscrubbed": True, **entry}), code_version="test")


@pytest.fixture(scope="module")
def releases(tmp_path_factory, hh_path, persona_chat_path):
    """(lake, {type: release}) built from the real data plus native records with thumbs and regenerations."""
    import os

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)
    root = tmp_path_factory.mktemp("trl") / "lake"
    ingest(root, all_records(), extra_paths=(hh_path, persona_chat_path))
    lake = Lake(root)
    built = {
        "prompt": make(
            lake,
            name="eval",
            type="prompt",
            frozen_eval=True,
            filter="depth = 1",
            sources=[{"name": "persona", "kind": "samples", "filter": "character_id LIKE 'persona-%'", "cap": 40}],
        )
    }
    built["sft"] = make(
        lake,
        name="persona-sft",
        type="sft",
        filter="character_id LIKE 'persona-%'",
        sources=[{"name": "persona", "kind": "samples", "cap": 64}],
    )
    hh = {"name": "hh", "kind": "preference_pairs"}
    filters = {"max_length_ratio": 6.0}
    with pytest.raises(BuildError) as refused:  # raw hh-rlhf holds e-mail addresses and phone numbers
        make(lake, name="hh-pref", type="preference", sources=[hh], pair_filters=filters)
    leaking = sorted(set(re.findall(r"hh-[0-9a-f]+-chosen:\d+", str(refused.value))))
    assert "refused: the leak scan" in str(refused.value) and leaking
    excluded = ", ".join(f"'{s}'" for s in leaking)
    built["preference"] = make(
        lake,
        name="hh-pref",
        type="preference",
        sources=[
            {**hh, "filter": f"sample_id NOT IN ({excluded})", "cap": 48},
            {"name": "regenerations", "kind": "regenerations"},
        ],
        pair_filters=filters,
    )
    built["unpaired"] = make(lake, name="thumbs", type="unpaired")
    return lake, built, leaking


@pytest.fixture(scope="module")
def tiny(releases) -> trl_steps.Tiny:
    _, built, _ = releases
    return trl_steps.tiny(result.release for result in built.values())


def test_the_refused_hh_pairs_are_the_ones_with_personal_data(releases):
    from curation.scrub.leak_gate import entities
    from lakehouse import catalog

    lake, built, leaking = releases
    con = catalog.connect(lake)
    try:
        pairs = con.execute("""
            SELECT a.sample_id, array_to_string(list_transform(a.prompt, lambda m: m.content), ' ') || ' ' ||
                   a.response || ' ' || b.response
            FROM preference_pairs p
            JOIN samples a ON a.conversation_id = p.chosen_conversation_id AND a.turn = p.turn
            JOIN samples b ON b.conversation_id = p.rejected_conversation_id AND b.turn = p.turn""").fetchall()
    finally:
        con.close()
    with_identifiers = sorted(sample_id for sample_id, text in pairs if entities(text))
    published = {r["sample_id"] for r in built["preference"].release.read().to_pylist()}
    # the refusal named exactly the pairs (among those the recipe kept) whose text holds an identifier
    assert set(leaking) <= set(with_identifiers) and not published & set(with_identifiers)


def test_sft_release_trains_with_sft_trainer(releases, tiny, tmp_path):
    _, built, _ = releases
    data = trl_steps.loaded(built["sft"].release)
    assert data["train"][0]["messages"][0]["role"] == "system"
    assert trl_steps.sft(data["train"], tiny, tmp_path) == 2


def test_preference_release_trains_a_reward_model_and_dpo(releases, tiny, tmp_path):
    _, built, _ = releases
    data = trl_steps.loaded(built["preference"].release)
    rows = built["preference"].release.read().to_pylist()
    assert {r["origin"] for r in rows} == {"hh", "regenerations"}
    hh = next(r for r in rows if r["origin"] == "hh")
    assert hh["rejected_sample_id"] == hh["sample_id"].replace("-chosen:", "-rejected:")
    assert hh["prompt"][-1]["role"] == "user" and all(m["role"] != "system" for m in hh["prompt"])
    assert hh["chosen"] != hh["rejected"] and len(hh["chosen"]) == len(hh["rejected"]) == 1
    assert trl_steps.reward(data["train"], tiny, tmp_path / "rm") == 2
    assert trl_steps.dpo(data["train"], tiny, tmp_path / "dpo") == 2


def test_unpaired_release_trains_with_kto(releases, tiny, tmp_path):
    _, built, _ = releases
    data = trl_steps.loaded(built["unpaired"].release)
    assert set(data["train"]["label"]) == {True, False}
    assert trl_steps.kto(data["train"], tiny, tmp_path / "kto") == 2


def test_prompt_release_is_a_frozen_eval_set_the_others_were_checked_against(releases):
    _, built, _ = releases
    data = trl_steps.loaded(built["prompt"].release)
    assert list(data) == ["test"] and all(p[-1]["role"] == "user" for p in data["test"]["prompt"])
    for kind in ("sft", "preference", "unpaired"):
        leakage = built[kind].release.manifest["leakage"]
        assert [s["ref"] for s in leakage["eval_sets"]] == ["eval@1"]
    assert built["sft"].release.manifest["leakage"]["same_conversation"] > 0
