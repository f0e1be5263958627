"""`flywheel train sft|reward|dpo|kto`: one TRL trainer run from a verified release to a checkpoint.

The run builds into a hidden sibling directory and renames it into place at the end, so a run that dies
leaves no half-written checkpoint where a later step would load it. The finished directory holds the
model, the tokenizer, `lineage.json` and (with LoRA) the adapter under `adapter/`; the run is appended to
the lake's `meta/models` table.

Choices that are not TRL's defaults, and why:
- CUDA with bf16 when a GPU is present, `use_cpu=True` otherwise; gradient checkpointing only on GPU
  (memory is the constraint there; on CPU it only costs time).
- DPO and KTO get an explicit reference model: a second copy of the starting model, frozen.
- SFT uses assistant-only loss when the chat template can mark assistant turns (it has `{% generation %}`
  markers, or TRL knows how to add them); otherwise it falls back to the full sequence and says so in
  the lineage notes.
- No intermediate checkpoints or optimizer states are saved (`save_strategy="no"`): the output is the
  final model; resumable long runs are a GPU-side concern documented in docs/gpu.md.
"""

from __future__ import annotations

import copy
import os
import shutil
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from lakehouse.lake import Lake
from lakehouse.releases import Release
from lakehouse.runs import code_version, stable_hash, utc_now
from train import data, lineage, models, score, tiny
from train.config import TrainSettings


class TrainError(RuntimeError):
    """Training cannot start or finish; the message says why."""


@dataclass
class Prepared:
    """Everything a trainer needs, decided before the (slow) training starts."""

    model: object
    tokenizer: object
    ref_model: object | None
    base: models.ModelRef | str
    ref: models.ModelRef | None
    notes: list[str] = field(default_factory=list)


def _check_output(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise TrainError(f"{out} exists and is not a directory")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise TrainError(f"{out} already exists and is not empty; pass --overwrite to replace it")


def _prepare_models(kind: str, base: str, release: Release, settings: TrainSettings, on: models.Device) -> Prepared:
    """Policy (or reward model), tokenizer and, for DPO/KTO, the frozen reference copy."""
    from transformers import set_seed

    set_seed(settings.seed)
    if base == models.TINY:
        policy, tokenizer = tiny.build(data.texts(release), settings.tiny, settings.seed)
        if kind == "reward":
            from transformers import LlamaForSequenceClassification

            config = copy.deepcopy(policy.config)
            config.num_labels = 1
            set_seed(settings.seed)
            policy = LlamaForSequenceClassification(config)
        ref = copy.deepcopy(policy) if kind in ("dpo", "kto") else None
        return Prepared(policy, tokenizer, ref, models.TINY, None)
    tokenizer = models.load_tokenizer(base)
    base_ref = models.model_ref(base)
    if kind == "reward":
        return Prepared(models.load_reward_model(base, settings.dtype, on), tokenizer, None, base_ref, None)
    policy = models.load_causal_lm(base, settings.dtype, on)
    if kind in ("dpo", "kto"):
        return Prepared(policy, tokenizer, models.load_causal_lm(base, settings.dtype, on), base_ref, base_ref)
    return Prepared(policy, tokenizer, None, base_ref, None)


def assistant_only_loss(tokenizer, settings) -> tuple[bool, str | None]:
    """Whether SFT can mask non-assistant tokens with this tokenizer's chat template (and why not)."""
    if not settings.assistant_only_loss:
        return False, None
    if settings.chat_template_path:
        return True, None  # TRL installs that template and checks it
    from trl.chat_template_utils import get_training_chat_template

    if not tokenizer.chat_template:
        raise TrainError("the model's tokenizer has no chat template; set chat_template_path in the SFT config")
    try:
        get_training_chat_template(tokenizer)
    except ValueError:
        return False, (
            "assistant-only loss unavailable: the chat template has no {% generation %} markers and "
            "TRL cannot add them; trained on the full sequence"
        )
    return True, None


def _common_args(settings: TrainSettings, output_dir: Path, on: models.Device) -> dict:
    gradient_checkpointing = settings.gradient_checkpointing
    if gradient_checkpointing is None:
        gradient_checkpointing = on.type == "cuda"
    return {
        "output_dir": str(output_dir),
        "seed": settings.seed,
        "data_seed": settings.seed,
        "learning_rate": settings.learning_rate,
        "max_steps": settings.max_steps,
        "num_train_epochs": settings.num_train_epochs,
        "per_device_train_batch_size": settings.per_device_train_batch_size,
        "per_device_eval_batch_size": settings.per_device_eval_batch_size,
        "gradient_accumulation_steps": settings.gradient_accumulation_steps,
        "warmup_steps": settings.warmup_steps,
        "lr_scheduler_type": settings.lr_scheduler_type,
        "weight_decay": settings.weight_decay,
        "max_grad_norm": settings.max_grad_norm,
        "activation_checkpointing": gradient_checkpointing,
        "logging_steps": settings.logging_steps,
        "max_length": settings.max_length,
        "use_cpu": on.use_cpu,
        "bf16": on.bf16,
        "fp16": False,
        "save_strategy": "no",
        "eval_strategy": "no",
        "report_to": [],
        "dataloader_num_workers": 0,
    }


def _peft_config(settings: TrainSettings, kind: str):
    if not settings.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=settings.lora.r,
        lora_alpha=settings.lora.alpha,
        lora_dropout=settings.lora.dropout,
        target_modules=settings.lora.target_modules,
        task_type="SEQ_CLS" if kind == "reward" else "CAUSAL_LM",
    )


