"""Scrub, dedup and embed on the local executor and on Ray, same lake, same recipe (docs/scale.md).

100,000 simulated conversations by default (`BENCH_SCALE=0.02`, or `python -m benchmarks.bench_scale
--num-conversations 2000`, for 2,000): the first N conversations of the cached 200k simulation (above
200k, `replicated_traffic`'s copies). The lake is ingested once and copied; then, stage by stage, the
stage runs over the local copy with `executor: {type: local}` and over the other with `executor: {type:
ray, num_cpus: <cores>}` (a local Ray cluster started for that stage: its startup and each actor's model
loading are inside the Ray time, as a user of a one-machine cluster pays them). Each run is a fresh
process, so one executor's imports and caches never help the other, and the table is rewritten after
every pair: a run cut short still reports the stages it finished. Reported: seconds per stage,
conversations per second per core, Ray's time over local's (on one machine parity is the goal; the
speedup is across nodes) and the load average around each run (the machine is shared).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.harness import CACHE_DIR, report, save_json, scale
from benchmarks.simdata import SIMULATED_AT_MOST, replicated_traffic, traffic_files

STAGES = ("scrub", "dedup", "embed")


def traffic_prefix(conversations: int) -> Path:
    """A traffic directory with the first `conversations` conversations of the cached simulation."""
    out = CACHE_DIR / f"scale-input-{conversations}"
    if (out / "DONE").exists():
        return out / "traffic"
    shards = traffic_files(SIMULATED_AT_MOST) if conversations <= SIMULATED_AT_MOST else None
    shards = shards or replicated_traffic(conversations)
    (out / "traffic").mkdir(parents=True, exist_ok=True)
    left = conversations
    for shard in shards:
        if left <= 0:
            break
        lines = gzip.decompress(shard.read_bytes()).splitlines(keepends=True)[:left]
        (out / "traffic" / shard.name).write_bytes(gzip.compress(b"".join(lines), compresslevel=1))
        left -= len(lines)
    (out / "DONE").touch()
    return out / "traffic"


def run_stage(lake_dir: str, stage: dict, executor: dict | None) -> float:
    """One recipe of one stage over the lake; its seconds as the run records them."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    recipe = {"name": "bench-scale", "stages": [stage]} | ({"executor": executor} if executor else {})
    record = runner.run(parse(recipe), Lake(lake_dir), Console(quiet=True))
    if record.status != "succeeded":
        raise RuntimeError(record.error)
    return sum(s.seconds for s in record.stages)


def _in_fresh_process(lake_dir: Path, stage: dict, executor: dict | None) -> dict:
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    args = [sys.executable, "-m", "benchmarks.bench_scale", "--child", json.dumps([str(lake_dir), stage, executor])]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr[-2000:], "wall": time.perf_counter() - started}
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    return measured | {
        "wall": time.perf_counter() - started,
        "load": [round(load_before, 1), round(os.getloadavg()[0], 1)],
    }


def _table(conversations: int, cores: int, ingest: float, results: dict) -> str:
    lines = [
        f"{conversations:,} simulated conversations, {cores} cores (the machine may be shared: the load average "
        f"before/after each run is in the load columns). CPU s counts the stage process and the children it reaped; "
        f"Ray's workers are mostly not among them, so Ray's CPU column undercounts: compare wall seconds. "
        f"Ingest (local): {ingest:.1f} s.",
        "",
        "| stage | local s | local conv/s/core | Ray s | Ray conv/s/core | Ray / local | load local | load Ray "
        "| local CPU s | Ray CPU s | local conv per CPU s | Ray conv per CPU s |",
        "|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|",
    ]
    total = [0.0, 0.0]
    for stage in STAGES:
        a, b = results.get(stage, {}).get("local", {}), results.get(stage, {}).get("ray", {})
        if "seconds" not in a or "seconds" not in b:
            lines.append(f"| {stage} | {a.get('seconds', 'n/a')} | | {b.get('seconds', 'n/a')} | | | | | | | | |")
            continue
        x, y = a["seconds"], b["seconds"]
        total = [total[0] + x, total[1] + y]
        lines.append(
            f"| {stage} | {x:.1f} | {conversations / x / cores:,.1f} | {y:.1f} | {conversations / y / cores:,.1f} "
            f"| {y / x:.2f}x | {a['load'][0]}-{a['load'][1]} | {b['load'][0]}-{b['load'][1]} | {_cpu(a, b, conversations)} |"
        )
    if total[0]:
        lines.append(
            f"| measured stages | {total[0]:.1f} | | {total[1]:.1f} | | {total[1] / total[0]:.2f}x | | | | | | |"
        )
    return "\n".join(lines)


def _cpu(local: dict, ray: dict, conversations: int) -> str:
    """CPU columns: seconds and conversations per CPU second (a per-core rate that the load does not skew)."""
    if "cpu_seconds" not in local or "cpu_seconds" not in ray:
        return " | | | "
    x, y = local["cpu_seconds"], ray["cpu_seconds"]
    return f"{x:.1f} | {y:.1f} | {conversations / x:,.1f} | {conversations / y:,.1f}"


def main(conversations: int | None = None, keep: bool = False) -> None:
    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "bench-" + "k" * 40)
    conversations = conversations or scale(100_000)
    cores = os.cpu_count() or 1
    traffic = traffic_prefix(conversations)
    base = CACHE_DIR / f"scale-{conversations}"
    shutil.rmtree(base, ignore_errors=True)
    started = time.perf_counter()
    run_stage(str(base / "local"), {"stage": "ingest", "paths": [str(traffic)]}, None)
    ingest = time.perf_counter() - started
    shutil.copytree(base / "local", base / "ray")
    results: dict[str, dict] = {}
    for stage in STAGES:
        results[stage] = {
            "local": _in_fresh_process(base / "local", {"stage": stage}, None),
            "ray": _in_fresh_process(base / "ray", {"stage": stage}, {"type": "ray", "num_cpus": cores}),
        }
        payload = {"conversations": conversations, "cores": cores, "ingest_seconds": ingest, "stages": results}
        save_json("bench_scale", payload)
        report("bench_scale", _table(conversations, cores, ingest, results))
    if not keep:
        shutil.rmtree(base, ignore_errors=True)


def _child(spec: str) -> None:
    """One stage in this fresh process; prints its seconds and the CPU seconds of this process and its
    reaped children (a local Ray's raylet and workers, once `ray.shutdown` has stopped them): what the
    stage cost in cores, whatever else the machine was running."""
    import resource

    lake_dir, stage, executor = json.loads(spec)
    seconds = run_stage(lake_dir, stage, executor)
    if "ray" in sys.modules:
        import ray

        ray.shutdown()
    used = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    print(json.dumps({"seconds": seconds, "cpu_seconds": sum(u.ru_utime + u.ru_stime for u in used)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--num-conversations", type=int, default=None, help="default: 100,000 x BENCH_SCALE")
    parser.add_argument("--keep", action="store_true", help="keep the two lakes under benchmarks/.cache/")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        _child(options.child)
    else:
        main(options.num_conversations, options.keep)
