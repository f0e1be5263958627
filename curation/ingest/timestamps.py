"""Parsing RFC 3339 timestamps from strings, vectorized (Polars' chrono parser)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa

from curation.frames import arrow_series

# RFC 3339 with an offset is the contract; naive timestamps are accepted as UTC.
NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")


UTC_US = pa.timestamp("us", tz="UTC")
# Years 1 to 9999: what Python, JSON consumers and the day partitions can hold. Polars parses years like
# -0001 and +10000, and such a value would crash the first reader that turns it into a Python datetime.
EARLIEST = pa.scalar(dt.datetime(1, 1, 1, tzinfo=dt.UTC), UTC_US)
LATEST = pa.scalar(dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC), UTC_US)


def parse_utc(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Strings -> timestamp[us, UTC]; unparseable values and years outside 1-9999 become null (callers
    compare with the input).

    Arrow's ISO 8601 cast handles the common case in one pass; only when it rejects a value does the
    slower, lenient Polars parser run over the whole array."""
    return _in_range(_parse(values))


def _in_range(parsed):
    import pyarrow.compute as pc

    outside = pc.or_(pc.less(parsed, EARLIEST), pc.greater(parsed, LATEST))
    if not pc.any(outside).as_py():
        return parsed
    return pc.if_else(outside, pa.scalar(None, UTC_US), parsed)


def _parse(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    import pyarrow.compute as pc

    try:
        return pc.cast(values, UTC_US)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    import polars as pl

    series = arrow_series(values).cast(pl.String)
    parsed = series.str.to_datetime(format="%+", time_zone="UTC", strict=False, time_unit="us")
    for fmt in NAIVE_FORMATS:
        missing = parsed.is_null() & series.is_not_null()
        if not missing.any():
            break
        naive = series.str.to_datetime(format=fmt, strict=False, time_unit="us").dt.replace_time_zone("UTC")
        parsed = pl.select(pl.when(missing).then(naive).otherwise(parsed)).to_series()
    return parsed.to_arrow().cast(pa.timestamp("us", tz="UTC"))
