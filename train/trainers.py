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
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.releases import Release
from lakehouse.runs import code_version, stable_hash, utc_now
from train import lineage, models, online, release_rows, reward_checks, tiny
from train.config import TrainSettings

if TYPE_CHECKING:
    from collections.abc import Callable

    from transformers import PreTrainedModel, PreTrainedTokenizerBase

WITH_REFERENCE = ("dpo", "kto", "online-dpo")  # trainers given an explicit frozen copy of the start model


class TrainError(UserError, RuntimeError):
    """Training cannot start or finish; the message says why."""


@dataclass
class Prepared:
    """Everything a trainer needs, decided before the (slow) training starts."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    ref_model: PreTrainedModel | None
    base: models.ModelRef | str
    ref: models.ModelRef | None
    notes: list[str] = field(default_factory=list)
    rewards: list[online.RewardSpec] = field(default_factory=list)  # online trainers only


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
        policy, tokenizer = tiny.build(release_rows.texts(release), settings.tiny, settings.seed)
        if kind == "reward":
            from transformers import LlamaForSequenceClassification

            config = copy.deepcopy(policy.config)
            config.num_labels = 1
            set_seed(settings.seed)
            policy = LlamaForSequenceClassification(config)
        ref = copy.deepcopy(policy) if kind in WITH_REFERENCE else None
        return Prepared(policy, tokenizer, ref, models.TINY, None)
    tokenizer = models.load_tokenizer(base)
    base_ref = models.model_ref(base)
    if kind == "reward":
        return Prepared(models.load_reward_model(base, settings.dtype, on), tokenizer, None, base_ref, None)
    policy = models.load_causal_lm(base, settings.dtype, on)
    if kind in WITH_REFERENCE:
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
        "disable_tqdm": True,  # our bar (lakehouse.progress) shows the steps instead: one bar, with words
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
        sft_config = trl.SFTConfig(
            **args,
            assistant_only_loss=use_mask,
            packing=settings.packing,
            chat_template_path=settings.chat_template_path,
        )
        return trl.SFTTrainer(args=sft_config, **common)
    if kind == "reward":
        reward_config = trl.RewardConfig(**args, center_rewards_coefficient=settings.center_rewards_coefficient)
        return trl.RewardTrainer(args=reward_config, **common)
    if kind in release_rows.ONLINE:
        return _online_trainer(kind, prepared, settings, args, train_ds)
    if kind == "dpo":
        dpo_config = trl.DPOConfig(**args, beta=settings.beta, loss_type=settings.loss_type)
        return trl.DPOTrainer(ref_model=prepared.ref_model, args=dpo_config, **common)
    kto_config = trl.KTOConfig(
        **args,
        beta=settings.beta,
        desirable_weight=settings.desirable_weight,
        undesirable_weight=settings.undesirable_weight,
    )
    return trl.KTOTrainer(ref_model=prepared.ref_model, args=kto_config, **common)


def _config_args(config_class, args: dict) -> dict:
    """The shared arguments this TRL config declares (GRPO has no `max_length`, for one)."""
    import dataclasses

    declared = {f.name for f in dataclasses.fields(config_class)}
    return {k: v for k, v in args.items() if k in declared}


def _online_trainer(kind: str, prepared: Prepared, settings, args: dict, train_ds):
    """GRPO or online DPO, rewarded by the reward models of `prepared.rewards` (weighted sum)."""
    import trl

    if not prepared.rewards:
        raise TrainError(f"{kind} needs at least one reward: --reward rm:PATH")
    scorers, weights = online.reward_functions(prepared.rewards, settings.max_length)
    # TRL's `reward_funcs` annotation (a list of str | model | Callable[..., list[float | None]]) is narrower
    # than what it accepts: list is invariant, so our list of scorers returning `list[float]` does not match.
    funcs = cast("list[str | PreTrainedModel | Callable[..., list[float | None]]]", scorers)
    shared = {"temperature": settings.temperature, "reward_weights": weights, "use_vllm": False}
    if kind == "grpo":
        config = trl.GRPOConfig(
            **_config_args(trl.GRPOConfig, args),
            **shared | {"use_vllm": settings.use_vllm},
            num_generations=settings.num_generations,
            generation_batch_size=max(settings.num_generations, settings.per_device_train_batch_size),
            max_completion_length=settings.max_completion_length,
            beta=settings.beta,
            vllm_mode=settings.vllm_mode,
        )
        return trl.GRPOTrainer(
            model=prepared.model,
            reward_funcs=funcs,
            args=config,
            train_dataset=train_ds,
            processing_class=prepared.tokenizer,
            peft_config=_peft_config(settings, kind),
        )
    from trl.experimental.online_dpo import OnlineDPOConfig, OnlineDPOTrainer

    online_dpo_config = OnlineDPOConfig(
        **_config_args(OnlineDPOConfig, args), **shared, beta=settings.beta, max_new_tokens=settings.max_new_tokens
    )
    return OnlineDPOTrainer(
        model=prepared.model,
        ref_model=prepared.ref_model,
        reward_funcs=funcs,
        args=online_dpo_config,
        train_dataset=train_ds,
        processing_class=prepared.tokenizer,
        peft_config=_peft_config(settings, kind),
    )


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


def sweep_partials(out: Path) -> list[Path]:
    """Delete the staging directories (`.<out>.partial-<pid>-<id>`) of runs into `out` whose process is
    gone: a run killed beyond any cleanup (SIGKILL, power loss) leaves its half-written model until the
    next run into the same place, never longer. A live run's directory is left alone."""
    removed = []
    for path in out.parent.glob(f".{out.name}.partial-*"):
        pid = path.name.rsplit(".partial-", 1)[1].split("-", 1)[0]
        if not pid.isdigit() or not _alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _terminate_as_interrupt():
    """SIGTERM (a closed terminal, `kill`, a job scheduler) unwinds like Ctrl-C, so the `finally` that
    removes the staging directory runs for it too."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _publish(staging: Path, out: Path) -> None:
    """Swap the finished run into place; an existing directory (with --overwrite) goes only once it is."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{uuid.uuid4().hex[:8]}")
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _train_split(release: Release, kind: str) -> tuple[release_rows.Rows, str | None]:
    """The train split's rows; an online trainer on a prompt release without one (an RL prompt selection
    made from evaluation prompts) takes all its prompts and says so in the lineage notes."""
    rows = release_rows.training_rows(release, "train", kind)
    if rows.rows or kind not in release_rows.ONLINE or release.data_files("train"):
        return rows, None
    found, dropped = release_rows.prompts(release)
    note = f"{release.ref} has no train split: trained on all its prompts ({', '.join(release_rows.splits(release))})"
    return release_rows.Rows([{"prompt": p.messages} for p in found], dropped), note


