"""Simulated traffic for benchmarks, generated once per (size, seed) into benchmarks/.cache/."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import CACHE_DIR


def simulated(conversations: int, seed: int = 11) -> Path:
    """Directory of simulator output (traffic/*.jsonl.gz, exposures, truth); generated on first use."""
    from curation.simulator import SimulationConfig, run_simulation

    out = CACHE_DIR / f"sim-{conversations}-{seed}"
    run_simulation(SimulationConfig(conversations=conversations, seed=seed), out, workers=2)
    return out


def traffic_files(conversations: int, seed: int = 11) -> list[Path]:
    return sorted((simulated(conversations, seed) / "traffic").glob("*.jsonl.gz"))
