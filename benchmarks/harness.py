"""Helpers shared by the benchmarks: run a contender in a fresh process, record seconds and peak RSS,
and print a comparison table against the named baseline measured in the same run.

Each `benchmarks/bench_<name>.py` defines its contenders as importable functions and calls `compare`.
Measuring each contender in its own subprocess keeps one contender's memory out of another's peak.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
CACHE_DIR = Path(__file__).resolve().parent / ".cache"


@dataclass
class Measurement:
    name: str
    seconds: float
    peak_rss_mb: float
    items: int
    unit: str
    extra: dict = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + children.ru_utime + children.ru_stime


def _child(fn: Callable, args: tuple, queue) -> None:
    from lakehouse.runs import PeakMemory

    with PeakMemory(interval=0.02) as memory:
        start, cpu = time.perf_counter(), _cpu_seconds()
        result = fn(*args) or {}
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    queue.put({"seconds": seconds, "cpu_seconds": cpu, "peak_rss_mb": memory.peak_mb, "result": result})


def measure(name: str, fn: Callable, *args, items: int, unit: str) -> Measurement:
    """Run `fn(*args)` in a fresh process; `fn` may return a dict of extra numbers to report."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    process = ctx.Process(target=_child, args=(fn, args, queue))
    process.start()
    outcome = queue.get()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"benchmark contender {name!r} failed with exit code {process.exitcode}")
    return Measurement(
        name, outcome["seconds"], outcome["peak_rss_mb"], items, unit, outcome["result"], outcome["cpu_seconds"]
    )


def table(title: str, baseline: Measurement, others: list[Measurement]) -> str:
    """A Markdown table: each contender's throughput, peak RSS and speed-up over the baseline."""
    lines = [
        f"### {title}",
        "",
        f"| contender | {baseline.unit}/s | seconds | CPU seconds | peak RSS (MB) | speed-up vs baseline | notes |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for m in [baseline, *others]:
        ratio = m.rate / baseline.rate if baseline.rate else float("nan")
        notes = ", ".join(f"{k}={v}" for k, v in m.extra.items())
        lines.append(
            f"| {m.name} | {m.rate:,.0f} | {m.seconds:,.2f} | {m.cpu_seconds:,.2f} | {m.peak_rss_mb:,.0f} "
            f"| {ratio:.2f}x | {notes} |"
        )
    return "\n".join(lines)


def report(name: str, text: str) -> None:
    """Print a benchmark's result and keep a copy in benchmarks/results/<name>.md."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.md").write_text(text + "\n")
    print(text)
    print()


def save_json(name: str, payload: dict) -> None:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2))


def scale(default: int) -> int:
    """Benchmarks honour BENCH_SCALE (a float factor) so a quick run can shrink every size."""
    return max(1, int(default * float(os.environ.get("BENCH_SCALE", "1"))))
