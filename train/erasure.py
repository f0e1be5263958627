"""train's share of an erasure (lakehouse/erasure.py; docs/erasure.md).

Generated candidates and their reward scores are keyed by the prompt release's sample ids
(`<conversation_id>:<turn>`), so the generic id-column rule removes those of an erased user's prompts.
The tables below describe runs, not users; a checkpoint trained on a release an erasure supersedes is
named in the erasure record (`models_affected`) rather than changed.
"""

from __future__ import annotations

from lakehouse import tables
from lakehouse.erasure import Eraser


class TrainEraser(Eraser):
    name = "train"
    exempt = {
        tables.MODELS.name: "one row per training run (release, settings, metrics); the erasure record names "
        "checkpoints trained on a superseded release",
        tables.GENERATIONS.name: "one row per generation run: model, prompt release, sampling settings, speed",
        tables.EVALS.name: "win rates and guardrail flags aggregated over an evaluation set",
    }


def eraser() -> TrainEraser:
    """The `flywheel.erasers` entry point."""
    return TrainEraser()
