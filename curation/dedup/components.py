"""Connected components over candidate pairs, and the deterministic representative of each cluster."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def connected_components(n: int, pairs: np.ndarray) -> np.ndarray:
    """Component label (int64) of each of `n` nodes given undirected edges `pairs` (shape (m, 2))."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components as scipy_components

    if len(pairs) == 0:
        return np.arange(n, dtype=np.int64)
    graph = coo_matrix((np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = scipy_components(graph.tocsr(), directed=False)
    return labels.astype(np.int64)


def row_ranks(keys: pa.Array, started_at: pa.Array | None) -> np.ndarray:
    """Each row's position in representative order: earliest `started_at` (missing times last), then
    smallest key. Depends only on the rows' values, never on their order, so reruns and other machines
    agree on every representative."""
    import pyarrow.compute as pc

    columns = {"key": keys}
    sort_keys = [("key", "ascending", "at_end")]
    if started_at is not None:
        columns = {"started_at": started_at, **columns}
        sort_keys = [("started_at", "ascending", "at_end"), *sort_keys]
    order = pc.sort_indices(pa.table(columns), sort_keys=sort_keys).to_numpy()
    ranks = np.empty(len(order), dtype=np.int64)
    ranks[order] = np.arange(len(order))
    return ranks


def representatives(labels: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """For each row, the row index of its cluster's representative: the row of smallest rank."""
    if len(labels) == 0:
        return np.empty(0, dtype=np.int64)
    best = np.full(int(labels.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, labels, ranks)
    row_of_rank = np.empty(len(ranks), dtype=np.int64)
    row_of_rank[ranks] = np.arange(len(ranks))
    return row_of_rank[best[labels]]


def text_ranks(row_ids: np.ndarray, n_texts: int, ranks: np.ndarray) -> np.ndarray:
    """Per distinct text, the smallest rank among its rows: the text holding a cluster's representative
    row has the smallest rank of the cluster."""
    best = np.full(n_texts, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, row_ids, ranks)
    return best


def split_by_representative(labels: np.ndarray, pairs: np.ndarray, ranks: np.ndarray, similar) -> np.ndarray:
    """Refine components so every member is similar to its cluster's representative.

    Connected components chain: A~B and B~C put A and C together however different they are, and
    templated traffic (the same question after different replies) chains thousands of texts. Here each
    component's first text by rank is its representative; members with `similar(members, reps)` False
    leave, and the leavers form components again over the pairs among themselves, until every text has
    a representative. Returns the representative text of each text.
    """
    n = len(labels)
    rep_of = np.full(n, -1, dtype=np.int64)
    nodes = np.arange(n)
    current = labels
    while len(nodes):
        order = np.lexsort((ranks[nodes], current))
        first = np.concatenate(([True], current[order][1:] != current[order][:-1]))
        component_rep = dict(zip(current[order][first].tolist(), nodes[order][first].tolist(), strict=True))
        reps = np.array([component_rep[c] for c in current.tolist()], dtype=np.int64)
        joins = (reps == nodes) | similar(nodes, reps)
        rep_of[nodes[joins]] = reps[joins]
        nodes = nodes[~joins]
        if len(nodes):
            current = _components_among(nodes, pairs)
    return rep_of


def _components_among(nodes: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Component labels of `nodes` over the pairs with both ends among them."""
    local = np.full(int(max(nodes.max(), pairs.max(initial=-1))) + 1, -1, dtype=np.int64)
    local[nodes] = np.arange(len(nodes))
    ends = local[pairs] if len(pairs) else np.empty((0, 2), dtype=np.int64)
    inside = ends[(ends[:, 0] >= 0) & (ends[:, 1] >= 0)]
    return connected_components(len(nodes), inside)
