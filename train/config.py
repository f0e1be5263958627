"""Training and evaluation settings: YAML files validated by pydantic, then command-line overrides.

`configs/train/{sft,reward,dpo,kto,eval}.yaml` hold the defaults a team starts from. Every model forbids
unknown keys, and a validation error names the offending key (`lora.rank: extra inputs are not
permitted`), so a typo never silently falls back to a default. Overrides (`--lr`, `--max-steps`,
`--set lora.r=8`) are applied to the loaded mapping before validation, so they are checked the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from lakehouse.artifacts import check_feature_names

TRAINERS = ("sft", "reward", "dpo", "kto")


class ConfigError(ValueError):
    """A config file or override is invalid; the message names the file and the key."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSettings(Strict):
    """Low-rank adapters through peft. The adapter is saved under `adapter/` and merged into the saved
    model, so every later step (reward, DPO, generation) loads the output directory like any other."""

    enabled: bool = False
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: str | list[str] = "all-linear"


class TinySettings(Strict):
    """Shape of the `--model tiny` Llama (a few hundred thousand parameters) and its tokenizer."""

    vocab_size: int = Field(1024, ge=300)
    hidden_size: int = Field(64, ge=8)
    intermediate_size: int = Field(192, ge=8)
    layers: int = Field(2, ge=1)
    heads: int = Field(4, ge=1)
    max_position_embeddings: int = Field(1024, ge=64)


class TrainSettings(Strict):
    """What every trainer shares. Field names follow transformers' TrainingArguments where they exist."""

    trainer: str
    seed: int = 42
    learning_rate: float = Field(gt=0)
    max_steps: int = -1
    num_train_epochs: float = Field(1.0, gt=0)
    per_device_train_batch_size: int = Field(8, ge=1)
    per_device_eval_batch_size: int = Field(8, ge=1)
    gradient_accumulation_steps: int = Field(2, ge=1)
    max_length: int = Field(1024, ge=16)
    warmup_steps: float = Field(0.03, ge=0, description="Below 1: a share of the total steps.")
    lr_scheduler_type: str = "cosine"
    weight_decay: float = Field(0.0, ge=0)
    max_grad_norm: float = Field(1.0, gt=0)
    gradient_checkpointing: bool | None = Field(
        None, description="None: on when training on a GPU (memory matters there), off on CPU."
    )
    dtype: Literal["float32", "bfloat16"] = Field(
        "float32", description="Weights dtype when loading a model; bf16 mixed precision is used on GPU either way."
    )
    logging_steps: int = Field(10, ge=1)
    evaluate: bool = Field(True, description="Evaluate on the release's validation split when it has one.")
    lora: LoraSettings = LoraSettings()
    tiny: TinySettings = TinySettings()


class SFTSettings(TrainSettings):
    trainer: Literal["sft"] = "sft"
    learning_rate: float = Field(2e-5, gt=0)
    assistant_only_loss: bool = Field(
        True, description="Loss on assistant tokens only, when the chat template can mark them."
    )
    packing: bool = False
    chat_template_path: str | None = Field(
        None, description="A tokenizer directory or .jinja file whose chat template replaces the model's."
    )


class RewardSettings(TrainSettings):
    trainer: Literal["reward"] = "reward"
    learning_rate: float = Field(1e-5, gt=0)
    center_rewards_coefficient: float | None = Field(0.01, ge=0)


class DPOSettings(TrainSettings):
    trainer: Literal["dpo"] = "dpo"
    learning_rate: float = Field(5e-7, gt=0)
    per_device_train_batch_size: int = Field(4, ge=1)
    per_device_eval_batch_size: int = Field(4, ge=1)
    gradient_accumulation_steps: int = Field(4, ge=1)
    warmup_steps: float = Field(0.1, ge=0)
    beta: float = Field(0.1, gt=0)
    loss_type: list[str] = ["sigmoid"]


class KTOSettings(TrainSettings):
    trainer: Literal["kto"] = "kto"
    learning_rate: float = Field(5e-7, gt=0)
    warmup_steps: float = Field(0.1, ge=0)
    beta: float = Field(0.1, gt=0)
    desirable_weight: float = Field(1.0, gt=0)
    undesirable_weight: float = Field(1.0, gt=0)
    per_device_train_batch_size: int = Field(8, ge=2, description="KTO estimates its KL term within a batch.")


class EvalSettings(Strict):
    """`flywheel eval`: how replies are sampled and where the guardrails sit (CharacterFlywheel report:
    healthy win rate 0.50-0.65, aiming near 0.60; an overfit generation won 70.7% on user traffic but
    43.7% on internal, so a user-internal gap above 0.15 is flagged)."""

    max_new_tokens: int = Field(64, ge=1)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    seed: int = 42
    batch_size: int = Field(16, ge=1)
    split: str | None = None
    max_win_rate: float = Field(0.65, gt=0, le=1)
    max_source_gap: float = Field(0.15, gt=0, le=1)
    artifact_thresholds: dict[str, float] = Field(
        default_factory=dict, description="Per-feature overrides of lakehouse.artifacts thresholds."
    )

    @field_validator("artifact_thresholds")
    @classmethod
    def _known_features(cls, value: dict[str, float]) -> dict[str, float]:
        return check_feature_names(value)


SETTINGS: dict[str, type[Strict]] = {
    "sft": SFTSettings,
    "reward": RewardSettings,
    "dpo": DPOSettings,
    "kto": KTOSettings,
    "eval": EvalSettings,
}


def _describe(error: ValidationError, origin: str) -> str:
    lines = []
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        lines.append(f"{origin}: {key}: {item['msg']}")
    return "\n".join(lines)


def _set_dotted(mapping: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = mapping
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"override {dotted}: {part} is not a section")
        node = child
    node[leaf] = value


def parse_assignment(text: str) -> tuple[str, object]:
    """`key.sub=value` (value parsed as YAML, so `8`, `1e-4`, `true`, `[q_proj, v_proj]` work)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"override {text!r} must look like key=value (e.g. lora.r=8)")
    return key.strip(), yaml.safe_load(raw)


def load(kind: str, path: str | Path | None = None, overrides: dict | None = None):
    """The validated settings for `kind`: the file (or the defaults), then `overrides` (dotted keys)."""
    if kind not in SETTINGS:
        raise ConfigError(f"unknown settings kind {kind!r}; known: {', '.join(SETTINGS)}")
    origin = str(path) if path else f"<defaults for {kind}>"
    raw: dict = {}
    if path is not None:
        try:
            raw = yaml.safe_load(Path(path).read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path} is not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of settings")
    declared = raw.get("trainer")
    if kind in TRAINERS and declared is not None and declared != kind:
        raise ConfigError(f"{origin}: trainer: this file configures {declared!r}, not {kind!r}")
    for key, value in (overrides or {}).items():
        if value is not None:
            _set_dotted(raw, key, value)
    try:
        return SETTINGS[kind].model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, origin)) from None
