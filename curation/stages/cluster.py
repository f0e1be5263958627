"""Stage `cluster`: topic clusters of the turn samples' last user messages -> `attributes/topics` and
`attributes/topic_labels`.

k-means runs on the distinct messages (curation/cluster), with their vectors from the embedding cache
(only a message the `embed` stage has not seen is encoded here). A message's representative order is
that of its earliest sample (started_at, then sample id), so semantic pruning keeps the earliest of each
group of paraphrases, like dedup. Every sample of a message gets the message's topic; the earliest
sample of a kept message is the semantic representative, later samples of the same message are its
duplicates (similarity 1.0).

Recomputed when the text layer's files, this config or the embedding model change (the ledger says);
otherwise the stage does nothing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curation.cluster.config import TopicsConfig as Config
from curation.embed.config import DEFAULT_MODEL, EmbedConfig
from curation.frames import arrow_frame
from curation.pipeline.context import StageContext, StageFailed
from curation.pipeline.details import ClusterDetails, EncodeDetails, TopicDetails, engine_details
from lakehouse import catalog, ledger, tables
from lakehouse.runs import StageStats, stable_hash

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (
    ("sklearn", "scikit-learn"),
    ("sentence_transformers", "sentence-transformers"),
    ("torch", "torch"),
)

SAMPLES_SQL = """
SELECT sample_id, started_at, last_user_message(prompt) AS text FROM samples
WHERE last_user_message(prompt) IS NOT NULL
"""


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    lake = ctx.lake
    embed_config = EmbedConfig(model=_embed_model(ctx, config))
    source = catalog.text_layer_table(lake)
    inputs = lake.files(source)
    from curation.cluster.labels import LABELER_VERSION

    settings = config.model_dump(exclude={"embed_model"})  # the model is hashed as resolved
    config_hash = stable_hash(
        {"config": settings, "model": embed_config.model, "text_layer": source.name, "labeler": LABELER_VERSION}
    )
    if ledger.skip_if_current(
        ctx, "cluster", config_hash, inputs, stats, f"{len(inputs)} {source.name} files unchanged"
    ):
        return
    samples = _samples(ctx)
    messages = _messages(samples)
    from curation.cluster.topics import cluster_topics
    from curation.embed.cache import EmbeddingCache
    from curation.embed.encode import embed_texts

    texts = messages["text"].to_pylist()
    vectors, embedded = embed_texts(texts, EmbeddingCache(lake), embed_config)
    with ctx.progress("cluster", None) as bar:
        topics, topic_stats = cluster_topics(_with_vectors(messages, vectors), config, key="first_sample")
        bar.advance(0, rows=len(texts))
    rows = _sample_rows(samples, messages, topics)
    labels = _label_rows(rows)
    with lake.transaction() as tx:
        files = tx.replace(tables.TOPICS, rows) + tx.replace(tables.TOPIC_LABELS, labels)
        files += tx.replace(tables.TOPIC_EXAMPLES, _examples(rows, messages))
        ledger.record_table(lake, tx, "cluster", config_hash, inputs, files, samples.num_rows, ctx.run_id)
    kept = int(pc.sum(rows["is_semantic_representative"]).as_py() or 0)
    stats.rows_in, stats.rows_out = rows.num_rows, kept
    stats.drop("semantic_duplicate", rows.num_rows - kept)
    topic = engine_details(topic_stats, TopicDetails)
    details: ClusterDetails = {
        **topic,
        "distinct_messages": len(texts),
        "encoded": engine_details(embedded, EncodeDetails)["encoded"],
        "config_hash": config_hash,
    }
    stats.details = dict(details)
    ctx.console.print(
        f"cluster: {len(texts):,} distinct messages of {rows.num_rows:,} turn samples in "
        f"{topic['k']} topics ({topic['k_source']}); {kept:,} semantic "
        f"representatives at cosine {config.prune_threshold}",
        highlight=False,
    )


def _embed_model(ctx: StageContext, config: Config) -> str:
    """The configured model, else the one the lake's embeddings were made with (the embed stage's, whose
    vectors the cache then supplies), else the default. Read from the lake, not from another stage's
    recipe entry, so the stage works the same alone and in any recipe."""
    if config.embed_model is not None:
        return config.embed_model
    con = catalog.connect(ctx.lake)
    try:
        models = [row[0] for row in con.execute("SELECT DISTINCT model FROM embeddings ORDER BY 1").fetchall()]
    finally:
        con.close()
    if len(models) > 1 and DEFAULT_MODEL not in models:
        raise StageFailed(f"cluster: the lake has embeddings of several models ({', '.join(models)}): set embed_model")
    return models[0] if len(models) == 1 else DEFAULT_MODEL


def _samples(ctx: StageContext) -> pa.Table:
    con = catalog.connect(ctx.lake)
    try:
        return con.sql(SAMPLES_SQL).to_arrow_table()
    finally:
        con.close()


def _messages(samples: pa.Table) -> pa.Table:
    """One row per distinct message: its text, earliest sample and that sample's started_at."""
    import polars as pl

    from curation.texthash import text_hashes

    frame = arrow_frame(samples).sort("started_at", "sample_id", nulls_last=True)
    first = frame.group_by("text", maintain_order=True).first().rename({"sample_id": "first_sample"})
    first = first.sort("first_sample")
    return first.with_columns(pl.Series("text_hash", text_hashes(first["text"].to_list()), dtype=pl.String)).to_arrow()


