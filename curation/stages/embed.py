"""Stage `embed`: the last user message of every turn sample's prompt -> `attributes/embeddings`.

The last user message is what a turn sample is about (the topic the `cluster` stage finds, the text
`flywheel similar` matches), and it is short: replies and whole prompts are several times longer and
almost never repeat, so embedding them would cost several times more for the same topics. Messages are
embedded once per distinct text (by text hash) and only when the cache lacks them: a rerun over unchanged
traffic encodes nothing and does not even load the model. New vectors are committed in chunks, so an
interrupted run keeps what it encoded.
"""

from __future__ import annotations

from curation.embed.config import EmbedConfig as Config
from curation.pipeline.context import StageContext
from curation.pipeline.details import EmbedDetails, EncodeDetails, engine_details
from lakehouse.runs import StageStats

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("sentence_transformers", "sentence-transformers"), ("torch", "torch"))

# Every distinct last user message of the turn samples (the catalog's `last_user_message` macro).
TEXTS_SQL = """
SELECT DISTINCT last_user_message(prompt) AS text FROM samples WHERE last_user_message(prompt) IS NOT NULL
ORDER BY md5(text)
"""


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    from curation.embed.cache import EmbeddingCache
    from curation.embed.encode import embed_texts, resolve_precision
    from lakehouse import catalog

    con = catalog.connect(ctx.lake)
    try:
        texts = [row[0] for row in con.execute(TEXTS_SQL).fetchall()]
    finally:
        con.close()
    cache = EmbeddingCache(ctx.lake)
    cache_hits = encoded = batches = 0
    with ctx.progress("embed", len(texts)) as bar:
        for start in range(0, len(texts), config.chunk_texts):
            chunk = texts[start : start + config.chunk_texts]
            _, part = embed_texts(
                chunk, cache, config, on_batch=lambda n: bar.advance(n, rows=n), executor=ctx.executor
            )
            encoding = engine_details(part, EncodeDetails)
            bar.advance(encoding["cache_hits"], rows=encoding["cache_hits"])
            cache_hits += encoding["cache_hits"]
            encoded += encoding["encoded"]
            batches += encoding["batches"]
    compacted = len(cache.files()) > config.compact_files
    if compacted:
        cache.compact()
    stats.rows_in = stats.rows_out = len(texts)
    precision = resolve_precision(config.precision)
    details: EmbedDetails = {
        "model": config.model,
        "precision": precision,
        "distinct_texts": len(texts),
        "cache_hits": cache_hits,
        "encoded": encoded,
        "batches": batches,
        "cache_files": len(cache.files()),
        "compacted": compacted,
    }
    stats.details = dict(details)
    ctx.console.print(
        f"embed: {len(texts):,} distinct last user messages: {encoded:,} encoded, "
        f"{cache_hits:,} from the cache ({config.model}, {precision})",
        highlight=False,
    )