def _trainer(kind: str, prepared: Prepared, settings, args: dict, train_ds, eval_ds):
    import trl

    common = {
        "model": prepared.model,
        "train_dataset": train_ds,
        "eval_dataset": eval_ds,
        "processing_class": prepared.tokenizer,
        "peft_config": _peft_config(settings, kind),
    }
    if kind == "sft":
        use_mask, note = assistant_only_loss(prepared.tokenizer, settings)
        if note:
            prepared.notes.append(note)
        config = trl.SFTConfig(
            **args,
            assistant_only_loss=use_mask,
            packing=settings.packing,
            chat_template_path=settings.chat_template_path,
        )
        return trl.SFTTrainer(args=config, **common)
    if kind == "reward":
        config = trl.RewardConfig(**args, center_rewards_coefficient=settings.center_rewards_coefficient)
        return trl.RewardTrainer(args=config, **common)
    if kind == "dpo":
        config = trl.DPOConfig(**args, beta=settings.beta, loss_type=settings.loss_type)
        return trl.DPOTrainer(ref_model=prepared.ref_model, args=config, **common)
    config = trl.KTOConfig(
        **args,
        beta=settings.beta,
        desirable_weight=settings.desirable_weight,
        undesirable_weight=settings.undesirable_weight,
    )
    return trl.KTOTrainer(ref_model=prepared.ref_model, args=config, **common)


def _numbers(metrics: dict) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def _train_tokens(trainer) -> float | None:
    counts = [entry["num_tokens"] for entry in trainer.state.log_history if "num_tokens" in entry]
    return float(counts[-1]) if counts else None


def _save(trainer, prepared: Prepared, staging: Path, lora: bool) -> None:
    model = trainer.model
    if lora:
        model.save_pretrained(str(staging / "adapter"))
        model = model.merge_and_unload()
    model.save_pretrained(str(staging))
    prepared.tokenizer.save_pretrained(str(staging))


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished run into place; an existing directory (with --overwrite) goes only once it is."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def held_out_pairs(release: Release) -> list[dict]:
    """Preference pairs for measuring a reward model: the test split, else the validation split."""
    for split in ("test", "validation"):
        rows = data.training_rows(release, split, "reward").rows
        if rows:
            return rows
    return []


def _fit(
    kind: str,
    prepared: Prepared,
    settings: TrainSettings,
    release: Release,
    train_rows: data.Rows,
    eval_rows: data.Rows,
    staging: Path,
    on: models.Device,
) -> tuple[dict[str, float], int]:
    """Train, evaluate and save into `staging`; returns the metrics and the number of optimizer steps."""
    eval_ds = data.to_dataset(eval_rows.rows) if eval_rows.rows else None
    trainer = _trainer(
        kind, prepared, settings, _common_args(settings, staging, on), data.to_dataset(train_rows.rows), eval_ds
    )
    metrics = _numbers(trainer.train().metrics)
    tokens = _train_tokens(trainer)
    if tokens is not None and metrics.get("train_runtime"):
        metrics["train_tokens"] = tokens
        metrics["train_tokens_per_second"] = tokens / metrics["train_runtime"]
    if eval_ds is not None:
        metrics.update(_numbers(trainer.evaluate()))
    pairs = held_out_pairs(release) if kind == "reward" else []
    if pairs:
        trainer.model.eval()
        metrics["heldout_pairwise_accuracy"] = score.pairwise_accuracy(
            trainer.model, prepared.tokenizer, pairs, max_length=settings.max_length
        )
    _save(trainer, prepared, staging, settings.lora.enabled)
    return metrics, trainer.state.global_step


def train(
    kind: str,
    lake: Lake,
    release_ref: str,
    base_model: str,
    out: str | Path,
    settings: TrainSettings,
    *,
    run_id: str,
    overwrite: bool = False,
    log=print,
) -> lineage.Lineage:
    """Train one model; returns its lineage (also written to `<out>/lineage.json` and `meta/models`)."""
    models.offline()
    started_at, start = utc_now(), time.perf_counter()
    release = data.open_release(lake, release_ref, kind)
    out = Path(out).expanduser().resolve()
    _check_output(out, overwrite)
    on = models.device()
    train_rows = data.training_rows(release, "train", kind)
    if not train_rows.rows:
        raise TrainError(
            f"release {release.ref} has no usable train rows for {kind} (dropped: {dict(train_rows.dropped) or 'none'})"
        )
    eval_rows = data.training_rows(release, "validation", kind) if settings.evaluate else data.Rows([])
    dropped = Counter(train_rows.dropped) + Counter(eval_rows.dropped)
    if dropped:
        log(f"left out {sum(dropped.values())} unusable rows: {dict(sorted(dropped.items()))}")
    log(f"{kind}: {release.ref} ({len(train_rows.rows)} train rows) on {on.describe()}, base model {base_model}")
    prepared = _prepare_models(kind, base_model, release, settings, on)
    staging = out.with_name(f".{out.name}.partial-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        with models.cpu_threads(prepared.model, on):
            metrics, steps = _fit(kind, prepared, settings, release, train_rows, eval_rows, staging, on)
        dumped = settings.model_dump(mode="json")
        record = lineage.build(
            run_id=run_id,
            kind=kind,
            output_dir=out,
            release=release,
            base=prepared.base,
            ref_model=prepared.ref,
            settings=dumped,
            settings_hash=stable_hash(dumped),
            code_version=code_version(),
            metrics=metrics,
            notes=prepared.notes,
            device=on.describe(),
            train_rows=len(train_rows.rows),
            dropped=dict(sorted(dropped.items())),
            steps=steps,
            seconds=time.perf_counter() - start,
            weights_sha256=models.weights_sha256(staging),
            started_at=started_at,
            finished_at=utc_now(),
        )
        lineage.write(staging, record)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    lineage.record(lake, record)
    return record
