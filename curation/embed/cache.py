"""The embedding cache: a directory of Parquet files (text_hash, model, embedding FLOAT[dim]).

Each run that encodes new texts adds one file, named by its content and written atomically, so a crash
leaves either the whole file or nothing, and concurrent readers never see half a file. DuckDB reads
the directory as a table whose `embedding` column is a fixed-size FLOAT array, ready for
`array_cosine_similarity`. `compact` merges the files when they pile up.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pyarrow as pa

from lakehouse.lake import atomic_write_bytes


def cache_schema(dim: int) -> pa.Schema:
    return pa.schema([
        pa.field("text_hash", pa.string(), nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("embedding", pa.list_(pa.float32(), dim), nullable=False),
    ])


def embedding_table(hashes: list[str], model: str, vectors: np.ndarray) -> pa.Table:
    """Rows of the cache for `vectors` (float32, one row per hash)."""
    dim = vectors.shape[1]
    flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).ravel(), pa.float32())
    return pa.table({"text_hash": pa.array(hashes, pa.string()), "model": pa.array([model] * len(hashes), pa.string()),
                     "embedding": pa.FixedSizeListArray.from_arrays(flat, dim)}, schema=cache_schema(dim))


class EmbeddingCache:
    """Vectors by (text hash, model) under `directory`."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def files(self) -> list[Path]:
        if not self.directory.exists():
            return []
        return sorted(p for p in self.directory.glob("*.parquet") if not p.name.startswith("."))

    def lookup(self, hashes: list[str], model: str) -> dict[str, np.ndarray]:
        """The cached vectors among `hashes` for `model`."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        files = self.files()
        if not files or not hashes:
            return {}
        dataset = ds.dataset([str(f) for f in files], format="parquet")
        wanted = (pc.field("model") == model) & pc.field("text_hash").isin(pa.array(hashes, pa.string()))
        found = dataset.to_table(filter=wanted, columns=["text_hash", "embedding"])
        if found.num_rows == 0:
            return {}
        vectors = _matrix(found["embedding"])
        return dict(zip(found["text_hash"].to_pylist(), vectors))

    def append(self, table: pa.Table) -> Path | None:
        """Add rows as one new file named by its content; None when there is nothing to add."""
        if table.num_rows == 0:
            return None
        data = _parquet_bytes(table)
        path = self.directory / f"part-{hashlib.sha256(data).hexdigest()[:24]}.parquet"
        atomic_write_bytes(path, data)
        return path

    def compact(self) -> Path | None:
        """Merge all files into one (one row per text hash and model); returns the new file."""
        import polars as pl
        import pyarrow.dataset as ds

        files = self.files()
        if len(files) < 2:
            return files[0] if files else None
        table = ds.dataset([str(f) for f in files], format="parquet").to_table()
        unique = pl.from_arrow(table).unique(["text_hash", "model"], keep="first").sort("model", "text_hash")
        merged = self.append(unique.to_arrow().cast(table.schema))
        for f in files:
            if f != merged:
                f.unlink()
        return merged


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size-list column as a (rows, dim) float32 matrix."""
    array = column.combine_chunks()
    return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)


def _parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()
