"""A lake of simulated traffic for tests: `flywheel simulate` output run through the real pipeline.

`build(root)` simulates `CONVERSATIONS` conversations (curation.simulator, seed `SEED`) and runs the recipe
of `stages()` through curation.pipeline.runner: ingest -> scrub -> dedup -> release (`RELEASES`), the
stages of configs/curate.yaml but embed, cluster and sample (MiniLM over every message would cost the
session a minute; tests/curation/test_dedup_stages.py runs them on a smaller lake). The scrub stage loads spaCy
and reads every message, so the test session builds the lake once (the session fixture `simulated_lake` in
tests/conftest.py) and a module that writes to it works on a copy (tests.helpers.release_lakes.copy_lake).

The recipe lives here and only here. 1,500 conversations, because regenerations, the simulator's
preference data, give about one pair per eight conversations and the chain's reward model needs about
130 pairs to train on and 50 held out (docs/train.md, Tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lakehouse.lake import Lake

CONVERSATIONS = 1500
SEED = 7
# The held-out split is made large enough to measure a reward model on.
PREFERENCE_SPLIT = {"validation": 0.1, "test": 0.3}

RELEASES = [
    {
        "name": "eval-prompts",
        "type": "prompt",
        "frozen_eval": True,
        "description": "Frozen evaluation prompts: an opening message per character from user and from internal traffic.",
        "filter": "depth = 1",
        "sources": [
            {"name": "openers", "kind": "samples", "stratify_by": ["source", "character_id"], "per_stratum": 1}
        ],
    },
    {
        "name": "sft",
        "type": "sft",
        "description": "Replies users liked or went on with, mixed with internal character chats.",
        "filter": "NOT coalesce(reported, false) AND coalesce(thumb, 0) >= 0",
        "sources": [
            {"name": "liked", "kind": "samples", "filter": "source = 'user' AND (thumb = 1 OR love)", "ratio": 2},
            {"name": "continued", "kind": "samples", "filter": "source = 'user' AND continued", "ratio": 1},
            {
                "name": "internal",
                "kind": "samples",
                "filter": "source = 'internal' AND character_id IS NOT NULL",
                "cap": 300,
            },
        ],
    },
    {
        "name": "preference",
        "type": "preference",
        "description": "Regenerations: the replacement the user kept beats the reply they regenerated.",
        "sources": [{"name": "regenerations", "kind": "regenerations"}],
        "split": PREFERENCE_SPLIT,
    },
    {
        "name": "kto",
        "type": "unpaired",
        "description": "Thumbs up as desirable, thumbs down and reports as undesirable.",
    },
    {
        "name": "rl-prompts",
        "type": "prompt",
        "description": "User prompts for GRPO and rejection sampling.",
        "filter": "source = 'user'",
        "sources": [{"name": "user", "kind": "samples", "stratify_by": ["character_id"], "per_stratum": 4}],
    },
    {
        "name": "signals",
        "type": "signals",
        "description": "Every user-traffic reply with its logged outcomes, for the user-signal models.",
        "filter": "source = 'user'",
        "representatives_only": False,
        "split": PREFERENCE_SPLIT,
    },
]


@dataclass(frozen=True)
class SimLake:
    lake: Lake
    simulated: Path  # the simulator's output: traffic/, exposures.jsonl.gz, truth.jsonl.gz, simulation.json


def simulate(out: Path, conversations: int = CONVERSATIONS, seed: int = SEED, pii_share: float | None = None) -> Path:
    """The simulator's output in `out`; `pii_share=0` plants no personal data (for lakes that skip scrub)."""
    from curation.simulator import SimulationConfig, run_simulation

    share = {} if pii_share is None else {"pii_share": pii_share}  # None: the simulator's default share
    config = SimulationConfig(conversations=conversations, seed=seed, **share)
    run_simulation(config, out, workers=1, progress=False)
    return out


def stages(simulated: Path) -> list[dict]:
    """The recipe's stages for a simulator output directory."""
    return [
        {"stage": "ingest", "paths": [str(simulated / "traffic"), str(simulated / "exposures.jsonl.gz")]},
        {"stage": "scrub", "mode": "placeholder"},
        {"stage": "dedup"},
        {"stage": "release", "releases": RELEASES},
    ]


def build(root: Path, conversations: int = CONVERSATIONS, seed: int = SEED) -> SimLake:
    """Simulate into `root`/../<name>-simulated and run the recipe into the lake at `root`."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)
    simulated = simulate(root.parent / f"{root.name}-simulated", conversations, seed)
    lake = Lake(root)
    recipe = parse({"name": "simulated", "stages": stages(simulated)})
    result = runner.run(recipe, lake, Console(quiet=True))
    if result.status != "succeeded":
        raise RuntimeError(f"the simulated lake's recipe failed: {result.error}")
    return SimLake(lake, simulated)
