"""Embedding 20,000 chat messages with all-MiniLM-L6-v2: flywheel's embed engine (exact-dedup by text
hash, token-budget batches of length-sorted texts, Parquet cache) in float32 and with bfloat16 matrix
products, against plain `model.encode(texts)` in the given order, and a second run over the same
messages served by the cache. The bfloat16 row also reports how close its vectors are to float32 ones.

The messages are what the embed stage encodes: the user messages of simulated traffic
(benchmarks/simdata.py), in traffic order, with the simulator's stock openers, spam prompts and planted
copies. The flywheel contenders write the cache as the lake table `attributes/embeddings` of a scratch
lake. Each contender loads the model first; the seconds in the table are the encoding alone.

Run: python -m benchmarks.bench_embed   (BENCH_SCALE=0.1 for a quick run)
"""

from __future__ import annotations

import shutil
import time

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

N_MESSAGES = 20_000


def messages(n: int) -> list[str]:
    """The first n user messages of the simulated traffic, in order."""
    import gzip
    import json

    from benchmarks.simdata import traffic_files

    texts: list[str] = []
    for path in traffic_files(max(2_000, n)):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                texts.extend(
                    m["content"]
                    for m in json.loads(line)["messages"]
                    if m["role"] == "user" and (m.get("content") or "").strip()
                )
                if len(texts) >= n:
                    return texts[:n]
    return texts


def _timed(fn) -> dict:
    start = time.perf_counter()
    extra = fn() or {}
    return {"encode_seconds": time.perf_counter() - start, **extra}


def run_plain(n: int) -> dict:
    from curation.embed.model import load_model

    model, texts = load_model(), messages(n)
    return _timed(lambda: {"vectors": len(model.encode(texts, normalize_embeddings=True))})


def run_distinct_only(n: int) -> dict:
    """Ablation: exact-dedup by text hash, then plain `model.encode` of the distinct texts."""
    from curation.embed.model import load_model

    model, texts = load_model(), messages(n)
    return _timed(lambda: {"distinct": len(model.encode(list(dict.fromkeys(texts)), normalize_embeddings=True))})


def run_flywheel(n: int, cache_dir: str, precision: str) -> dict:
    from curation.embed.cache import EmbeddingCache
    from curation.embed.config import EmbedConfig
    from curation.embed.encode import SentenceEncoder, embed_texts
    from lakehouse.lake import Lake

    config = EmbedConfig(precision=precision)
    encoder, texts = SentenceEncoder(config), messages(n)
    cache = EmbeddingCache(Lake(cache_dir))

    def run() -> dict:
        _, stats = embed_texts(texts, cache, config, encoder=encoder)
        return {k: stats.details[k] for k in ("precision", "distinct_texts", "cache_hits", "encoded", "batches")}

    return _timed(run)


def agreement(reference_dir: str, other_dir: str, texts: list[str]) -> dict:
    """Cosine between the two caches' vectors of each text, and how often a text's nearest neighbour
    among the others is the same in both."""
    import numpy as np

    from curation.embed.cache import EmbeddingCache
    from curation.embed.config import DEFAULT_MODEL
    from curation.texthash import text_hash
    from lakehouse.lake import Lake

    hashes = sorted({text_hash(t) for t in texts})
    a, b = (
        np.stack([found[h] for h in hashes])
        for found in (EmbeddingCache(Lake(d)).lookup(hashes, DEFAULT_MODEL) for d in (reference_dir, other_dir))
    )
    cosine = (a * b).sum(axis=1)
    sample = np.arange(0, len(a), max(1, len(a) // 4000))
    nearest = [np.argsort(-(m[sample] @ m[sample].T), axis=1)[:, 1] for m in (a, b)]
    return {
        "min_cosine": round(float(cosine.min()), 6),
        "mean_cosine": round(float(cosine.mean()), 6),
        "same_nearest_neighbour": round(float((nearest[0] == nearest[1]).mean()), 4),
    }


def _encode_time(m):
    m.seconds = m.extra.pop("encode_seconds")
    return m


def main() -> None:
    from curation.embed.encode import resolve_precision

    n = scale(N_MESSAGES)
    auto = " (auto's choice here)" if resolve_precision("auto") == "bfloat16" else ""
    messages(n)  # build the shared input once, outside the measurements
    caches = {p: CACHE_DIR / f"embed_lake_{p}" for p in ("float32", "bfloat16")}
    for path in caches.values():
        shutil.rmtree(path, ignore_errors=True)
    plain = _encode_time(measure("plain model.encode(texts), given order", run_plain, n, items=n, unit="sentences"))
    others = [
        _encode_time(
            measure("exact-dedup, then plain encode (ablation)", run_distinct_only, n, items=n, unit="sentences")
        ),
        _encode_time(
            measure(
                "flywheel embed, float32: dedup + token batches, cold cache",
                run_flywheel,
                n,
                str(caches["float32"]),
                "float32",
                items=n,
                unit="sentences",
            )
        ),
        _encode_time(
            measure(
                f"flywheel embed, bfloat16{auto}: cold cache",
                run_flywheel,
                n,
                str(caches["bfloat16"]),
                "bfloat16",
                items=n,
                unit="sentences",
            )
        ),
        _encode_time(
            measure(
                "flywheel embed: second run, warm cache",
                run_flywheel,
                n,
                str(caches["bfloat16"]),
                "bfloat16",
                items=n,
                unit="sentences",
            )
        ),
    ]
    others[2].extra.update(agreement(str(caches["float32"]), str(caches["bfloat16"]), messages(n)))
    text = table(
        f"Embeddings, {n:,} chat messages, all-MiniLM-L6-v2 on CPU (encoding time, model loaded)", plain, others
    )
    report("bench_embed", text)
    save_json(
        "bench_embed",
        {
            m.name: {"sentences_per_s": m.rate, "seconds": m.seconds, "peak_rss_mb": m.peak_rss_mb, **m.extra}
            for m in [plain, *others]
        },
    )


if __name__ == "__main__":
    main()