def _reward_ref(spec: online.RewardSpec) -> lineage.RewardModelRecord:
    """Lineage of a reward term: the reward model's path, its own run and its weight in the sum."""
    ref = models.model_ref(spec.path)
    return {"path": ref.path, "run_id": ref.run_id, "kind": ref.kind, "weight": spec.weight}


def held_out_pairs(release: Release) -> list[dict]:
    """Preference pairs for measuring a reward model: the test split, else the validation split."""
    for split in ("test", "validation"):
        rows = release_rows.training_rows(release, split, "reward").rows
        if rows:
            return rows
    return []


@contextmanager
def _step_bar(kind: str, trainer):
    """A lakehouse.progress bar over the optimizer steps, opened when training starts (the total is known
    then) and fed by a TrainerCallback; transformers' and datasets' own bars stay off meanwhile. On
    stderr, so stdout stays the command's result."""
    from contextlib import ExitStack

    from transformers import TrainerCallback

    from lakehouse.progress import bar, quiet_library_bars

    with ExitStack() as stack:
        stack.enter_context(quiet_library_bars())
        handles = []

        class Steps(TrainerCallback):
            def on_train_begin(self, args, state, control, **kwargs):
                handles.append(stack.enter_context(bar(f"train {kind}", state.max_steps or None, unit="steps")))

            def on_step_end(self, args, state, control, **kwargs):
                if handles:
                    handles[0].advance(1)

            def on_log(self, args, state, control, logs=None, **kwargs):
                if handles and logs and "loss" in logs:
                    handles[0].note(f"loss {logs['loss']:.4g}")

        yield Steps()


def _fit(
    kind: str,
    prepared: Prepared,
    settings: TrainSettings,
    release: Release,
    train_rows: release_rows.Rows,
    eval_rows: release_rows.Rows,
    staging: Path,
    on: models.Device,
) -> tuple[dict[str, float], int]:
    """Train, evaluate and save into `staging`; returns the metrics and the number of optimizer steps."""
    eval_ds = release_rows.to_dataset(eval_rows.rows) if eval_rows.rows else None
    untrained = copy.deepcopy(prepared.model) if kind == "reward" else None  # the honest checks' baseline
    trainer = _trainer(
        kind, prepared, settings, _common_args(settings, staging, on), release_rows.to_dataset(train_rows.rows), eval_ds
    )
    with _step_bar(kind, trainer) as callback:
        trainer.add_callback(callback)
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
        base = prepared.base.path if isinstance(prepared.base, models.ModelRef) else prepared.base
        metrics.update(
            reward_checks.run(
                trainer.model,
                untrained,
                prepared.tokenizer,
                base,
                release,
                train_rows.rows,
                pairs,
                settings,
                on,
                staging,
            )
        )
    from lakehouse.progress import quiet_library_bars

    with quiet_library_bars():
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
    rewards: list[online.RewardSpec] | None = None,
    log=print,
) -> lineage.Lineage:
    """Train one model; returns its lineage (also written to `<out>/lineage.json` and `meta/models`).
    The online trainers (GRPO, online DPO) take their `rewards`; the others ignore them."""
    models.offline()
    started_at, start = utc_now(), time.perf_counter()
    release = release_rows.open_release(lake, release_ref, kind)
    out = Path(out).expanduser().resolve()
    _check_output(out, overwrite)
    on = models.device()
    train_rows, split_note = _train_split(release, kind)
    if not train_rows.rows:
        raise TrainError(
            f"release {release.ref} has no usable train rows for {kind} (dropped: {dict(train_rows.dropped) or 'none'})"
        )
    eval_rows = release_rows.training_rows(release, "validation", kind) if settings.evaluate else release_rows.Rows([])
    dropped = Counter(train_rows.dropped) + Counter(eval_rows.dropped)
    if dropped:
        log(f"left out {sum(dropped.values())} unusable rows: {dict(sorted(dropped.items()))}")
    log(f"{kind}: {release.ref} ({len(train_rows.rows)} train rows) on {on.describe()}, base model {base_model}")
    prepared = _prepare_models(kind, base_model, release, settings, on)
    prepared.rewards = list(rewards or []) if kind in release_rows.ONLINE else []
    prepared.notes.extend([split_note] if split_note else [])
    sweep_partials(out)
    staging = out.with_name(f".{out.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    staging.mkdir(parents=True)
    try:
        with models.cpu_threads(prepared.model, on), _terminate_as_interrupt():
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
        if prepared.rewards:
            record["reward_models"] = [_reward_ref(spec) for spec in prepared.rewards]
        lineage.write(staging, record)
        _publish(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    lineage.record(lake, record)
    return record
