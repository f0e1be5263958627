"""Mapping a function over a stream in worker threads, in order, a bounded number of items ahead.

Decompression (ISA-L), JSON parsing and Arrow compute release the GIL, so parsing and validating the
next blocks in threads overlaps with de-duplicating and writing the current one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(fn: Callable[[T], R], items: Iterable[T], workers: int = 2, ahead: int = 4) -> Iterator[R]:
    """`fn(item)` for every item, computed by `workers` threads at most `ahead` items in advance,
    yielded in input order (so the output does not depend on thread timing)."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque = deque()
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
