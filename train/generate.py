"""`flywheel train generate`: K candidate replies per prompt of a release, into `attributes/candidates`.

Prompts are sorted by length and generated in batches (left padding, `num_return_sequences=K`), which is
what makes CPU generation usable at all: the benchmark measures it against one prompt at a time. Each
batch is seeded from (seed, batch index), so the same model, prompts and settings give the same
candidates. A candidate's `seconds` is its share of its batch's wall time.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from lakehouse import tables
from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.runs import utc_now
from lakehouse.serving import PoolModel
from train import models, release_rows
from train.config import EvalSettings


class GenerationError(UserError, ValueError):
    """A generation run cannot start; the message says why."""


@dataclass(frozen=True)
class SamplingSettings:
    n: int = 4
    max_new_tokens: int = 64
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 42
    batch_size: int = 16

    def __post_init__(self):
        if self.n < 1 or self.max_new_tokens < 1 or self.batch_size < 1:
            raise GenerationError("n, max_new_tokens and batch_size must be at least 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise GenerationError("temperature must be >= 0 and top_p in (0, 1]")
        if self.n > 1 and self.temperature == 0:
            raise GenerationError("greedy decoding (temperature 0) gives K identical candidates; use temperature > 0")

    @classmethod
    def one_reply(cls, settings: EvalSettings) -> SamplingSettings:
        """One reply per prompt with an evaluation's sampling settings: what `eval model` and `eval
        side-by-side` generate, so both see the same replies for the same settings."""
        return cls(
            n=1,
            max_new_tokens=settings.max_new_tokens,
            temperature=settings.temperature,
            top_p=settings.top_p,
            seed=settings.seed,
            batch_size=settings.batch_size,
        )


@dataclass(frozen=True)
class Reply:
    text: str
    new_tokens: int
    finished: bool
    seconds: float


def load_policy(path: str):
    """(model, tokenizer, device) ready for batched generation (left padding)."""
    on = models.device()
    model = models.for_inference(models.load_causal_lm(path, on=on), on)
    tokenizer = models.load_tokenizer(path)
    tokenizer.padding_side = "left"
    return model, tokenizer, on


def _stop_ids(model, tokenizer) -> list[int]:
    configured = model.generation_config.eos_token_id
    ids = configured if isinstance(configured, list) else [configured] if configured is not None else []
    return sorted({*ids, tokenizer.eos_token_id} - {None})


def generate_replies(
    model, tokenizer, conversations: list[list[dict]], settings: SamplingSettings, progress=None
) -> list[list[Reply]]:
    """`settings.n` replies to each conversation, in input order."""
    import torch

    encoded = [
        tokenizer.apply_chat_template(c, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"]
        for c in conversations
    ]
    room = getattr(model.config, "max_position_embeddings", None)
    if room:  # keep the end of an over-long prompt (the turn being answered), leave room for the reply
        encoded = [ids[-max(1, room - settings.max_new_tokens) :] for ids in encoded]
    order = sorted(range(len(encoded)), key=lambda i: (len(encoded[i]), i))
    stops, pad = _stop_ids(model, tokenizer), tokenizer.pad_token_id
    device = next(model.parameters()).device
    out: list[list[Reply]] = [[] for _ in encoded]
    sampling = (
        {"do_sample": True, "temperature": settings.temperature, "top_p": settings.top_p}
        if settings.temperature > 0
        else {"do_sample": False}
    )
    for index, start in enumerate(range(0, len(order), settings.batch_size)):
        batch = order[start : start + settings.batch_size]
        width = max(len(encoded[i]) for i in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            ids[row, width - len(encoded[i]) :] = torch.tensor(encoded[i])
            mask[row, width - len(encoded[i]) :] = 1
        torch.manual_seed(settings.seed * 100_003 + index)
        began = time.perf_counter()
        with torch.inference_mode():
            generated = model.generate(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                max_new_tokens=settings.max_new_tokens,
                num_return_sequences=settings.n,
                eos_token_id=stops,
                pad_token_id=pad,
                **sampling,
            )
        seconds = (time.perf_counter() - began) / (len(batch) * settings.n)
        for k, sequence in enumerate(generated[:, width:].tolist()):
            end = next((j for j, t in enumerate(sequence) if t in stops), None)
            kept = sequence[:end] if end is not None else [t for t in sequence if t != pad]
            text = tokenizer.decode(kept, skip_special_tokens=True).strip()
            out[batch[k // settings.n]].append(Reply(text, len(kept) + (end is not None), end is not None, seconds))
        if progress is not None:
            progress(len(batch))
    return out


@dataclass
class GenerationResult:
    generation_id: str
    prompts: int
    candidates: int
    new_tokens: int
    seconds: float
    dropped: dict

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds else 0.0


def new_generation_id() -> str:
    return f"gen-{utc_now().strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def pool_replies(
    served: PoolModel, conversations: list[list[dict]], settings: SamplingSettings, progress=None
) -> tuple[list[list[Reply]], Counter]:
    """`settings.n` replies to each conversation from a served model, eight requests in flight; a request
    that fails drops that candidate (counted by reason), never the run. Seeded per (prompt, candidate)."""
    from concurrent.futures import ThreadPoolExecutor

    from lakehouse.serving import ServingError, chat

    served = served.model_copy(
        update={"temperature": settings.temperature, "top_p": settings.top_p, "max_tokens": settings.max_new_tokens}
    )
    jobs = [(i, k) for i in range(len(conversations)) for k in range(settings.n)]
    out: list[list[Reply]] = [[] for _ in conversations]
    dropped: Counter = Counter()

    def ask(job: tuple[int, int]):
        i, k = job
        try:
            return chat(served, conversations[i], seed=settings.seed * 100_003 + i * settings.n + k)
        except ServingError:
            return None

    with ThreadPoolExecutor(max_workers=8) as threads:
        for (i, _), answer in zip(jobs, threads.map(ask, jobs), strict=True):
            if answer is None:
                dropped["endpoint_error"] += 1
                continue
            tokens = answer.completion_tokens or 0
            out[i].append(Reply(answer.text.strip(), tokens, answer.finish_reason == "stop", answer.seconds))
            if progress is not None and len(out[i]) == settings.n:
                progress(1)
    return out, dropped


def run(
    lake: Lake,
    model_path: str,
    prompts_ref: str,
    settings: SamplingSettings,
    *,
    split: str | None = None,
    limit: int | None = None,
    progress: bool = False,
    served: PoolModel | None = None,
) -> GenerationResult:
    """Generate, then write the candidates and one `meta/generations` row in one transaction.
    `progress` shows a bar on stderr (prompts done, rate, time left). With `served` (a model pool entry),
    the candidates come from that endpoint and `model_path` is ignored."""
    from tqdm import tqdm

    release = release_rows.open_release(lake, prompts_ref, "prompts")
    prompt_rows, dropped = release_rows.prompts(release, split, limit)
    if not prompt_rows:
        raise GenerationError(f"release {release.ref} has no usable prompts (skipped: {dict(dropped) or 'none'})")
    conversations = [p.messages for p in prompt_rows]
    bar = tqdm(total=len(prompt_rows), desc="generate", unit="prompt", disable=not progress)
    if served is not None:
        ref, device = models.ModelRef(f"pool:{served.name}@{served.endpoint}", None, "served"), "served"
        with bar:
            began = time.perf_counter()
            replies, failed = pool_replies(served, conversations, settings, bar.update)
            seconds = time.perf_counter() - began
        dropped.update(failed)
    else:
        ref = models.model_ref(model_path)
        model, tokenizer, on = load_policy(model_path)
        device = on.describe()
        with models.cpu_threads(model, on), bar:
            began = time.perf_counter()
            replies = generate_replies(model, tokenizer, conversations, settings, bar.update)
            seconds = time.perf_counter() - began
    generation_id, now = new_generation_id(), utc_now()
    rows = [
        {
            "generation_id": generation_id,
            "model": ref.path,
            "model_run_id": ref.run_id,
            "prompts_release": release.ref,
            "split": p.split,
            "sample_id": p.sample_id,
            "source": p.source,
            "candidate": k,
            "text": r.text,
            "new_tokens": r.new_tokens,
            "finished": r.finished,
            "seconds": r.seconds,
            "created_at": now,
        }
        for p, group in zip(prompt_rows, replies, strict=True)
        for k, r in enumerate(group)
    ]
    new_tokens = sum(r.new_tokens for group in replies for r in group)
    meta = {
        "generation_id": generation_id,
        "model": ref.path,
        "model_run_id": ref.run_id,
        "prompts_release": release.ref,
        "prompts_content_hash": release.manifest["content_hash"],
        "split": split,
        "n": settings.n,
        "max_new_tokens": settings.max_new_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "seed": settings.seed,
        "batch_size": settings.batch_size,
        "prompts": len(prompt_rows),
        "candidates": len(rows),
        "new_tokens": new_tokens,
        "seconds": seconds,
        "tokens_per_second": new_tokens / seconds if seconds else 0.0,
        "device": device,
        "created_at": now,
    }
    with lake.transaction() as tx:
        tx.write(tables.CANDIDATES, pa.Table.from_pylist(rows, schema=tables.CANDIDATES.schema))
        tx.write(tables.GENERATIONS, pa.Table.from_pylist([meta], schema=tables.GENERATIONS.schema))
    return GenerationResult(generation_id, len(prompt_rows), len(rows), new_tokens, seconds, dict(dropped))


def generation(lake: Lake, generation_id: str) -> dict:
    """The `meta/generations` row of a run; `latest` names the most recent one."""
    if not lake.files(tables.GENERATIONS):
        raise GenerationError("the lake has no generation runs yet (run `flywheel train generate` first)")
    table = lake.read(tables.GENERATIONS)
    if generation_id == "latest":
        rows = table.sort_by([("created_at", "descending"), ("generation_id", "descending")]).slice(0, 1).to_pylist()
    else:
        rows = table.filter(pc.field("generation_id") == generation_id).to_pylist()
    if not rows:
        raise GenerationError(f"no generation run {generation_id!r} in {lake.root}")
    return rows[0]


def candidates(lake: Lake, generation_id: str) -> pa.Table:
    table = lake.read(tables.CANDIDATES, filter=pc.field("generation_id") == generation_id)
    return table.sort_by([("sample_id", "ascending"), ("candidate", "ascending")])


def prompts_of(lake: Lake, generation_id: str) -> dict[str, release_rows.Prompt]:
    """The prompts a generation run answered, by sample_id (re-read from its verified release)."""
    meta = generation(lake, generation_id)
    release = release_rows.open_release(lake, meta["prompts_release"], "prompts")
    if release.manifest["content_hash"] != meta["prompts_content_hash"]:
        raise GenerationError(f"release {release.ref} changed since generation {generation_id} read it")
    rows, _ = release_rows.prompts(release, meta["split"])
    return {p.sample_id: p for p in rows}
