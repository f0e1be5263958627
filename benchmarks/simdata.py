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
