"""Scrub, dedup and embed on the local executor and on Ray, same lake, same recipe (docs/scale.md).

100,000 simulated conversations by default (`BENCH_SCALE=0.02` for 2,000). The lake is ingested once and
copied, then the stages run over each copy with `executor: {type: local}` and with `executor: {type: ray,
num_cpus: <cores>}` (a local Ray cluster started here, its startup included in the first Ray stage's
time: what a user of a one-machine cluster pays). Reported: seconds per stage, conversations per second
per core, and Ray's time over local's (on one machine parity is the goal; the speedup is across nodes).
"""

from __future__ import annotations

import os
import shutil
import time

from benchmarks.harness import CACHE_DIR, report, save_json, scale
from benchmarks.simdata import simulated

STAGES = [{"stage": "scrub"}, {"stage": "dedup"}, {"stage": "embed"}]


def _run(lake_dir, stages, executor=None) -> dict[str, float]:
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    recipe = {"name": "bench-scale", "stages": stages} | ({"executor": executor} if executor else {})
    record = runner.run(parse(recipe), Lake(lake_dir), Console(quiet=True))
    if record.status != "succeeded":
        raise RuntimeError(record.error)
    return {s.name: s.seconds for s in record.stages}


def main() -> None:
    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "bench-" + "k" * 40)
    conversations = scale(100_000)
    cores = os.cpu_count() or 1
    sim = simulated(conversations)
    base = CACHE_DIR / f"scale-{conversations}"
    shutil.rmtree(base, ignore_errors=True)
    started = time.perf_counter()
    _run(base / "local", [{"stage": "ingest", "paths": [str(sim / "traffic")]}])
    ingest_seconds = time.perf_counter() - started
    shutil.copytree(base / "local", base / "ray")
    local = _run(base / "local", STAGES)
    on_ray = _run(base / "ray", STAGES, {"type": "ray", "num_cpus": cores})
    lines = [
        f"{conversations:,} simulated conversations, {cores} cores (ingest: {ingest_seconds:.1f} s, local)",
        "",
        "| stage | local s | local conv/s/core | Ray s | Ray conv/s/core | Ray / local |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for stage in (s["stage"] for s in STAGES):
        a, b = local[stage], on_ray[stage]
        lines.append(
            f"| {stage} | {a:.1f} | {conversations / a / cores:,.1f} | {b:.1f} | "
            f"{conversations / b / cores:,.1f} | {b / a:.2f}x |"
        )
    total_local, total_ray = sum(local.values()), sum(on_ray.values())
    lines.append(f"| all three | {total_local:.1f} | | {total_ray:.1f} | | {total_ray / total_local:.2f}x |")
    report("bench_scale", "\n".join(lines))
    save_json("bench_scale", {"conversations": conversations, "cores": cores, "local": local, "ray": on_ray})
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