def _with_vectors(messages: pa.Table, vectors: np.ndarray) -> pa.Table:
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    return messages.append_column("embedding", pa.FixedSizeListArray.from_arrays(flat, vectors.shape[1]))


def _sample_rows(samples: pa.Table, messages: pa.Table, topics: pa.Table) -> pa.Table:
    """Every sample with its message's topic; only a kept message's earliest sample is a representative."""
    import polars as pl

    by_message = arrow_frame(messages.select(["text", "first_sample", "text_hash"])).join(
        arrow_frame(topics), left_on="first_sample", right_on="key"
    )
    frame = arrow_frame(samples).join(by_message, on="text")
    first = pl.col("sample_id") == pl.col("first_sample")
    frame = frame.with_columns(
        pl.col("topic").alias("topic_cluster"),
        (first & pl.col("is_kept")).alias("is_semantic_representative"),
        pl.when(first)
        .then(pl.col("semantic_duplicate_of"))
        .otherwise(pl.coalesce("semantic_duplicate_of", "first_sample"))
        .alias("semantic_duplicate_of"),
        pl.when(first).then(pl.col("max_similarity")).otherwise(pl.lit(1.0)).alias("semantic_similarity"),
    )
    schema = tables.TOPICS.schema
    return frame.select(schema.names).sort("sample_id").to_arrow().cast(schema)


def _label_rows(rows: pa.Table) -> pa.Table:
    import polars as pl

    frame = (
        arrow_frame(rows)
        .group_by("topic_cluster", "topic_label")
        .agg(
            pl.len().alias("samples"),
            pl.col("text_hash").n_unique().alias("texts"),
            pl.col("is_semantic_representative").sum().alias("semantic_representatives"),
        )
    )
    return frame.sort("topic_cluster").to_arrow().cast(tables.TOPIC_LABELS.schema)


def _examples(rows: pa.Table, messages: pa.Table) -> pa.Table:
    """Each topic's representative messages (curation.cluster.labels.representative_messages)."""
    from curation.cluster.labels import representative_messages

    texts = arrow_frame(messages.select(["text", "text_hash"]))
    frame = (
        arrow_frame(rows.select(["topic_cluster", "text_hash", "centroid_similarity"]))
        .unique("text_hash", keep="first", maintain_order=True)
        .join(texts, on="text_hash")
    )
    examples = representative_messages(
        frame["text"].to_list(), frame["topic_cluster"].to_numpy(), frame["centroid_similarity"].to_numpy()
    )
    listed = [(topic, rank, text) for topic, texts in examples.items() for rank, text in enumerate(texts, 1)]
    return pa.table(
        {
            "topic_cluster": pa.array([t for t, _, _ in listed], pa.int32()),
            "rank": pa.array([r for _, r, _ in listed], pa.int32()),
            "text": pa.array([x for _, _, x in listed], pa.string()),
        },
        schema=tables.TOPIC_EXAMPLES.schema,
    )
