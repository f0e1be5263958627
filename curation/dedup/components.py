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


def representatives(labels: np.ndarray, keys: pa.Array, started_at: pa.Array | None) -> np.ndarray:
    """For each row, the row index of its cluster's representative: the earliest `started_at` (missing
    times last), then the smallest key. Depends only on the rows' values, never on their order, so
    reruns and other machines keep the same representative."""
    import polars as pl

    frame = pl.DataFrame({"label": labels, "key": pl.Series(keys), "row": np.arange(len(labels))})
    order = ["label", "key"]
    if started_at is not None:
        frame = frame.with_columns(started_at=pl.Series(started_at))
        order = ["label", "started_at", "key"]
    firsts = (frame.sort(order, nulls_last=True).group_by("label", maintain_order=True)
              .agg(representative=pl.col("row").first()))
    joined = frame.select("label").join(firsts, on="label", how="left", maintain_order="left")
    return joined["representative"].to_numpy().astype(np.int64)


def text_ranks(row_ids: np.ndarray, n_texts: int, keys: pa.Array, started_at: pa.Array | None) -> np.ndarray:
    """Per distinct text, the position of its earliest row in representative order (see
    `representatives`): the text holding a cluster's representative row has the smallest rank."""
    import polars as pl

    frame = pl.DataFrame({"text": row_ids, "key": pl.Series(keys)})
    order = ["key"]
    if started_at is not None:
        frame = frame.with_columns(started_at=pl.Series(started_at))
        order = ["started_at", "key"]
    ranked = frame.sort(order, nulls_last=True).with_row_index("rank").group_by("text").agg(pl.col("rank").min())
    ranks = np.full(n_texts, np.iinfo(np.int64).max, dtype=np.int64)
    ranks[ranked["text"].to_numpy()] = ranked["rank"].to_numpy()
    return ranks


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
        component_rep = dict(zip(current[order][first].tolist(), nodes[order][first].tolist()))
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
