"""A reward model that learned the simulator's planted preference, told apart from one that did not.

Issue 15 asks that the trained reward model beat its untrained self and the length-only rule on the same
held-out pairs with the paired bootstrap 95% interval of the gain above zero. The chain's reward model
(tests/train/test_train_chain.py) cannot show that: the session lake has 129 training and 48 held-out pairs,
where the interval is about +-0.2 wide and a 64-wide transformer memorizes the pairs (docs/signals.md). Here
the preference release comes from 12,000 simulated conversations with no planted personal data, so the
lake skips the scrub stage and costs seconds: about 920 training and 410 held-out regeneration pairs, in
which the simulator's signal model made refusals, stock openers, floods, walls of text and persona breaks
likelier to be regenerated (a feature oracle ranks about 0.73 of such pairs right; length alone about half).
"""

from __future__ import annotations

import os

import pytest
import typer
from typer.testing import CliRunner

from lakehouse.lake import Lake
from tests.helpers import sim_lake
from tests.helpers.lakes import run_recipe
from train import cli
from train.models import read_lineage

pytestmark = pytest.mark.slow
CONVERSATIONS = 12_000
STEPS = 120  # about two epochs of the training pairs at 16 pairs a step
BASELINES = ("untrained", "length_only")
RELEASE = {  # the session lake's preference release (tests/helpers/sim_lake.py), on text nobody needs to scrub
    **next(release for release in sim_lake.RELEASES if release["name"] == "preference"),
    "allow_unscrubbed": True,
    "leak_scan": "skip",
    "leak_scan_reason": "simulated traffic generated with no personal data (pii_share 0)",
}


@pytest.fixture(scope="module")
def reward_run(tmp_path_factory) -> dict:
    """The lineage metrics of `flywheel train reward --model tiny` on the 12,000-conversation release."""
    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)
    work = tmp_path_factory.mktemp("reward-honest")
    simulated = sim_lake.simulate(work / "simulated", CONVERSATIONS, sim_lake.SEED, pii_share=0)
    lake = Lake(work / "lake")
    stages = [{"stage": "ingest", "paths": [str(simulated / "traffic")]}, {"stage": "release", "releases": [RELEASE]}]
    assert run_recipe(lake, stages).status == "succeeded"
    app = typer.Typer()
    cli.register(app)
    args = ["train", "reward", "--release", "preference@1", "--model", "tiny", "--out", str(work / "reward")]
    args += ["--lake", str(lake.root), "--max-steps", str(STEPS), "--lr", "1e-3", "--seed", "42"]
    result = CliRunner().invoke(app, [*args, "--set", "pairwise.enabled=false"])
    assert result.exit_code == 0, result.output
    return read_lineage(work / "reward")["metrics"]


def test_the_held_out_set_is_large_enough_to_tell_a_gain_of_a_few_points(reward_run):
    assert reward_run["heldout_pairs"] >= 300


@pytest.mark.parametrize("baseline", BASELINES)
def test_the_trained_reward_model_beats_the_baseline_with_the_interval_of_its_gain_above_zero(reward_run, baseline):
    gain = reward_run[f"heldout_gain_vs_{baseline}"]
    assert reward_run[f"heldout_gain_vs_{baseline}_ci_low"] > 0, (gain, reward_run)
    assert gain == pytest.approx(reward_run["heldout_accuracy"] - reward_run[f"heldout_{baseline}_accuracy"])


def test_neither_baseline_ranks_the_pairs_better_than_a_coin_by_more_than_noise(reward_run):
    # The untrained model and length alone know nothing of refusals or persona breaks: what the trained
    # model gained is what it learned, not what a baseline already had.
    for baseline in BASELINES:
        assert abs(reward_run[f"heldout_{baseline}_accuracy"] - 0.5) < 0.1
