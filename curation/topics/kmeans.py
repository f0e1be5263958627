"""k-means topics over unit-length embeddings, deterministic for the same rows whatever their order."""

from __future__ import annotations

import math

import numpy as np


def choose_k(n: int, max_k: int = 512) -> int:
    """The rule of thumb k = sqrt(n / 2), at least 2 (when there are 2 rows) and at most `max_k`: with
    chat traffic this gives topics of a few dozen to a few hundred texts, small enough to read and
    large enough that semantic pruning inside a topic finds the paraphrases."""
    return max(1, min(n, max_k, max(2, round(math.sqrt(n / 2)))))


def kmeans(vectors: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(label per row, centroids). Rows must come in a canonical order for reruns to agree."""
    from sklearn.cluster import MiniBatchKMeans

    if len(vectors) == 0:
        return np.empty(0, dtype=np.int32), np.empty((0, vectors.shape[1]), dtype=np.float32)
    k = min(k, len(vectors))
    model = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    labels = model.fit_predict(vectors)
    return labels.astype(np.int32), model.cluster_centers_.astype(np.float32)
