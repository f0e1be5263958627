"""k-means topics over unit-length embeddings, deterministic for the same rows whatever their order."""

from __future__ import annotations

import math

import numpy as np


def choose_k(n: int, max_k: int = 512) -> int:
    """The rule of thumb k = sqrt(n / 2), at least 2 (when there are 2 rows) and at most `max_k`: with
    chat traffic this gives topics of a few dozen to a few hundred texts, small enough to read and
    large enough that semantic pruning inside a topic finds the paraphrases."""
    return max(1, min(n, max_k, max(2, round(math.sqrt(n / 2)))))


FULL_KMEANS_ROWS = 20_000


def kmeans(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(label per row, centroids), with a fixed random state. Rows must come in a canonical order for
    reruns to agree. Up to FULL_KMEANS_ROWS rows run full k-means (k-means++, 10 starts), which is
    stable on small sets; above that MiniBatchKMeans keeps time and memory linear."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if len(vectors) == 0:
        return np.empty(0, dtype=np.int32), np.empty((0, vectors.shape[1]), dtype=np.float32)
    k = min(k, len(vectors))
    if len(vectors) <= FULL_KMEANS_ROWS:
        model = KMeans(n_clusters=k, random_state=seed, n_init=10)
    else:
        model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    labels = model.fit_predict(vectors)
    return labels.astype(np.int32), model.cluster_centers_.astype(np.float32)
