"""Two training steps of the TRL trainer that matches each release type, on a tiny random Llama on CPU: the
proof that a release's files are what TRL takes (tests/curation/test_releases_trl.py on handmade and public data,
tests/curation/test_releases_sim.py on simulated traffic)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lakehouse.releases import Release
from train import release_rows
from train.tiny import train_tokenizer

VOCAB_SIZE = 600


@dataclass
class Tiny:
    """A byte-level BPE tokenizer trained on the releases' text and a factory of tiny random Llamas."""

    tokenizer: object
    model: Callable[..., object]


def tiny(releases: Iterable[Release]) -> Tiny:
    tokenizer = train_tokenizer((text for release in releases for text in release_rows.texts(release)), VOCAB_SIZE)

    def model(kind: str = "causal"):
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM, LlamaForSequenceClassification

        torch.manual_seed(0)
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=2,
            intermediate_size=64,
            max_position_embeddings=512,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            num_labels=1,
        )
        return LlamaForSequenceClassification(config) if kind == "reward" else LlamaForCausalLM(config)

    return Tiny(tokenizer, model)


def args(config_class, out: Path, **extra):
    return config_class(
        output_dir=str(out),
        max_steps=2,
        per_device_train_batch_size=2,
        learning_rate=1e-3,
        use_cpu=True,
        report_to=[],
        save_strategy="no",
        logging_steps=1,
        max_length=256,
        dataloader_num_workers=0,
        seed=0,
        **extra,
    )


def loaded(release: Release):
    """The release as `datasets.load_dataset(<dir>)` reads it, checked against the manifest's counts."""
    import datasets

    dataset = datasets.load_dataset(str(release.path))
    assert sum(len(dataset[s]) for s in dataset) == sum(release.manifest["splits"].values())
    return dataset


def trained_steps(trainer) -> int:
    trainer.train()
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    assert len(losses) == 2 and all(math.isfinite(loss) for loss in losses)  # two finite steps
    return trainer.state.global_step


def sft(train_dataset, kit: Tiny, out: Path) -> int:
    from trl import SFTConfig, SFTTrainer

    return trained_steps(
        SFTTrainer(
            model=kit.model(), args=args(SFTConfig, out), train_dataset=train_dataset, processing_class=kit.tokenizer
        )
    )


def reward(train_dataset, kit: Tiny, out: Path) -> int:
    from trl import RewardConfig, RewardTrainer

    return trained_steps(
        RewardTrainer(
            model=kit.model("reward"),
            args=args(RewardConfig, out),
            train_dataset=train_dataset,
            processing_class=kit.tokenizer,
        )
    )


def dpo(train_dataset, kit: Tiny, out: Path) -> int:
    from trl import DPOConfig, DPOTrainer

    return trained_steps(
        DPOTrainer(
            model=kit.model(),
            ref_model=kit.model(),
            args=args(DPOConfig, out),
            train_dataset=train_dataset,
            processing_class=kit.tokenizer,
        )
    )


def kto(train_dataset, kit: Tiny, out: Path) -> int:
    from trl import KTOConfig, KTOTrainer

    return trained_steps(
        KTOTrainer(
            model=kit.model(),
            ref_model=kit.model(),
            args=args(KTOConfig, out),
            train_dataset=train_dataset,
            processing_class=kit.tokenizer,
        )
    )
