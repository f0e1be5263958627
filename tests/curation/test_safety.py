"""The safety stage (docs/safety.md): its config errors, the two classifier backends, the attribute table and
the catalog's views, incremental reruns, releases excluding flagged rows, the review queue, and the
offensive-language classifier's flag rates on real red-team and benign chat (../shared/data)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.lakes import query
from tests.helpers.release_lakes import all_records, chat, ingest, reply, user

os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)

# Mechanics tests need messages the offensive-language model flags for certain (scores ~1.0); its quality is
# measured on real data below (test_flag_rate_red_team_far_above_benign_chat), never on these.
PROFANE_USER = "you are a fucking idiot"
PROFANE_REPLY = "shut up, you stupid bitch"


def flagged_records() -> list[dict]:
    """bad-0: a profane user opener, then clean turns; bad-1: a clean question, a profane reply."""
    return [
        chat(
            "bad-0",
            [
                user(PROFANE_USER),
                reply("Let us keep it friendly. Want a fact about comets?", continued=True),
                user("fine, tell me one"),
                reply("Comets have tails that point away from the sun.", thumb=1),
            ],
        ),
        chat("bad-1", [user("Tell me about the rings of Saturn, please."), reply(PROFANE_REPLY, thumb=1)]),
    ]


def run_stages(lake_root: Path, stages: list[dict], command: str = "curate"):
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    record = runner.run(
        parse({"name": "test", "stages": stages}), Lake(lake_root), Console(quiet=True), command=command
    )
    assert record.status == "succeeded", record.error
    return record


def build_release(lake_root: Path, entries: list[dict]):
    from lakehouse.lake import Lake
    from lakehouse.releases import resolve

    for entry in entries:
        entry.setdefault("allow_unscrubbed", True)
    run_stages(lake_root, [{"stage": "release", "releases": entries}], command="releases")
    return {e["name"]: resolve(Lake(lake_root), e["name"]).manifest for e in entries}


@pytest.fixture(scope="module")
def tiny_guard(tmp_path_factory) -> Path:
    """A tiny random Llama sequence classifier (labels safe/unsafe) saved with its tokenizer, as a local
    Llama Guard-class model directory would be (the tokenizer is train/tiny.py's byte-level BPE)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from train.tiny import train_tokenizer

    out = tmp_path_factory.mktemp("tiny-guard") / "tiny-guard"
    tokenizer = train_tokenizer([m["content"] for r in all_records() for m in r["messages"]], 400)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=2,
        id2label={0: "safe", 1: "unsafe"},
        label2id={"safe": 0, "unsafe": 1},
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    LlamaForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def scored_lake(tmp_path_factory) -> Path:
    """Handmade traffic (tests/helpers/release_lakes.py) plus the two flagged conversations, ingested and scored."""
    root = tmp_path_factory.mktemp("safety") / "lake"
    ingest(root, all_records() + flagged_records())
    run_stages(root, [{"stage": "safety"}])
    return root


# --- config ---------------------------------------------------------------------------------------------


def test_defaults_score_user_and_assistant_with_the_offline_classifier():
    from curation.stages.safety import Config

    config = Config()
    assert [(c.type, c.name, c.threshold) for c in config.classifiers] == [("profanity", "profanity", 0.5)]
    assert config.roles == ["user", "assistant"]


def test_bad_classifier_path_is_a_config_error_naming_the_key(tmp_path):
    from curation.pipeline.recipe import RecipeError, parse

    stages = [
        {
            "stage": "safety",
            "classifiers": [{"type": "profanity"}, {"type": "hf", "path": str(tmp_path / "no-such-model")}],
        }
    ]
    with pytest.raises(
        RecipeError,
        match=r"stages\[0\] \(safety\): classifiers\.1\.hf\.path: .*no-such-model.* "
        r"is not a directory",
    ):
        parse({"name": "t", "stages": stages})
    (tmp_path / "empty").mkdir()
    stages[0]["classifiers"][1]["path"] = str(tmp_path / "empty")
    with pytest.raises(RecipeError, match=r"classifiers\.1\.hf\.path: .*has no config\.json"):
        parse({"name": "t", "stages": stages})


def test_unknown_keys_labels_and_duplicate_names_are_named(tiny_guard):
    from curation.pipeline.recipe import RecipeError, parse

    def fails(stage: dict, pattern: str) -> None:
        with pytest.raises(RecipeError, match=pattern):
            parse({"name": "t", "stages": [{"stage": "safety", **stage}]})

    fails(
        {"classifiers": [{"type": "profanity", "treshold": 0.9}]}, r"classifiers\.0\.profanity\.treshold: unknown key"
    )
    fails({"classifiers": [{"type": "llama"}]}, r"classifiers\.0: .*'profanity', 'hf'")
    fails(
        {"classifiers": [{"type": "hf", "path": str(tiny_guard), "unsafe_labels": ["toxic"]}]},
        r"classifiers\.0\.hf: .*unsafe_labels: toxic not among the model's labels \(safe, unsafe\)",
    )
    fails(
        {"classifiers": [{"type": "profanity"}, {"type": "profanity", "threshold": 0.9}]},
        r"classifiers: names must be unique \(profanity\)",
    )
    fails({"roles": ["narrator"]}, r"roles\.0: ")


def test_default_unsafe_labels():
    from curation.safety.config import resolve_unsafe_labels

    assert resolve_unsafe_labels(["safe", "unsafe"], None) == ["unsafe"]
    assert resolve_unsafe_labels(["non-toxic", "toxic", "severe_toxic"], None) == ["toxic", "severe_toxic"]
    assert resolve_unsafe_labels(["Safe", "Unsafe"], None) == ["Unsafe"]
    assert resolve_unsafe_labels(["LABEL_0", "LABEL_1"], None) == ["LABEL_1"]
    with pytest.raises(ValueError, match="unsafe_labels: set it"):
        resolve_unsafe_labels(["a", "b", "c"], None)


# --- the stage, the table and the views --------------------------------------------------------------------


def test_every_user_and_assistant_message_is_scored_and_flags_follow_the_threshold(scored_lake):
    messages = query(scored_lake, "SELECT count(*) FROM turns WHERE role IN ('user', 'assistant')")[0][0]
    rows = query(scored_lake, "SELECT count(*), count(DISTINCT turn_id) FROM safety")[0]
    assert rows == (messages, messages)
    wrong = query(
        scored_lake, "SELECT count(*) FROM safety WHERE flagged <> (safety_score(scores, 'profanity') >= 0.5)"
    )
    assert wrong == [(0,)]
    flagged = query(
        scored_lake,
        """SELECT s.turn_id, t.content, s.flagged_by FROM safety s JOIN turns t USING (turn_id)
                                    WHERE s.flagged ORDER BY 1""",
    )
    assert flagged == [("bad-0:0", PROFANE_USER, ["profanity"]), ("bad-1:1", PROFANE_REPLY, ["profanity"])]


def test_samples_carry_prompt_and_reply_flags(scored_lake):
    rows = query(
        scored_lake,
        """SELECT sample_id, safety_prompt_flagged, safety_reply_flagged, safety_flagged
                                 FROM samples WHERE conversation_id IN ('bad-0', 'bad-1', 'c-00') ORDER BY 1""",
    )
    assert rows == [
        ("bad-0:1", True, False, True),
        ("bad-0:3", True, False, True),
        ("bad-1:1", False, True, True),
        ("c-00:1", False, False, False),
        ("c-00:3", False, False, False),
    ]


def test_a_regenerated_reply_does_not_flag_the_prompts_after_it(tmp_path):
    """The prompt of a later sample leaves a regenerated reply out, so its flag does not carry over."""
    root = tmp_path / "lake"
    ingest(
        root,
        [
            chat(
                "g-0",
                [
                    user("Tell me a story."),
                    reply(PROFANE_REPLY, regenerated=True),
                    reply("Once upon a time...", continued=True),
                    user("More!"),
                    reply("The end."),
                ],
            )
        ],
    )
    run_stages(root, [{"stage": "safety"}])
    rows = query(root, "SELECT sample_id, safety_prompt_flagged, safety_reply_flagged FROM samples ORDER BY turn")
    assert rows == [("g-0:1", False, True), ("g-0:2", False, False), ("g-0:4", False, False)]


def test_rerun_is_incremental_by_file_and_a_new_config_rescores(scored_lake, tmp_path):
    from tests.helpers.release_lakes import copy_lake

    root = copy_lake(scored_lake, tmp_path / "lake")
    again = run_stages(root, [{"stage": "safety"}]).stages[0]
    assert again.details["up_to_date"] and again.rows_in == 0
    ingest(root, [chat("late-0", [user("One more question about Mars?"), reply("Mars is red.")])])
    added = run_stages(root, [{"stage": "safety"}]).stages[0]
    assert (added.details["files_scored"], added.details["files_reused"], added.rows_in) == (1, 1, 2)
    stricter = run_stages(root, [{"stage": "safety", "classifiers": [{"type": "profanity", "threshold": 0.999}]}])
    assert stricter.stages[0].details["files_scored"] == 2 and stricter.stages[0].details["stale_outputs_removed"] == 2
    total = query(root, "SELECT count(*) FROM turns WHERE role IN ('user', 'assistant')")[0][0]
    assert query(root, "SELECT count(*) FROM safety")[0][0] == total  # old rows replaced, not added to


def test_large_files_are_scored_in_batches_with_the_same_rows(scored_lake, tmp_path, monkeypatch):
    import curation.stages.safety as stage_module
    from tests.helpers.release_lakes import copy_lake

    stages = [{"stage": "safety", "classifiers": [{"type": "profanity", "threshold": 0.9}]}]
    whole = copy_lake(scored_lake, tmp_path / "whole")
    run_stages(whole, stages)
    monkeypatch.setattr(stage_module, "GROUP_CONVERSATIONS", 7)  # the one input file is now "large"
    batched = copy_lake(scored_lake, tmp_path / "batched")
    run_stages(batched, stages)
    sql = "SELECT turn_id, role, flagged, scores FROM safety ORDER BY turn_id"
    assert query(batched, sql) == query(whole, sql) and len(query(whole, sql)) > 100


def test_hf_classifier_loads_from_a_local_dir_and_scores_every_message(scored_lake, tiny_guard, tmp_path):
    """Stored scores equal a plain one-text-at-a-time forward pass (batching and padding change nothing),
    and the flags are exactly the scores at or above the threshold."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from curation.safety.classifiers import load
    from curation.safety.config import HfClassifier
    from tests.helpers.release_lakes import copy_lake

    texts = [t for (t,) in query(scored_lake, "SELECT DISTINCT content FROM turns WHERE role IN ('user', 'assistant')")]
    scores = load(HfClassifier(type="hf", path=tiny_guard), "classifiers.0").score(texts)
    threshold = float(np.median(scores))  # a random model: the median splits the messages into both outcomes
    root = copy_lake(scored_lake, tmp_path / "lake")
    classifiers = [
        {"type": "profanity"},
        {"type": "hf", "path": str(tiny_guard), "threshold": threshold, "device": "cpu", "batch_size": 4},
    ]
    stage = run_stages(root, [{"stage": "safety", "classifiers": classifiers}]).stages[0]
    assert stage.details["flagged_by"]["hf:tiny-guard"] > 0
    rows = query(
        root,
        """SELECT t.content, safety_score(s.scores, 'hf:tiny-guard'), list_contains(s.flagged_by, 'hf:tiny-guard')
                          FROM safety s JOIN turns t USING (turn_id)""",
    )
    assert len(rows) == query(root, "SELECT count(*) FROM turns WHERE role IN ('user', 'assistant')")[0][0]
    assert all(flag == (score >= threshold) for _, score, flag in rows)
    assert {flag for *_, flag in rows} == {True, False}
    tokenizer = AutoTokenizer.from_pretrained(tiny_guard)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_guard).eval()
    with torch.inference_mode():
        for text, score, _ in rows[:20]:
            probs = torch.softmax(model(**tokenizer(text, return_tensors="pt")).logits, dim=-1)[0]
            assert abs(probs[1].item() - score) < 1e-4


def test_hf_on_cuda_without_a_gpu_fails_the_stage_naming_the_key(scored_lake, tiny_guard, tmp_path):
    import torch
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake
    from tests.helpers.release_lakes import copy_lake

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    root = copy_lake(scored_lake, tmp_path / "lake")
    stages = [{"stage": "safety", "classifiers": [{"type": "hf", "path": str(tiny_guard), "device": "cuda"}]}]
    record = runner.run(parse({"name": "t", "stages": stages}), Lake(root), Console(quiet=True))
    assert record.status == "failed" and "classifiers.0.device: cuda was asked for" in record.error


# --- releases ---------------------------------------------------------------------------------------------


def test_releases_exclude_flagged_rows_by_default_and_count_them(scored_lake, tmp_path):
    from tests.helpers.release_lakes import copy_lake

    root = copy_lake(scored_lake, tmp_path / "lake")
    manifests = build_release(
        root,
        [
            {"name": "sft", "type": "sft"},
            {"name": "sft-all", "type": "sft", "exclude_unsafe": False},
            {"name": "sft-target", "type": "sft", "unsafe_scope": "target"},
            {"name": "prompts", "type": "prompt"},
        ],
    )
    assert manifests["sft"]["dropped"]["unsafe"] == 3  # bad-0:1 and bad-0:3 (prompt), bad-1:1 (reply)
    assert manifests["sft"]["safety"] == {
        "exclude_unsafe": True,
        "scope": "row",
        "checked": True,
        "unsafe": 3,
        "unscored_kept": 0,
        "own_text_kept": 0,
    }
    assert "unsafe" not in manifests["sft-all"]["dropped"]
    assert manifests["sft-target"]["dropped"]["unsafe"] == 1  # only the profane reply is a target
    assert manifests["prompts"]["dropped"]["unsafe"] == 2  # the prompts holding the profane opener
    for name in ("sft", "sft-all", "sft-target"):
        m = manifests[name]
        assert m["rows_in"] == sum(m["splits"].values()) + sum(m["dropped"].values())
    ids = {
        name: {r[0] for r in query(root, f"SELECT sample_id FROM release_rows WHERE release_name = '{name}'")}
        for name in manifests
    }
    assert not ids["sft"] & {"bad-0:1", "bad-0:3", "bad-1:1"}
    assert {"bad-0:1", "bad-0:3", "bad-1:1"} <= ids["sft-all"]
    assert ids["sft-target"] & {"bad-0:1", "bad-0:3", "bad-1:1"} == {"bad-0:1", "bad-0:3"}


def test_preference_and_unpaired_rows_check_every_reply_they_carry(tmp_path):
    root = tmp_path / "lake"
    ingest(
        root,
        all_records()
        + [
            chat(
                "rg-bad",
                [
                    user("Tell me a story about dragons and castles, bad version."),
                    reply(PROFANE_REPLY, regenerated=True),
                    reply("Once upon a time a small dragon learned to fly over the sea.", continued=True),
                ],
            ),
            chat("kto-bad", [user("Rate my poem about the stars please."), reply(PROFANE_REPLY, thumb=-1)]),
        ],
    )
    run_stages(root, [{"stage": "safety"}])
    manifests = build_release(
        root,
        [
            {
                "name": "pref",
                "type": "preference",
                "sources": [{"name": "regenerations", "kind": "regenerations"}],
                "pair_filters": {"max_length_ratio": None, "max_emoji_diff": None},
            },
            {
                "name": "pref-target",
                "type": "preference",
                "unsafe_scope": "target",
                "sources": [{"name": "regenerations", "kind": "regenerations"}],
                "pair_filters": {"max_length_ratio": None, "max_emoji_diff": None},
            },
            {"name": "kto", "type": "unpaired"},
            {"name": "kto-target", "type": "unpaired", "unsafe_scope": "target"},
        ],
    )
    assert manifests["pref"]["dropped"]["unsafe"] == 1  # the rejected side is profane: the row carries it
    assert "unsafe" not in manifests["pref-target"]["dropped"]  # ... but the chosen side is what is trained towards
    assert manifests["kto"]["dropped"]["unsafe"] == 1
    assert "unsafe" not in manifests["kto-target"]["dropped"]  # an undesirable completion is not a target


def test_without_safety_rows_a_release_builds_as_before_with_a_note(tmp_path):
    root = tmp_path / "lake"
    ingest(root, all_records() + flagged_records())
    manifest = build_release(root, [{"name": "sft", "type": "sft"}])["sft"]
    assert "unsafe" not in manifest["dropped"]
    assert manifest["safety"] == {"exclude_unsafe": True, "scope": "row", "checked": False}
    assert any(n.startswith("exclude_unsafe: the safety stage has not scored this lake") for n in manifest["notes"])


# --- the review queue ----------------------------------------------------------------------------------------


def test_flagged_or_reported_conversations_become_a_review_queue(scored_lake, tmp_path):
    from labeling_app import sources
    from labeling_app.queues import create_queue
    from tests.helpers.release_lakes import copy_lake

    root = copy_lake(scored_lake, tmp_path / "lake")
    found = sources.load_items(root, "questionnaire", "flagged")
    # the flagged conversations, then those with a reported reply (tests/helpers/release_lakes.feedback_conversations)
    expected = {
        r[0]: r[1]
        for r in query(
            root,
            """
        SELECT conversation_id, max(turn) FROM samples WHERE coalesce(safety_flagged, false) OR coalesce(reported, false)
        GROUP BY 1""",
        )
    }
    assert set(expected) == {"bad-0", "bad-1", "p-0", "p-1", "x-0"}
    assert {key: payload["meta"]["turn"] for key, payload in found.items} == {
        f"{c}:{t}": t for c, t in expected.items()
    }
    _, bad = next(item for item in found.items if item[0] == "bad-0:3")
    assert [m["content"] for m in bad["prompt"] if m["role"] == "user"] == [PROFANE_USER, "fine, tell me one"]
    created = create_queue(root, kind="questionnaire", source="flagged", per_item=2, name="safety-review")
    assert created.added == 5 and created.queue.kind == "questionnaire"
    with pytest.raises(sources.SourceError, match="pairwise items need the columns"):
        sources.load_items(root, "pairwise", "flagged")


# --- a small simulated pipeline -------------------------------------------------------------------------------


def test_stage_in_a_simulated_pipeline_scores_silver_and_releases_drop_it(tmp_path):
    """Simulated traffic plus the flagged conversations, through ingest -> scrub -> dedup -> safety -> release."""
    from tests.helpers.records import line, write_lines
    from tests.helpers.sim_lake import simulate

    simulated = simulate(tmp_path / "simulated", conversations=120, seed=3)
    extra = write_lines(tmp_path / "flagged.jsonl", [line(r) for r in flagged_records()])
    root = tmp_path / "lake"
    record = run_stages(
        root,
        [
            {"stage": "ingest", "paths": [str(simulated / "traffic"), str(extra)]},
            {"stage": "scrub", "mode": "placeholder"},
            {"stage": "dedup"},
            {"stage": "safety"},
            {
                "stage": "release",
                "releases": [{"name": "sft", "type": "sft", "filter": "NOT coalesce(reported, false)"}],
            },
        ],
    )
    stage = next(s for s in record.stages if s.name == "safety")
    assert stage.details["text_layer"] == "silver/conversations"
    messages = query(root, "SELECT count(*) FROM turns WHERE role IN ('user', 'assistant')")[0][0]
    assert stage.rows_in == messages and stage.details["flagged"] >= 2
    assert query(root, "SELECT count(*) FROM samples WHERE safety_flagged IS NULL") == [(0,)]
    expected = query(
        root,
        """SELECT count(*) FROM samples WHERE safety_flagged AND NOT coalesce(reported, false)
                              AND is_representative AND NOT regenerated""",
    )[0][0]
    from lakehouse.lake import Lake
    from lakehouse.releases import resolve

    manifest = resolve(Lake(root), "sft").manifest
    assert manifest["text_layer"] == "silver" and manifest["dropped"]["unsafe"] == expected >= 3
    assert "attributes/safety" in manifest["parents"]["tables"]
    leaked = query(
        root,
        """SELECT count(*) FROM release_rows r JOIN samples s USING (sample_id)
                            WHERE r.release_name = 'sft' AND s.safety_flagged""",
    )
    assert leaked == [(0,)]


# --- quality on real data ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_lake(tmp_path_factory, hh_path, persona_chat_path) -> Path:
    """hh-rlhf harmless-base (red-teaming: many offensive human turns) and Synthetic-Persona-Chat (benign),
    ingested and scored by the default recipe entry."""
    root = tmp_path_factory.mktemp("public") / "lake"
    run_stages(root, [{"stage": "ingest", "paths": [str(hh_path), str(persona_chat_path)]}, {"stage": "safety"}])
    return root


def flag_rates(root: Path) -> dict[tuple[str, str], tuple[int, float]]:
    """(format, role) -> (distinct texts, share flagged), each distinct message counted once."""
    rows = query(
        root,
        """
        WITH m AS (SELECT DISTINCT c.origin.format AS fmt, t.role, t.content, s.flagged
                   FROM safety s JOIN turns t USING (turn_id) JOIN conversations c ON c.conversation_id = s.conversation_id)
        SELECT fmt, role, count(*), avg(flagged::INTEGER) FROM m GROUP BY ALL""",
    )
    return {(fmt, role): (n, rate) for fmt, role, n, rate in rows}


def test_flag_rate_red_team_far_above_benign_chat(public_lake):
    rates = flag_rates(public_lake)
    red_team, (benign_users, benign_replies) = (
        rates[("hh", "user")],
        (rates[("persona-chat", "user")], rates[("persona-chat", "assistant")]),
    )
    assert red_team[0] > 3000 and benign_users[0] > 10000
    benign = max(benign_users[1], benign_replies[1])
    # measured: 11.8% of distinct red-team human turns vs 0.3% / 0.5% of benign messages; the margin leaves
    # room for another model version without letting a classifier that flags everything, or nothing, pass
    assert red_team[1] > 5 * benign and red_team[1] - benign > 0.05
    assert benign < 0.02


def test_fast_path_equals_the_packages_predict_prob_on_real_text(public_lake):
    from profanity_check import predict_prob

    from curation.safety.classifiers import load
    from curation.safety.config import ProfanityClassifier

    texts = [t for (t,) in query(public_lake, "SELECT DISTINCT content FROM turns ORDER BY md5(content) LIMIT 3000")]
    ours = load(ProfanityClassifier(type="profanity"), "classifiers.0").score(texts)
    assert np.allclose(ours, predict_prob(texts), atol=1e-6)
