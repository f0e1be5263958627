"""The cost of the lake's Delta commits: per stage of a small curate recipe (ingest, scrub, dedup, release),
the stage's seconds, its commits and the seconds spent committing them (conflict checks, intent record,
delta-rs commits) and rebuilding the catalog after it (Delta log reads, DuckDB views).

It answers "what does the table format cost a stage", not "how fast is a stage": the other benchmarks
time the stages' work against their baselines. `BENCH_SCALE` shrinks the input like everywhere else.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.harness import CACHE_DIR, report, scale


def _instrument(spent: dict, counts: dict, current: list[str]):
    """Wrap Transaction.commit and catalog.refresh to add their seconds to the running stage."""
    from lakehouse import catalog, lake

    real_commit, real_refresh = lake.Transaction.commit, catalog.refresh

    def commit(self):
        start = time.perf_counter()
        try:
            return real_commit(self)
        finally:
            spent[(current[0], "commit")] += time.perf_counter() - start
            counts[current[0]] += 1

    def refresh(the_lake):
        start = time.perf_counter()
        try:
            return real_refresh(the_lake)
        finally:
            spent[(current[0], "refresh")] += time.perf_counter() - start

    lake.Transaction.commit, catalog.refresh = commit, refresh
    return lambda: (setattr(lake.Transaction, "commit", real_commit), setattr(catalog, "refresh", real_refresh))


def run(conversations: int, work: Path) -> list[tuple]:
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline import stages as stage_registry
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake
    from tests.helpers import sim_lake

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "benchmark-key-" + "x" * 32)
    simulated = sim_lake.simulate(work / "sim", conversations=conversations)
    releases = [e for e in sim_lake.RELEASES if e["name"] in ("eval-prompts", "sft", "rl-prompts")]
    recipe = parse(
        {
            "name": "bench-lake",
            "stages": [
                {"stage": "ingest", "paths": [str(simulated / "traffic")]},
                {"stage": "scrub", "mode": "placeholder"},
                {"stage": "dedup"},
                {"stage": "release", "releases": releases},
            ],
        }
    )
    spent, counts, current = defaultdict(float), defaultdict(int), ["-"]
    real_run_stage = stage_registry.run_stage

    def run_stage(name, stage, ctx, config, stats):
        current[0] = name  # the runner loads every stage first, so the stage running is known only here
        return real_run_stage(name, stage, ctx, config, stats)

    stage_registry.run_stage = run_stage
    restore = _instrument(spent, counts, current)
    try:
        record = runner.run(recipe, Lake(work / "lake"), Console(quiet=True))
    finally:
        restore()
        stage_registry.run_stage = real_run_stage
    assert record.status == "succeeded", record.error
    return [
        (s.name, s.seconds, counts[s.name], spent[(s.name, "commit")], spent[(s.name, "refresh")])
        for s in record.stages
    ]


def main() -> None:
    conversations = scale(2000)
    work = Path(tempfile.mkdtemp(dir=CACHE_DIR))
    try:
        rows = run(conversations, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Delta commit overhead per stage, {conversations:,} simulated conversations "
        "(ingest, placeholder scrub, dedup, three releases)",
        "",
        "| stage | stage s | commits | commit s | catalog refresh s | commit + refresh share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, seconds, commits, commit_s, refresh_s in rows:
        share = (commit_s + refresh_s) / (seconds + refresh_s) if seconds + refresh_s else 0.0
        lines.append(f"| {name} | {seconds:.2f} | {commits} | {commit_s:.2f} | {refresh_s:.2f} | {share:.1%} |")
    report("lake", "\n".join(lines))


if __name__ == "__main__":
    main()
