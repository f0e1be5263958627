"""The traffic simulator behind `flywheel simulate`: synthetic chat traffic in the native format
(docs/architecture.md, The traffic record), an exposures log and a ground-truth sidecar, deterministic
for a seed. See docs/simulator.md."""

from curation.simulator.config import SimulationConfig
from curation.simulator.writer import run_simulation

__all__ = ["SimulationConfig", "run_simulation"]
