"""Parsing RFC 3339 timestamps from strings, vectorized (Polars' chrono parser)."""

from __future__ import annotations

import pyarrow as pa

# RFC 3339 with an offset is the contract; naive timestamps are accepted as UTC.
NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")


def parse_utc(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strings -> timestamp[us, UTC]; unparseable values become null (callers compare with the input).

    Arrow's ISO 8601 cast handles the common case in one pass; only when it rejects a value does the
    slower, lenient Polars parser run over the whole array."""
    import pyarrow.compute as pc

    try:
        return pc.cast(values, pa.timestamp("us", tz="UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    import polars as pl

    series = pl.from_arrow(values).cast(pl.String)
    parsed = series.str.to_datetime(format="%+", time_zone="UTC", strict=False, time_unit="us")
    for fmt in NAIVE_FORMATS:
        missing = parsed.is_null() & series.is_not_null()
        if not missing.any():
            break
        naive = series.str.to_datetime(format=fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")
        parsed = pl.select(pl.when(missing).then(naive).otherwise(parsed)).to_series()
    return parsed.to_arrow().cast(pa.timestamp("us", tz="UTC"))
