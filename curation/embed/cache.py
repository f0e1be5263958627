"""The embedding cache: the lake table `attributes/embeddings` (text_hash, model, embedding FLOAT[384]).

Append-only: each run that encodes new texts commits one more file in a lake transaction (content-named,
so a crash leaves the whole file or nothing and readers never see half of one). The catalog's `embeddings`
view types the vectors FLOAT[384] for DuckDB's `array_cosine_similarity`. `compact` merges the files
when they pile up.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curation.frames import arrow_frame
from lakehouse import tables
from lakehouse.lake import Lake
from lakehouse.schemas import EMBEDDING_DIM


def embedding_table(hashes: list[str], model: str, vectors: np.ndarray) -> pa.Table:
    """Rows of the cache for `vectors` (float32, one row per hash, EMBEDDING_DIM wide)."""
    if vectors.ndim != 2 or vectors.shape[1] != EMBEDDING_DIM:
        raise ValueError(
            f"{tables.EMBEDDINGS.name} holds {EMBEDDING_DIM}-dimensional vectors; model {model!r} "
            f"gives {vectors.shape[-1]}"
        )
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    return pa.table(
        {
            "text_hash": pa.array(hashes, pa.string()),
            "model": pa.array([model] * len(hashes), pa.string()),
            "embedding": pa.FixedSizeListArray.from_arrays(flat, EMBEDDING_DIM),
        },
        schema=tables.EMBEDDINGS.schema,
    )


class EmbeddingCache:
    """Vectors by (text hash, model) in a lake's `attributes/embeddings`."""

    def __init__(self, lake: Lake):
        self.lake = lake

    def files(self) -> list:
        return self.lake.files(tables.EMBEDDINGS)

    def lookup(self, hashes: list[str], model: str) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes` for `model`."""
        import pyarrow.compute as pc

        if not hashes or not self.files():
            return {}
        wanted = (pc.field("model") == model) & pc.field("text_hash").isin(pa.array(hashes, pa.string()))
        found = self.lake.read(tables.EMBEDDINGS, columns=["text_hash", "embedding"], filter=wanted)
        if found.num_rows == 0:
            return {}
        return dict(zip(found["text_hash"].to_pylist(), _matrix(found["embedding"]), strict=True))

    def append(self, table: pa.Table) -> list[str]:
        """Commit rows as one new file; returns its lake-relative path (none when there is nothing to add)."""
        if table.num_rows == 0:
            return []
        with self.lake.transaction() as tx:
            return tx.write(tables.EMBEDDINGS, table)

    def compact(self) -> list[str]:
        """Merge all files into one (one row per text hash and model, sorted); returns the new file."""
        files = self.files()
        if len(files) < 2:
            return [str(f.relative_to(self.lake.root)) for f in files]
        table = self.lake.read(tables.EMBEDDINGS)
        unique = arrow_frame(table).unique(["text_hash", "model"], keep="first").sort("model", "text_hash")
        with self.lake.transaction() as tx:
            return tx.replace(tables.EMBEDDINGS, unique.to_arrow().cast(tables.EMBEDDINGS.schema))


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list column as a (rows, dim) float32 matrix."""
    array = column.combine_chunks()
    return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
