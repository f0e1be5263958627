"""Reward scores: a sequence classifier reads prompt + reply through the chat template and returns one number.

Tokenization matches TRL's RewardTrainer (the chat template over the whole conversation), so a reward
model scores exactly the kind of sequence it was trained on. Batches are sorted by length to waste
little on padding; an over-long conversation keeps its end (the reply being judged), not its start.
`flywheel train score` writes the scores of a generation run to `attributes/reward_scores`, once per
(generation, reward model): scoring again is a no-op.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse import tables
from lakehouse.lake import Lake
from lakehouse.runs import utc_now
from train import generate, models


def rewards(
    model, tokenizer, conversations: list[list[dict]], *, batch_size: int = 16, max_length: int = 1024, progress=None
) -> list[float]:
    """The reward of each conversation (its last message is the reply being judged)."""
    import torch

    encoded = [
        tokenizer.apply_chat_template(c, tokenize=True, return_dict=True)["input_ids"][-max_length:]
        for c in conversations
    ]
    order = sorted(range(len(encoded)), key=lambda i: len(encoded[i]))
    out = [0.0] * len(encoded)
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in batch)
            ids = torch.full((len(batch), width), pad, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):  # right padding: the classifier reads the last non-pad token
                ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, : len(encoded[i])] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for row, i in enumerate(batch):
                out[i] = float(logits[row, 0].float())
            if progress is not None:
                progress(len(batch))
    return out


def pair_rewards(
    model, tokenizer, pairs: list[dict], *, batch_size: int = 16, max_length: int = 1024
) -> tuple[list[float], list[float]]:
    """(chosen rewards, rejected rewards) of preference pairs."""
    chosen = rewards(
        model, tokenizer, [p["prompt"] + p["chosen"] for p in pairs], batch_size=batch_size, max_length=max_length
    )
    rejected = rewards(
        model, tokenizer, [p["prompt"] + p["rejected"] for p in pairs], batch_size=batch_size, max_length=max_length
    )
    return chosen, rejected


def pairwise_accuracy(model, tokenizer, pairs: list[dict], *, batch_size: int = 16, max_length: int = 1024) -> float:
    """Share of preference pairs where the chosen reply gets the higher reward (0.5 is chance)."""
    if not pairs:
        return float("nan")
    chosen, rejected = pair_rewards(model, tokenizer, pairs, batch_size=batch_size, max_length=max_length)
    return sum(c > r for c, r in zip(chosen, rejected, strict=True)) / len(pairs)


def load_reward_model(path: str):
    """(model, tokenizer, ref) ready for inference on the best device."""
    on = models.device()
    model = models.for_inference(models.load_reward_model(path, on=on), on)
    tokenizer = models.load_tokenizer(path)
    model.config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer, models.model_ref(path)


@dataclass
class ScoreResult:
    generation_id: str
    reward_model: models.ModelRef
    scored: int
    already_scored: bool
    table: pa.Table


def existing_scores(lake: Lake, generation_id: str, reward_model_path: str) -> pa.Table:
    if not lake.files(tables.REWARD_SCORES):
        return tables.REWARD_SCORES.schema.empty_table()
    return lake.read(
        tables.REWARD_SCORES,
        filter=(pc.field("generation_id") == generation_id) & (pc.field("reward_model") == reward_model_path),
    )


def score_generation(
    lake: Lake,
    generation_id: str,
    reward_model_path: str,
    *,
    batch_size: int = 16,
    max_length: int = 1024,
    progress: bool = False,
) -> ScoreResult:
    """Score every candidate of a generation run with the reward model and store the scores."""
    from tqdm import tqdm

    ref = models.model_ref(reward_model_path)
    existing = existing_scores(lake, generation_id, ref.path)
    if existing.num_rows:
        return ScoreResult(generation_id, ref, existing.num_rows, True, existing)
    candidates = generate.candidates(lake, generation_id)
    prompts = generate.prompts_of(lake, generation_id)
    model, tokenizer, ref = load_reward_model(reward_model_path)
    rows = candidates.to_pylist()
    conversations = [prompts[r["sample_id"]].messages + [{"role": "assistant", "content": r["text"]}] for r in rows]
    with (
        models.cpu_threads(model, models.device()),
        tqdm(total=len(conversations), desc="score", unit="reply", disable=not progress) as bar,
    ):
        scores = rewards(
            model, tokenizer, conversations, batch_size=batch_size, max_length=max_length, progress=bar.update
        )
    now = utc_now()
    table = pa.Table.from_pylist(
        [
            {
                "generation_id": generation_id,
                "reward_model": ref.path,
                "reward_model_run_id": ref.run_id,
                "sample_id": r["sample_id"],
                "candidate": r["candidate"],
                "reward": s,
                "scored_at": now,
            }
            for r, s in zip(rows, scores, strict=True)
        ],
        schema=tables.REWARD_SCORES.schema,
    )
    with lake.transaction() as tx:
        tx.write(tables.REWARD_SCORES, table)
    return ScoreResult(generation_id, ref, table.num_rows, False, table)


def composite_values(lake: Lake, generation_id: str, scores: pa.Table, settings) -> list[float]:
    """The composite reward (train/composite.py) of scored candidates, in the order of `scores`."""
    from train import composite, generate

    prompts = generate.prompts_of(lake, generation_id)
    texts = {(r["sample_id"], r["candidate"]): r["text"] for r in generate.candidates(lake, generation_id).to_pylist()}
    result = composite.of_scored(scores.to_pylist(), prompts, texts, settings, lake)
    return [float(v) for v in result.values]
