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
from tests.release_lakes import all_records, ingest

pytestmark = pytest.mark.slow

CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]


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
    built = {"prompt": make(lake, name="eval", type="prompt", frozen_eval=True, filter="depth = 1",
                            sources=[{"name": "persona", "kind": "samples", "filter": "character_id LIKE 'persona-%'",
                                      "cap": 40}])}
    built["sft"] = make(lake, name="persona-sft", type="sft", filter="character_id LIKE 'persona-%'",
                        sources=[{"name": "persona", "kind": "samples", "cap": 64}])
    hh = {"name": "hh", "kind": "preference_pairs"}
    filters = {"max_length_ratio": 6.0}
    with pytest.raises(BuildError) as refused:  # raw hh-rlhf holds e-mail addresses and phone numbers
        make(lake, name="hh-pref", type="preference", sources=[hh], pair_filters=filters)
    leaking = sorted(set(re.findall(r"hh-[0-9a-f]+-chosen:\d+", str(refused.value))))
    assert "refused: the leak scan" in str(refused.value) and leaking
    excluded = ", ".join(f"'{s}'" for s in leaking)
    built["preference"] = make(lake, name="hh-pref", type="preference",
                               sources=[{**hh, "filter": f"sample_id NOT IN ({excluded})", "cap": 48},
                                        {"name": "regenerations", "kind": "regenerations"}],
                               pair_filters=filters)
    built["unpaired"] = make(lake, name="thumbs", type="unpaired")
    return lake, built, leaking


@pytest.fixture(scope="module")
def tiny(releases):
    """A byte-level BPE tokenizer trained on every release's text, and a factory of tiny random Llamas."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    _, built, _ = releases
    texts = []
    for result in built.values():
        for row in result.release.read().to_pylist():
            for column in ("messages", "prompt", "chosen", "rejected", "completion"):
                texts.extend(m["content"] for m in row.get(column) or [])
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    backend.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=600, special_tokens=SPECIAL, show_progress=False,
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, bos_token=SPECIAL[0], eos_token=SPECIAL[2],
                                        pad_token=SPECIAL[3], chat_template=CHAT_TEMPLATE)

    def model(kind: str = "causal"):
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

        torch.manual_seed(0)
        config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                             num_key_value_heads=2, intermediate_size=64, max_position_embeddings=512,
                             pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
                             eos_token_id=tokenizer.eos_token_id, num_labels=1)
        return LlamaForSequenceClassification(config) if kind == "reward" else LlamaForCausalLM(config)

    return tokenizer, model


def args(config_class, tmp_path, **extra):
    return config_class(output_dir=str(tmp_path), max_steps=2, per_device_train_batch_size=2, learning_rate=1e-3,
                        use_cpu=True, report_to=[], save_strategy="no", logging_steps=1, max_length=256,
                        dataloader_num_workers=0, seed=0, **extra)


def loaded(release):
    import datasets

    data = datasets.load_dataset(str(release.path))
    assert sum(len(data[s]) for s in data) == sum(release.manifest["splits"].values())
    return data


def trained_steps(trainer) -> int:
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(loss == loss for loss in losses)  # two finite steps
    return trainer.state.global_step


def test_the_refused_hh_pairs_are_the_ones_with_personal_data(releases):
    from curation.releases.leakscan import entities
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
    from trl import SFTConfig, SFTTrainer

    _, built, _ = releases
    tokenizer, model = tiny
    data = loaded(built["sft"].release)
    assert data["train"][0]["messages"][0]["role"] == "system"
    trainer = SFTTrainer(model=model(), args=args(SFTConfig, tmp_path), train_dataset=data["train"],
                         processing_class=tokenizer)
    assert trained_steps(trainer) == 2


def test_preference_release_trains_a_reward_model_and_dpo(releases, tiny, tmp_path):
    from trl import DPOConfig, DPOTrainer, RewardConfig, RewardTrainer

    _, built, _ = releases
    tokenizer, model = tiny
    data = loaded(built["preference"].release)
    rows = built["preference"].release.read().to_pylist()
    assert {r["origin"] for r in rows} == {"hh", "regenerations"}
    hh = next(r for r in rows if r["origin"] == "hh")
    assert hh["rejected_sample_id"] == hh["sample_id"].replace("-chosen:", "-rejected:")
    assert hh["prompt"][-1]["role"] == "user" and all(m["role"] != "system" for m in hh["prompt"])
    assert hh["chosen"] != hh["rejected"] and len(hh["chosen"]) == len(hh["rejected"]) == 1
    reward = RewardTrainer(model=model("reward"), args=args(RewardConfig, tmp_path / "rm"), train_dataset=data["train"],
                           processing_class=tokenizer)
    assert trained_steps(reward) == 2
    dpo = DPOTrainer(model=model(), ref_model=model(), args=args(DPOConfig, tmp_path / "dpo"),
                     train_dataset=data["train"], processing_class=tokenizer)
    assert trained_steps(dpo) == 2


def test_unpaired_release_trains_with_kto(releases, tiny, tmp_path):
    from trl import KTOConfig, KTOTrainer

    _, built, _ = releases
    tokenizer, model = tiny
    data = loaded(built["unpaired"].release)
    assert set(data["train"]["label"]) == {True, False}
    kto = KTOTrainer(model=model(), ref_model=model(), args=args(KTOConfig, tmp_path / "kto"),
                     train_dataset=data["train"], processing_class=tokenizer)
    assert trained_steps(kto) == 2


def test_prompt_release_is_a_frozen_eval_set_the_others_were_checked_against(releases):
    _, built, _ = releases
    data = loaded(built["prompt"].release)
    assert list(data) == ["test"] and all(p[-1]["role"] == "user" for p in data["test"]["prompt"])
    for kind in ("sft", "preference", "unpaired"):
        leakage = built[kind].release.manifest["leakage"]
        assert [s["ref"] for s in leakage["eval_sets"]] == ["eval@1"]
    assert built["sft"].release.manifest["leakage"]["same_conversation"] > 0
