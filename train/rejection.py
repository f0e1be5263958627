"""Rejection sampling: the best of K candidates per prompt becomes an `sft` release, and the prompts whose
rewards say the policy is weakest or least consistent become a `prompt` release for RL.

The CharacterFlywheel report trains on best-of-K replies and runs online RL on prompts with a low mean or
a high variance of reward across candidates: low mean is where the policy is bad, high variance is where
it sometimes gets it right (the most learnable signal for GRPO). Both releases keep each prompt's split
and provenance, and their manifests name the policy, the reward model, K and the generation they came
from, so the lineage continues through them.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pyarrow as pa

from lakehouse import style_artifacts, tables
from lakehouse.lake import Lake
from lakehouse.releases import SPLITS, Release, ReleaseWriter
from lakehouse.runs import code_version
from train import generate, models, release_rows, score
from train.config import CompositeSettings

CRITERIA = ("high-variance", "low-mean")
MESSAGES = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


@dataclass(frozen=True)
class PromptStats:
    sample_id: str
    best: int | None  # None when every candidate was empty
    best_reward: float | None
    mean: float
    std: float
    k: int


def prompt_stats(
    rows: list[dict], empty: frozenset[tuple[str, int]] | set[tuple[str, int]] = frozenset()
) -> list[PromptStats]:
    """Per prompt: the best non-empty candidate (ties go to the lowest index) and the mean and spread of
    the rewards of all candidates (an empty reply is a legitimately bad one for RL statistics)."""
    by_prompt: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        by_prompt.setdefault(row["sample_id"], []).append((row["candidate"], row["reward"]))
    out = []
    for sample_id in sorted(by_prompt):
        scored = sorted(by_prompt[sample_id])
        usable = [c for c in scored if (sample_id, c[0]) not in empty]
        best, best_reward = max(usable, key=lambda c: (c[1], -c[0])) if usable else (None, None)
        rewards = [r for _, r in scored]
        std = statistics.pstdev(rewards) if len(rewards) > 1 else 0.0
        out.append(PromptStats(sample_id, best, best_reward, statistics.fmean(rewards), std, len(rewards)))
    return out


def select_for_rl(stats: list[PromptStats], criterion: str, fraction: float) -> list[PromptStats]:
    """The `fraction` of prompts (at least one) with the highest variance or the lowest mean reward."""
    if criterion not in CRITERIA:
        raise release_rows.DataError(f"criterion must be one of {', '.join(CRITERIA)}, not {criterion!r}")
    if not 0 < fraction <= 1:
        raise release_rows.DataError("fraction must be in (0, 1]")
    key = (lambda s: (-s.std, s.sample_id)) if criterion == "high-variance" else (lambda s: (s.mean, s.sample_id))
    count = max(1, round(len(stats) * fraction))
    return sorted(stats, key=key)[:count]


def _provenance(prompt: release_rows.Prompt, schema: pa.Schema) -> dict:
    return {name: prompt.provenance.get(name) for name in schema.names}


def _write(
    lake: Lake,
    name: str,
    kind: str,
    by_split: dict[str, list[dict]],
    schema: pa.Schema,
    *,
    parents: dict,
    recipe: dict,
    extra: dict,
    description: str,
    dropped: dict | None = None,
) -> Release:
    writer = ReleaseWriter(lake, name, kind)
    try:
        for split in SPLITS:
            if by_split.get(split):
                writer.write_split(split, pa.Table.from_pylist(by_split[split], schema=schema))
        writer.finalize(
            parents=parents,
            recipe=recipe,
            split_method="inherited from the prompt release",
            dropped={k: v for k, v in (dropped or {}).items() if v},
            description=description,
            code_version=code_version(),
            extra=extra,
        )
        return writer.publish()
    except BaseException:
        writer.discard()
        raise


def composite_rows(
    lake: Lake, rows: list[dict], prompts: dict, texts: dict, settings: CompositeSettings | None
) -> tuple[list[dict], dict | None]:
    """The scored rows with `reward` replaced by the composite reward, and what the composite used."""
    if settings is None or not settings.signal_models:
        return rows, None
    from train import composite

    result = composite.of_scored(rows, prompts, texts, settings, lake)
    return [{**r, "reward": float(v)} for r, v in zip(rows, result.values, strict=True)], result.signal_models


def accepted_vs_rejected_artifacts(chosen: Iterable[PromptStats], texts: dict, prompts: dict) -> dict:
    """Style features of the accepted (best) candidates against the rejected ones (the report's third
    monitor: a selection that systematically favours emoji, lists or length shows here first)."""
    by_prompt: dict[str, list[tuple[int, str]]] = {}
    for (sample_id, candidate), text in texts.items():
        if text.strip():
            by_prompt.setdefault(sample_id, []).append((candidate, text))
    accepted: list[tuple[str, str]] = []
    rejected: list[tuple[str, str]] = []
    for s in chosen:
        context = prompts[s.sample_id].last_user_message
        for candidate, text in by_prompt.get(s.sample_id, []):
            (accepted if candidate == s.best else rejected).append((context, text))
    shifts = style_artifacts.compare(rejected, accepted)
    return {
        "accepted": len(accepted),
        "rejected": len(rejected),
        "shifts": [asdict(shift) for shift in shifts],
        "flagged": [shift.feature for shift in shifts if shift.flagged],
    }


@dataclass
class RejectionResult:
    sft: Release
    prompts: Release
    stats: list[PromptStats]


def run(
    lake: Lake,
    generation_id: str,
    reward_model_path: str,
    *,
    sft_name: str,
    prompt_name: str,
    criterion: str = "high-variance",
    fraction: float = 0.25,
    composite: CompositeSettings | None = None,
) -> RejectionResult:
    """Build both releases from a scored generation run (scoring it first if needed). The best of K is
    chosen by the composite reward (reward model + weighted signal models) when `composite` names signal
    models, else by the reward model alone; RL prompts are always chosen by the reward model."""
    meta = generate.generation(lake, generation_id)
    generation_id = meta["generation_id"]
    scored = score.score_generation(lake, generation_id, reward_model_path)
    candidates = generate.candidates(lake, generation_id)
    texts = {(r["sample_id"], r["candidate"]): r["text"] for r in candidates.to_pylist()}
    empty = {key for key, text in texts.items() if not text.strip()}
    prompts = generate.prompts_of(lake, generation_id)
    reward_rows = scored.table.to_pylist()
    selection_rows, composite_used = composite_rows(lake, reward_rows, prompts, texts, composite)
    stats = prompt_stats(reward_rows, empty)  # RL prompts: the reward model's view of the policy
    best_by_prompt = {s.sample_id: s for s in prompt_stats(selection_rows, empty)}
    source_release = release_rows.open_release(lake, meta["prompts_release"], "prompts")
    provenance = release_rows.provenance_columns(source_release)
    policy = models.ModelRef(meta["model"], meta["model_run_id"], None)
    reward_model = scored.reward_model
    common_extra = {
        "policy": {"path": policy.path, "run_id": policy.run_id},
        "reward_model": {"path": reward_model.path, "run_id": reward_model.run_id},
        "k": int(meta["n"]),
        "generation_id": generation_id,
    }
    parents = {
        "prompts": {"release": source_release.ref, "content_hash": source_release.manifest["content_hash"]},
        tables.CANDIDATES.name: lake.snapshot_id(tables.CANDIDATES),
        tables.REWARD_SCORES.name: lake.snapshot_id(tables.REWARD_SCORES),
    }
    sampling = {k: meta[k] for k in ("n", "max_new_tokens", "temperature", "top_p", "seed")}

    best_rows: dict[str, list[dict]] = {}
    dropped = {"every_candidate_empty": sum(s.best is None for s in stats)}
    for s in (best_by_prompt[r.sample_id] for r in stats):
        if s.best is None:
            continue
        prompt = prompts[s.sample_id]
        reply = {"role": "assistant", "content": texts[(s.sample_id, s.best)]}
        best_rows.setdefault(prompt.split, []).append(
            {
                "messages": prompt.messages + [reply],
                "sample_id": s.sample_id,
                "reward": s.best_reward,
                **_provenance(prompt, provenance),
            }
        )
    if not best_rows:
        raise release_rows.DataError(
            f"every candidate of generation {generation_id} is empty: nothing to build a release from"
        )
    sft_schema = pa.schema(
        [
            pa.field("messages", MESSAGES),
            pa.field("sample_id", pa.string()),
            pa.field("reward", pa.float64()),
            *provenance,
        ]
    )
    sft = _write(
        lake,
        sft_name,
        "sft",
        best_rows,
        sft_schema,
        parents=parents,
        dropped=dropped,
        recipe={"method": "best-of-k", "sampling": sampling, "composite": composite_used},
        extra={
            **common_extra,
            "composite": composite_used,
            "style_artifacts": accepted_vs_rejected_artifacts(best_by_prompt.values(), texts, prompts),
        },
        description=f"Best of {meta['n']} candidates per prompt of {source_release.ref}, "
        f"by reward model {reward_model.label}, from policy {policy.path}.",
    )

    chosen = select_for_rl(stats, criterion, fraction)
    rl_rows: dict[str, list[dict]] = {}
    for s in sorted(chosen, key=lambda s: s.sample_id):
        prompt = prompts[s.sample_id]
        rl_rows.setdefault(prompt.split, []).append(
            {
                "prompt": prompt.messages,
                "sample_id": s.sample_id,
                "reward_mean": s.mean,
                "reward_std": s.std,
                **_provenance(prompt, provenance),
            }
        )
    rl_schema = pa.schema(
        [
            pa.field("prompt", MESSAGES),
            pa.field("sample_id", pa.string()),
            pa.field("reward_mean", pa.float64()),
            pa.field("reward_std", pa.float64()),
            *provenance,
        ]
    )
    rl = _write(
        lake,
        prompt_name,
        "prompt",
        rl_rows,
        rl_schema,
        parents=parents,
        recipe={"method": "rl-prompt-selection", "criterion": criterion, "fraction": fraction, "sampling": sampling},
        extra={**common_extra, "criterion": criterion, "fraction": fraction, "selected": len(chosen), "of": len(stats)},
        description=f"The {len(chosen)} of {len(stats)} prompts of {source_release.ref} with the "
        f"{'highest reward variance' if criterion == 'high-variance' else 'lowest mean reward'}"
        f" across {meta['n']} candidates: prompts for online RL.",
    )
    return RejectionResult(sft, rl, stats)
