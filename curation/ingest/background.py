"""Overlapping the steps of a stream with threads, in order and a bounded number of items ahead.

Decompression (ISA-L), JSON parsing, Arrow compute and Parquet writing release the GIL, so reading the
next block, parsing and validating the ones after it, and de-duplicating and writing the current one can
run at the same time on different cores.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
_DONE = object()


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


def ahead(produce: Callable[[], Iterator[T]], depth: int = 2) -> Iterator[T]:
    """The items of `produce()`, computed in a thread at most `depth` items ahead of the consumer."""
    items: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in produce():
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
