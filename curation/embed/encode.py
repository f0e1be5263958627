"""Embedding texts: exact-dedup by text hash, cache lookup, encode only the misses in length-sorted
batches, append them to the cache, return vectors in input order.

Chat traffic repeats itself ("hi", "thanks!", pasted prompts), so the distinct texts are often far
fewer than the texts. Batches are cut by a padded-token budget (texts x longest text) over texts sorted
by token length: short texts go many to a batch and long ones few, so little compute goes to padding.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np
import pyarrow as pa

from curation.embed.cache import EmbeddingCache, embedding_table
from curation.embed.config import EmbedConfig
from curation.embed.model import load_model
from curation.pipeline.details import EncodeDetails
from curation.texthash import text_hash
from lakehouse.runs import StageStats
from lakehouse.schemas import EMBEDDING_DIM


class Encoder(Protocol):
    name: str
    dimension: int
    precision: str

    def token_lengths(self, texts: list[str]) -> list[int]: ...

    def encode(self, texts: list[str]) -> np.ndarray: ...


def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX); elsewhere torch emulates it,
    slower than float32."""
    import torch

    checks = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(check is not None and check() for check in checks)


def resolve_precision(precision: str) -> str:
    """The precision `auto` stands for on this machine; an explicit one as given."""
    if precision != "auto":
        return precision
    return "bfloat16" if native_bfloat16() else "float32"


class SentenceEncoder:
    """A sentence-transformers model behind the Encoder protocol, in float32 or with bfloat16 matrix
    products (torch autocast: linear layers and attention in bfloat16, layer norms and pooling in float32)."""

    def __init__(self, config: EmbedConfig):
        self.name = config.model
        self.model = load_model(config.model)
        self.dimension = self.model.get_embedding_dimension()
        self.normalize = config.normalize
        self.precision = resolve_precision(config.precision)
        if config.threads is not None:
            import torch

            torch.set_num_threads(config.threads)

    def token_lengths(self, texts: list[str]) -> list[int]:
        limit = self.model.max_seq_length
        encoded = self.model.tokenizer(texts, add_special_tokens=True, truncation=True, max_length=limit)
        return [len(ids) for ids in encoded["input_ids"]]

    def encode(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bfloat16"):
            vectors = self.model.encode(
                texts,
                batch_size=len(texts),
                convert_to_tensor=True,
                normalize_embeddings=False,
                show_progress_bar=False,
            )
        vectors = vectors.float()
        if self.normalize:
            vectors = torch.nn.functional.normalize(vectors, dim=1)
        return vectors.numpy()


def token_batches(lengths: list[int], batch_tokens: int, max_batch: int) -> list[list[int]]:
    """Indices grouped into batches, shortest texts first, each within the padded-token budget."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[i]  # sorted ascending: the newest text is the longest of the batch
        if current and ((len(current) + 1) * longest > batch_tokens or len(current) >= max_batch):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def embed_texts(
    texts: Sequence[str],
    cache: EmbeddingCache | None = None,
    config: EmbedConfig | None = None,
    encoder: Encoder | None = None,
    on_batch: Callable[[int], None] | None = None,
    executor=None,
) -> tuple[np.ndarray, StageStats]:
    """(len(texts), dim) float32 vectors in input order, and the stage stats (texts, distinct, cache
    hits, encoded, batches in `details`). The model is loaded only when some text is not in the cache;
    `on_batch(n)` is called after each encoded batch of n texts."""
    config = config or EmbedConfig()
    missing_text = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if missing_text is not None:
        raise ValueError(f"embed input {missing_text} is not a string: {texts[missing_text]!r}")
    model = encoder.name if encoder is not None else config.model
    hashes = [text_hash(t) for t in texts]
    first: dict[str, int] = {}
    for i, h in enumerate(hashes):
        first.setdefault(h, i)
    distinct = list(first)
    found = cache.lookup(distinct, model) if cache is not None else {}
    missing = [h for h in distinct if h not in found]
    batches: list[list[int]] = []
    if missing:
        encoder = encoder or SentenceEncoder(config)
        batches = token_batches(
            encoder.token_lengths([texts[first[h]] for h in missing]), config.batch_tokens, config.max_batch
        )
        new_vectors = np.empty((len(missing), encoder.dimension), dtype=np.float32)
        inputs = ([texts[first[missing[i]]] for i in batch] for batch in batches)
        for batch, vectors in zip(batches, _encoded(inputs, encoder, config, executor), strict=True):
            new_vectors[batch] = vectors
            if on_batch is not None:
                on_batch(len(batch))
        if cache is not None:
            cache.append(embedding_table(missing, encoder.name, new_vectors))
        found.update(zip(missing, new_vectors, strict=True))
    dim = encoder.dimension if encoder is not None else EMBEDDING_DIM
    out = np.stack([found[h] for h in hashes]) if hashes else np.empty((0, dim), np.float32)
    stats = StageStats("embed", rows_in=len(texts), rows_out=len(texts))
    details: EncodeDetails = {
        "model": model,
        "distinct_texts": len(distinct),
        "cache_hits": len(distinct) - len(missing),
        "encoded": len(missing),
        "batches": len(batches),
        "precision": encoder.precision if missing and encoder is not None else None,
    }
    stats.details = dict(details)
    return out, stats


def _encoded(inputs, encoder: Encoder, config: EmbedConfig, executor) -> Iterator[np.ndarray]:
    """The vectors of each batch of texts, in order: here with `encoder`, or on the executor's actors (Ray:
    MiniLM loaded once per actor, on a GPU when the cluster has one) for a SentenceEncoder's config."""
    if executor is None or executor.kind == "local" or not isinstance(encoder, SentenceEncoder):
        for texts in inputs:
            yield encoder.encode(texts)
        return
    tables = (pa.table({"text": pa.array(texts, pa.string())}) for texts in inputs)
    for table in executor.map_batches(tables, EncodeBatches(config), gpu=True):
        yield table.column("vector").combine_chunks().flatten().to_numpy().reshape(table.num_rows, -1)


class EncodeBatches:
    """Picklable factory of the embedding batch function: loads the model once (per Ray actor)."""

    def __init__(self, config: EmbedConfig):
        self.config = config

    def __call__(self):
        encoder = SentenceEncoder(self.config)

        def encode(table: pa.Table) -> pa.Table:
            vectors = np.ascontiguousarray(encoder.encode(table.column("text").to_pylist()), dtype=np.float32)
            flat = pa.array(vectors.ravel(), pa.float32())
            return pa.table({"vector": pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1])})

        return encode
