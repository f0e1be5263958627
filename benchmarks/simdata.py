"""Simulated traffic for benchmarks, generated once per (size, seed, pii share) into benchmarks/.cache/."""

from __future__ import annotations

from pathlib import Path

from benchmarks.harness import CACHE_DIR

DEFAULT_PII_SHARE = 0.1


def simulated(conversations: int, seed: int = 11, pii_share: float = DEFAULT_PII_SHARE) -> Path:
    """Directory of simulator output (traffic/*.jsonl.gz, exposures, truth); generated on first use.

    `pii_share=0` plants no personal data: for benchmarks of stages after scrubbing, which read the
    unscrubbed text so that a million conversations need not be scrubbed first (bench_scrub measures that).
    """
    from curation.simulator import SimulationConfig, run_simulation

    suffix = "" if pii_share == DEFAULT_PII_SHARE else f"-pii{pii_share:g}"
    out = CACHE_DIR / f"sim-{conversations}-{seed}{suffix}"
    run_simulation(SimulationConfig(conversations=conversations, seed=seed, pii_share=pii_share), out, workers=2)
    return out


def traffic_files(conversations: int, seed: int = 11) -> list[Path]:
    return sorted((simulated(conversations, seed) / "traffic").glob("*.jsonl.gz"))


SIMULATED_AT_MOST = 200_000  # above this, copies of the 200k simulation (the simulator runs ~1k conversations/s)


def replicated_traffic(conversations: int, seed: int = 11) -> list[Path]:
    """Traffic files of `conversations` conversations: the 200k simulation's shards, then copies of them
    whose conversation ids carry a copy prefix (`r1-sim-...`), so every record is new to ingest and the
    per-record work is the simulator's. Built once into benchmarks/.cache/."""
    import gzip

    base = traffic_files(min(conversations, SIMULATED_AT_MOST), seed)
    if conversations <= SIMULATED_AT_MOST:
        return base
    out = CACHE_DIR / f"replicated-{conversations}-{seed}"
    out.mkdir(parents=True, exist_ok=True)
    files, copy = list(base), 1
    while len(files) * SIMULATED_AT_MOST < conversations * len(base):
        for shard in base:
            target = out / f"r{copy}-{shard.name}"
            if not target.exists():
                data = gzip.decompress(shard.read_bytes())
                data = data.replace(b'"conversation_id":"sim-', f'"conversation_id":"r{copy}-sim-'.encode())
                partial = target.with_suffix(".partial")
                partial.write_bytes(gzip.compress(data, compresslevel=1))
                partial.rename(target)
            files.append(target)
        copy += 1
    return files
