"""Crash recovery (issue 13, item 6): `flywheel curate` killed with SIGKILL at a stage, then run again,
publishes releases with the same content hashes as a run that was never killed, every release verifies,
and between the kill and the rerun the lake stays readable (`flywheel sql` works).

The kill is real (SIGKILL, no cleanup) and lands at a known point through lakehouse.lake.fault_point:
`FLYWHEEL_FAULT_KILL_AT=<stage>` as the stage starts, `<stage>@commit` inside the stage's first commit,
after its intent record and first Delta commit, the half-done commit the next writer rolls forward. The
recipe is the stages of configs/curate.yaml that feed releases but embed, cluster and sample (MiniLM and
k-means would cost each of the runs below a minute; tests/curation/test_cluster_sample.py covers them), over 80
simulated conversations. Each case runs two `flywheel curate` processes (each loads spaCy), so two
representative cases run by default and the rest are marked slow."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from lakehouse.lake import FAULT_ENV, TXLOG, Lake
from tests.curation.test_releases_reproducible import RELEASES, hashes
from tests.helpers import cli, sim_lake

CONVERSATIONS = 80
FAST = {"scrub@commit", "release@publish"}
POINTS = [
    "ingest@commit",
    "erase",
    "scrub",
    "scrub@commit",
    "dedup@commit",
    "safety@commit",
    "release",
    "release@publish",
]


def recipe(simulated: Path) -> dict:
    return {
        "name": "crash",
        "stages": [
            {"stage": "ingest", "paths": [str(simulated / "traffic"), str(simulated / "exposures.jsonl.gz")]},
            {"stage": "erase"},
            {"stage": "scrub", "mode": "placeholder"},
            {"stage": "dedup"},
            {
                "stage": "safety",
                "classifiers": [{"type": "profanity", "threshold": 0.5}],
                "roles": ["user", "assistant"],
            },
            {"stage": "release", "releases": RELEASES},
        ],
    }


def flywheel(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`flywheel ARGS...` in a fresh process with the pseudonymization key set (ingest needs one)."""
    return cli.flywheel(*args, env={**os.environ, "FLYWHEEL_HMAC_KEY": "k" * 40, **(env or {})})


def curate(recipe_path: Path, lake: Path, kill_at: str | None = None) -> subprocess.CompletedProcess:
    return flywheel("curate", str(recipe_path), "--lake", str(lake), env={FAULT_ENV: kill_at} if kill_at else None)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    """The recipe file and the release hashes of a run that was never killed."""
    root = tmp_path_factory.mktemp("crash")
    simulated = sim_lake.simulate(root / "sim", conversations=CONVERSATIONS)
    recipe_path = root / "recipe.yaml"
    recipe_path.write_text(json.dumps(recipe(simulated)))  # JSON is YAML
    done = curate(recipe_path, root / "clean")
    assert done.returncode == 0, done.stdout + done.stderr
    reference = hashes(Lake(root / "clean"))
    assert len(reference) == len(RELEASES)
    return recipe_path, reference


@pytest.mark.parametrize("point", [p if p in FAST else pytest.param(p, marks=pytest.mark.slow) for p in POINTS])
def test_a_curate_run_killed_at_a_stage_and_rerun_publishes_the_clean_runs_release_hashes(clean, point, tmp_path):
    recipe_path, reference = clean
    lake = tmp_path / "lake"

    killed = curate(recipe_path, lake, kill_at=point)
    assert killed.returncode == -signal.SIGKILL, f"the kill at {point} never fired:\n{killed.stdout}{killed.stderr}"

    if point.endswith("@commit"):  # the kill left a half-done commit for the rerun to roll forward
        assert list((lake / TXLOG).glob("*.json")), "no intent record left behind"
    readable = flywheel(
        "sql", "SELECT count(*) AS n FROM information_schema.tables", "--lake", str(lake), "--format", "csv"
    )
    assert readable.returncode == 0, readable.stdout + readable.stderr

    rerun = curate(recipe_path, lake)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    verified = flywheel("releases", "verify", "--lake", str(lake))
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert hashes(Lake(lake)) == reference
