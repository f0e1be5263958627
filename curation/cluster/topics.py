"""The topic stage: rows (key, text, embedding[, started_at]) in, the topic attribute table out.

Rows are put in representative order (earliest started_at, then smallest key) before anything else, so
k-means sees the same sequence on every rerun and pruning keeps the same text.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curation.cluster.config import TopicsConfig
from curation.cluster.kmeans import choose_k, kmeans
from curation.cluster.labels import topic_labels
from curation.cluster.prune import prune_topic
from curation.pipeline.details import TopicDetails
from lakehouse.runs import StageStats

OUTPUT_SCHEMA = pa.schema(
    [
        pa.field("key", pa.string(), nullable=False),
        pa.field("topic", pa.int32(), nullable=False),
        pa.field("topic_label", pa.string(), nullable=False),
        pa.field("centroid_similarity", pa.float32(), nullable=False),
        pa.field("is_kept", pa.bool_(), nullable=False),
        pa.field("semantic_duplicate_of", pa.string()),
        pa.field("max_similarity", pa.float32(), nullable=False),
    ]
)


def _ordered(table: pa.Table, key: str, started_at: str | None) -> pa.Table:
    sort = [(key, "ascending", "at_end")]
    if started_at and started_at in table.column_names:
        sort = [(started_at, "ascending", "at_end"), *sort]
    return table.sort_by(sort)


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def cluster_topics(
    table: pa.Table,
    config: TopicsConfig | None = None,
    *,
    key: str = "key",
    text: str = "text",
    embedding: str = "embedding",
    started_at: str | None = "started_at",
    name: str = "cluster",
) -> tuple[pa.Table, StageStats]:
    """One output row per input row (in representative order) with its topic, label and pruning."""
    config = config or TopicsConfig()
    rows = _ordered(table, key, started_at)
    column = rows[embedding].combine_chunks()
    vectors = _unit(column.flatten().to_numpy(zero_copy_only=False).reshape(len(rows), -1).astype(np.float32))
    k = config.k or choose_k(len(rows), config.max_k)
    labels, centroids = kmeans(vectors, k, config.seed)
    names = topic_labels(rows[text].to_pylist(), labels, config.label_terms)
    keys = rows[key].to_pylist()
    representative = np.arange(len(rows))
    best = np.zeros(len(rows), dtype=np.float32)
    if config.prune_threshold is not None:
        for topic in np.unique(labels):
            members = np.flatnonzero(labels == topic)
            reps, similarity = prune_topic(vectors[members], config.prune_threshold)
            representative[members] = members[reps]
            best[members] = similarity
    kept = representative == np.arange(len(rows))
    centroid_similarity = np.einsum("ij,ij->i", vectors, _unit(centroids)[labels]) if len(rows) else np.empty(0)
    result = pa.table(
        {
            "key": pa.array(keys, pa.string()),
            "topic": pa.array(labels, pa.int32()),
            "topic_label": pa.array([names[t] for t in labels.tolist()], pa.string()),
            "centroid_similarity": pa.array(centroid_similarity.astype(np.float32)),
            "is_kept": pa.array(kept),
            "semantic_duplicate_of": pa.array(
                [None if kept[i] else keys[representative[i]] for i in range(len(rows))], pa.string()
            ),
            "max_similarity": pa.array(best),
        },
        schema=OUTPUT_SCHEMA,
    )
    stats = StageStats(name, rows_in=len(rows), rows_out=int(kept.sum()))
    stats.drop("semantic_duplicate", int((~kept).sum()))
    details: TopicDetails = {
        "k": int(len(centroids)),
        "k_source": "recipe" if config.k else "sqrt(n/2)",
        "prune_threshold": config.prune_threshold,
        "largest_topic": int(np.bincount(labels).max()) if len(rows) else 0,
    }
    stats.details = dict(details)
    return result, stats
