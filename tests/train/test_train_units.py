"""Pieces of train/ on their own: the tiny tokenizer and its chat template, assistant-only loss detection,
release rows to TRL rows (and what is left out, by reason), prompts, lineage ancestry."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from lakehouse.lake import Lake
from lakehouse.releases import ReleaseWriter
from train import lineage, release_rows, synthetic, tiny, trainers
from train.config import TinySettings, load

TEXTS = ["Hello there, how are you?", "I like trains \U0001f682 and the moon.", "What about you?"] * 30


def test_tiny_tokenizer_is_deterministic_and_encodes_anything():
    first, second = tiny.train_tokenizer(TEXTS, 400), tiny.train_tokenizer(TEXTS, 400)
    assert first.backend_tokenizer.to_str() == second.backend_tokenizer.to_str()
    unseen = "Zebras \u00e9t\u00e9 \U0001f680!"
    assert first.decode(first(unseen)["input_ids"]) == unseen  # byte-level: no unknown token


def test_tiny_chat_template_masks_exactly_the_assistant_replies():
    from trl.chat_template_utils import is_chat_template_stop_token_trained

    tokenizer = tiny.train_tokenizer(TEXTS, 400)
    conversation = [
        {"role": "system", "content": "You are Luna."},
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "What about you?"},
        {"role": "user", "content": "Fine."},
        {"role": "assistant", "content": "I like trains."},
    ]
    out = tokenizer.apply_chat_template(
        conversation, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tokenizer.decode(masked) == "What about you?<|im_end|>I like trains.<|im_end|>"
    assert is_chat_template_stop_token_trained(tokenizer)
    prompt = tokenizer.apply_chat_template(conversation[:2], tokenize=False, add_generation_prompt=True)
    assert prompt.endswith("<|im_start|>assistant\n")


def test_tiny_model_has_a_few_hundred_thousand_parameters():
    model, tokenizer = tiny.build(TEXTS, TinySettings(), seed=1)
    assert 50_000 < sum(p.numel() for p in model.parameters()) < 1_000_000
    assert model.config.vocab_size == len(tokenizer) and model.generation_config.eos_token_id == tokenizer.eos_token_id


def test_assistant_only_loss_falls_back_when_the_template_cannot_mark_replies():
    tokenizer = tiny.train_tokenizer(TEXTS, 400)
    settings = load("sft")
    assert trainers.assistant_only_loss(tokenizer, settings) == (True, None)
    tokenizer.chat_template = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    use, note = trainers.assistant_only_loss(tokenizer, settings)
    assert use is False and "full sequence" in note
    assert trainers.assistant_only_loss(tokenizer, load("sft", None, {"assistant_only_loss": False})) == (False, None)
    tokenizer.chat_template = None
    with pytest.raises(trainers.TrainError, match="no chat template"):
        trainers.assistant_only_loss(tokenizer, settings)


def _message(role, content):
    return {"role": role, "content": content}


def _release(lake: Lake, name: str, kind: str, rows: list[dict], split: str = "train"):
    schema = synthetic.SCHEMAS[kind]
    writer = ReleaseWriter(lake, name, kind)
    writer.write_split(split, pa.Table.from_pylist(rows, schema=schema))
    writer.finalize(parents={}, recipe={}, split_method="test", dropped={})
    return writer.publish()


def test_preference_rows_that_cannot_be_used_are_counted_by_reason(tmp_path):
    lake = Lake(tmp_path)
    prompt = [_message("user", "hi")]
    good = {
        "prompt": prompt,
        "chosen": [_message("assistant", "a")],
        "rejected": [_message("assistant", "b")],
        "sample_id": "s1",
    }
    rows = [
        good,
        {**good, "sample_id": "s2", "chosen": [_message("assistant", "a"), _message("assistant", "c")]},
        {**good, "sample_id": "s3", "prompt": []},
        {**good, "sample_id": "s4", "rejected": [_message("user", "b")]},
    ]
    release = _release(lake, "pairs", "preference", rows)
    result = release_rows.training_rows(release, "train", "dpo")
    assert result.rows == [{"prompt": prompt, "chosen": good["chosen"], "rejected": good["rejected"]}]
    assert result.dropped == {"not_single_assistant_reply": 2, "empty_prompt": 1}
    unpaired = release_rows.training_rows(release, "train", "kto").rows
    assert [(r["completion"][0]["content"], r["label"]) for r in unpaired] == [("a", True), ("b", False)]
    assert release_rows.training_rows(release, "validation", "dpo").rows == []


def test_sft_rows_and_prompts_from_conversations(tmp_path):
    lake = Lake(tmp_path)
    talk = [_message("system", "You are Luna."), _message("user", "hi"), _message("assistant", "hello?")]
    release = _release(
        lake,
        "talk",
        "sft",
        [
            {"messages": talk, "sample_id": "c1:2", "source": "user"},
            {"messages": talk[:2], "sample_id": "c2:1", "source": "internal"},
            {"messages": talk, "sample_id": None},
        ],
    )
    result = release_rows.training_rows(release, "train", "sft")
    assert len(result.rows) == 2 and result.dropped == {"no_assistant_message": 1}
    prompts, skipped = release_rows.prompts(release)
    assert [(p.sample_id, p.messages, p.source) for p in prompts] == [
        ("c1:2", talk[:2], "user"),
        ("c2:1", talk[:2], "internal"),
    ]
    assert skipped == {"no_sample_id": 1}
    assert prompts[0].last_user_message == "hi"
    with pytest.raises(release_rows.DataError, match="has no 'test' split"):
        release_rows.prompts(release, "test")


def test_texts_cover_every_message_column(tmp_path):
    lake = Lake(tmp_path)
    release = synthetic.write_release(lake, "p", "preference", rows=8, seed=1)
    texts = list(release_rows.texts(release))
    rows = [r for s in release_rows.splits(release) for r in release.read(s).to_pylist()]
    assert len(texts) == sum(len(r["prompt"]) + 2 for r in rows)


def test_ancestry_inherits_the_base_models_chain(tmp_path):
    lake = Lake(tmp_path / "lake")
    release = synthetic.write_release(lake, "p", "preference", rows=8, seed=1)
    base = tmp_path / "base"
    base.mkdir()
    (base / "lineage.json").write_text(
        json.dumps(
            {
                "ancestry": [
                    {"run_id": "r1", "kind": "sft", "release": "s@2", "release_content_hash": "h1", "depth": 0},
                    {"run_id": "r0", "kind": "sft", "release": "s@1", "release_content_hash": "h0", "depth": 1},
                ]
            }
        )
    )
    chain = lineage.ancestry("r2", "dpo", release, str(base))
    assert [(a["run_id"], a["release"], a["depth"]) for a in chain] == [
        ("r2", "p@1", 0),
        ("r1", "s@2", 1),
        ("r0", "s@1", 2),
    ]
    assert lineage.ancestry("r3", "sft", release, None)[0]["release_content_hash"] == release.manifest["content_hash"]


def test_a_reward_term_is_a_reward_model_directory_with_an_optional_weight(tmp_path):
    from train.online import RewardSpec

    (tmp_path / "rm").mkdir()
    assert RewardSpec.parse(f"rm:{tmp_path / 'rm'}") == RewardSpec("rm", str(tmp_path / "rm"), 1.0)
    assert RewardSpec.parse(f"rm:{tmp_path / 'rm'}*0.25").weight == 0.25


@pytest.mark.parametrize("text", ["rm", "signals:/x", "rm:", "rm:/no/such/dir", "rm:{dir}*heavy"])
def test_a_malformed_reward_term_is_refused_with_the_accepted_form(tmp_path, text):
    from train.online import RewardSpec, RewardSpecError

    (tmp_path / "rm").mkdir()
    with pytest.raises(RewardSpecError, match="rm:PATH|not a number|no model directory"):
        RewardSpec.parse(text.format(dir=tmp_path / "rm"))


def test_the_reward_model_scores_the_prompt_followed_by_the_reply():
    from train.online import _conversation

    prompt = [{"role": "user", "content": "hi"}]
    assert _conversation(prompt, [{"role": "assistant", "content": "hello"}])[-1] == {
        "role": "assistant",
        "content": "hello",
    }
    assert _conversation("plain text prompt", "reply") == [
        {"role": "user", "content": "plain text prompt"},
        {"role": "assistant", "content": "reply"},
    ]


def test_online_trainers_take_every_prompt_of_a_release_without_train_split_and_say_so(tmp_path):
    lake = Lake(tmp_path)
    source = synthetic.write_release(lake, "prompts", "prompt", rows=12, seed=3)
    rows = [r for split in release_rows.splits(source) for r in source.read(split).to_pylist()]
    release = _release(lake, "rl", "prompt", rows, split="test")
    found, note = trainers._train_split(release, "grpo")
    assert len(found.rows) == len(rows) and all(r["prompt"][-1]["role"] == "user" for r in found.rows)
    assert note == "rl@1 has no train split: trained on all its prompts (test)"
    assert trainers._train_split(release, "sft")[0].rows == []  # offline trainers never fall back
