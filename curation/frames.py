"""pyarrow -> polars with the result's type known to the type checker.

`pl.from_arrow` returns `DataFrame | Series` for any input (polars cannot overload on pyarrow, which has no
type hints), so every caller would need its own narrowing; these two do it once and fail loudly if an input
of the other shape ever arrives.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa


def arrow_frame(table: pa.Table) -> pl.DataFrame:
    """A pyarrow Table as a polars DataFrame."""
    import polars as pl

    converted = pl.from_arrow(table)
    if not isinstance(converted, pl.DataFrame):
        raise TypeError(f"expected a pyarrow Table, got {type(table).__name__} (polars made a Series)")
    return converted


def arrow_series(array: pa.Array | pa.ChunkedArray) -> pl.Series:
    """A pyarrow (chunked) array as a polars Series."""
    import polars as pl

    converted = pl.from_arrow(array)
    if not isinstance(converted, pl.Series):
        raise TypeError(f"expected a pyarrow array, got {type(array).__name__} (polars made a DataFrame)")
    return converted
