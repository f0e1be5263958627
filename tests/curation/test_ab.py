"""`flywheel ab report`: lifts, intervals and the SRM check over the lake's exposures and conversations.

Checked against three things the A/B code does not compute itself: the simulator's own tally of the
planted experiment (the point estimates), GrowthBook's `gbstats` engine (the intervals, from the same
aggregates) and planted failures (an A/A experiment, lost test exposures). The 20-seed coverage check
lives in benchmarks/ab_validation.py (docs/ab.md); here a few small seeds keep the suite fast.
"""

from __future__ import annotations

import json
import os

import pytest
import typer
from typer.testing import CliRunner

from curation.ab import stats
from curation.ab.analysis import analyze
from curation.ab.metrics import BUILTIN, MetricError, parse_flag, resolve
from curation.ab.query import aggregate, window
from lakehouse import catalog
from lakehouse.errors import ConfigError
from lakehouse.lake import Lake

CONVERSATIONS = 1200


def _lake(tmp_path, name: str, **config) -> tuple[Lake, dict]:
    """A simulation ingested into a lake (ingest only: the A/B analysis needs no scrubbed text)."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from curation.simulator import SimulationConfig, run_simulation

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "k" * 40)
    sim = tmp_path / f"{name}-sim"
    run_simulation(SimulationConfig(**{"conversations": CONVERSATIONS, **config}), sim, workers=1, progress=False)
    lake = Lake(tmp_path / name)
    stage = {"stage": "ingest", "paths": [str(sim / "traffic"), str(sim / "exposures.jsonl.gz")]}
    result = runner.run(parse({"name": "ab", "stages": [stage]}), lake, Console(quiet=True))
    assert result.status == "succeeded", result.error
    return lake, json.loads((sim / "simulation.json").read_text())


@pytest.fixture(scope="module")
def sim_lake(tmp_path_factory):
    return _lake(tmp_path_factory.mktemp("ab"), "lake", seed=7)


@pytest.fixture(scope="module")
def cli():
    from curation.ab.cli import register

    app = typer.Typer()
    register(app)
    runner = CliRunner()
    return lambda *args: runner.invoke(app, [str(a) for a in args])


def test_report_json_gives_lift_interval_and_p_value_per_metric_and_the_srm_p_value(sim_lake, cli, tmp_path):
    lake, simulation = sim_lake
    result = cli(
        "ab", "report", "--experiment", "exp-gen15", "--lake", lake.root, "--format", "json", "--out", tmp_path
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert 0.001 < report["srm_p_value"] <= 1 and not report["srm_failed"]
    for name in ("breadth", "depth", "thumb_down_rate", "report_rate", "regenerate_rate"):
        m = report["metrics"][name]
        assert m["ci_low"] < m["lift"] < m["ci_high"] and 0 <= m["p_value"] <= 1
    # The point estimates are the simulator's own tally of the planted experiment.
    achieved = simulation["experiment"]["achieved_lift"]
    assert report["metrics"]["breadth"]["lift"] == pytest.approx(achieved["breadth"], abs=6e-5)
    assert report["metrics"]["depth"]["lift"] == pytest.approx(achieved["depth"], abs=6e-5)
    assert report["exposed"] == {
        arm: simulation["counts"]["by_arm"][arm]["users_exposed"] for arm in ("control", "test")
    }
    assert {"report.md", "result.json", "lift.png"} <= {p.name for p in tmp_path.iterdir()}
    assert "| breadth |" in (tmp_path / "report.md").read_text()


def test_report_is_recorded_in_the_ab_experiments_and_ab_results_views(sim_lake, cli, tmp_path):
    lake, _ = sim_lake
    result = cli("ab", "report", "--experiment", "exp-gen15", "--lake", lake.root, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    assert "breadth" in result.output and "verdict" in result.output
    con = catalog.connect(lake)
    try:
        experiments = con.execute("SELECT report_id, experiment_id, srm_failed FROM ab_experiments").fetchall()
        results = con.execute(
            "SELECT metric, verdict FROM ab_results WHERE report_id = ? ORDER BY metric", [experiments[-1][0]]
        ).fetchall()
    finally:
        con.close()
    assert experiments[-1][1:] == ("exp-gen15", False)
    assert [r[0] for r in results] == sorted(BUILTIN)


def test_user_defined_sql_metric_equals_the_same_ratio_computed_directly(sim_lake, cli, tmp_path):
    lake, _ = sim_lake
    result = cli(
        "ab", "report", "--experiment", "exp-gen15", "--lake", lake.root, "--format", "json", "--out", tmp_path,
        "--metric", "love_rate=loves/replies", "--metrics", "love_rate", "--no-record",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    love = json.loads(result.output)["metrics"]["love_rate"]
    con = catalog.connect(lake)
    try:
        direct = dict(
            con.execute("""
            SELECT e.arm, sum(len(list_filter(c.messages, lambda m: coalesce(m.signals.love, false))))
                          / sum(len(list_filter(c.messages, lambda m: m.role = 'assistant')))
            FROM exposures e JOIN conversations c ON c.user_id = e.user_id AND c.started_at >= e.exposed_at
            GROUP BY 1""").fetchall()
        )
    finally:
        con.close()
    assert love["control"] == pytest.approx(direct["control"]) and love["test"] == pytest.approx(direct["test"])


def test_bad_metric_definitions_and_unknown_experiments_are_user_errors_that_name_the_problem(sim_lake):
    with pytest.raises(MetricError, match="NAME=NUMERATOR"):
        parse_flag("no equals sign")
    with pytest.raises(MetricError, match="one SQL expression"):
        parse_flag("x=1; DROP TABLE exposures")
    with pytest.raises(MetricError, match="unknown metric.*nope"):
        resolve(["breadth,nope"], [])
    assert parse_flag("ios=CASE WHEN app = 'a/b' THEN 1 ELSE 0 END/(1)").denominator == "(1)"
    lake, _ = sim_lake
    con = catalog.connect(lake)
    try:
        with pytest.raises(MetricError, match="no exposures for experiment 'exp-nope'.*exp-gen15"):
            analyze(con, "exp-nope", [BUILTIN["breadth"]])
        with pytest.raises(MetricError, match="could not be computed"):
            analyze(con, "exp-gen15", [parse_flag("bad=no_such_column")])
    finally:
        con.close()


def _gbstats(control: stats.ArmSums, test: stats.ArmSums, per_user: bool):
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import RatioStatistic, SampleMeanStatistic

    def stat(s: stats.ArmSums):
        m = SampleMeanStatistic(n=s.n, sum=s.y, sum_squares=s.y2)
        if per_user:
            return m
        d = SampleMeanStatistic(n=s.n, sum=s.x, sum_squares=s.x2)
        return RatioStatistic(n=s.n, m_statistic=m, d_statistic=d, m_d_sum_of_products=s.xy)

    return TwoSidedTTest(stat(control), stat(test), FrequentistConfig(difference_type="relative")).compute_result()


def test_lifts_and_intervals_agree_with_growthbook_gbstats_on_the_same_aggregates(sim_lake):
    lake, _ = sim_lake
    con = catalog.connect(lake)
    try:
        metrics = list(BUILTIN.values())
        agg = aggregate(con, "exp-gen15", metrics, window(con, "exp-gen15", None, None, 28))
    finally:
        con.close()
    for m in metrics:
        control, test = agg.sums[m.name]["control"], agg.sums[m.name]["test"]
        ours = stats.relative_lift(stats.ratio_estimate(control), stats.ratio_estimate(test))
        theirs = _gbstats(control, test, m.per_user)
        assert ours.lift == pytest.approx(theirs.expected, abs=1e-3), m.name
        assert ours.ci_low == pytest.approx(theirs.ci[0], abs=1e-3), m.name
        assert ours.ci_high == pytest.approx(theirs.ci[1], abs=1e-3), m.name
        assert ours.p_value == pytest.approx(theirs.p_value, abs=1e-3), m.name


def test_cuped_narrows_the_interval_and_matches_gbstats_regression_adjustment():
    import numpy as np
    from gbstats.frequentist.tests import FrequentistConfig, TwoSidedTTest
    from gbstats.models.statistics import RegressionAdjustedStatistic, SampleMeanStatistic, compute_theta

    rng = np.random.default_rng(3)

    def arm(n, effect):
        pre = rng.poisson(3, n).astype(float)
        post = rng.poisson(0.5 + 0.8 * pre * effect).astype(float)
        return stats.ArmSums(
            n, post.sum(), (post**2).sum(), n, n, post.sum(), pre.sum(), (pre**2).sum(), (post * pre).sum()
        )

    control, test = arm(4000, 1.0), arm(4000, 1.05)
    theta = stats.cuped_theta(control, test)
    adjusted = stats.relative_lift(stats.cuped_estimate(control, theta), stats.cuped_estimate(test, theta))
    raw = stats.relative_lift(stats.ratio_estimate(control), stats.ratio_estimate(test))
    assert adjusted.ci_high - adjusted.ci_low < 0.8 * (raw.ci_high - raw.ci_low)

    def ra(s):
        return RegressionAdjustedStatistic(
            n=s.n,
            post_statistic=SampleMeanStatistic(n=s.n, sum=s.y, sum_squares=s.y2),
            pre_statistic=SampleMeanStatistic(n=s.n, sum=s.p, sum_squares=s.p2),
            post_pre_sum_of_products=s.yp,
            theta=0,
        )

    a, b = ra(control), ra(test)
    a.theta = b.theta = compute_theta(a, b)
    assert theta == pytest.approx(a.theta, rel=1e-9)
    theirs = TwoSidedTTest(a, b, FrequentistConfig(difference_type="relative")).compute_result()
    assert adjusted.lift == pytest.approx(theirs.expected, abs=1e-3)
    assert [adjusted.ci_low, adjusted.ci_high] == pytest.approx(theirs.ci, abs=1e-3)


def test_srm_check_flags_lost_test_exposures_and_invalidates_every_verdict(tmp_path):
    from benchmarks.ab_validation import one

    result = one(11, CONVERSATIONS, tmp_path, drop_test_exposures=0.6)
    assert result["srm_failed"] and result["srm_p_value"] < stats.SRM_ALPHA
    assert result["warnings"][0].startswith("SAMPLE RATIO MISMATCH")
    assert {m["verdict"] for m in result["metrics"].values()} == {"invalid (SRM)"}
    simulation = json.loads((tmp_path / "sim-11-drop_test_exposures0.6" / "simulation.json").read_text())
    assert simulation["experiment"]["planted"]["dropped_test_exposures"] == 0.6


def test_aa_experiment_shows_no_significant_lift_and_passes_the_srm_check(tmp_path):
    from benchmarks.ab_validation import one

    result = one(5, CONVERSATIONS, tmp_path, aa=True)
    simulation = json.loads((tmp_path / "sim-5-aaTrue" / "simulation.json").read_text())
    assert simulation["experiment"]["arm_models"] == {"control": "gen-15", "test": "gen-15"}
    assert not result["srm_failed"]
    for m in result["metrics"].values():
        assert m["p_value"] > 0.05 and m["verdict"] == "inconclusive"


def test_small_coverage_check_the_interval_covers_the_population_lift_on_a_few_seeds(tmp_path):
    """Population lifts from the 1,000,000-conversation run (docs/simulator.md, docs/ab.md); the 20-seed
    version at the default size is benchmarks/ab_validation.py."""
    from benchmarks.ab_validation import POPULATION_LIFT, one

    for seed in (1, 2):
        result = one(seed, CONVERSATIONS, tmp_path)
        for name, population in POPULATION_LIFT.items():
            m = result["metrics"][name]
            assert m["ci_low"] <= population <= m["ci_high"], (seed, name, m)


def test_metrics_file_defines_metrics_and_a_bad_key_is_named(tmp_path):
    from curation.ab.cli import _defined

    good = tmp_path / "metrics.yaml"
    good.write_text(
        "metrics:\n  - {name: ios_share, numerator: \"CASE WHEN app = 'ios' THEN 1 ELSE 0 END\", denominator: '1'}\n"
    )
    (metric,) = _defined(None, good)
    assert metric.name == "ios_share" and not metric.per_user
    bad = tmp_path / "bad.yaml"
    bad.write_text("- {name: x, numerator: '1', nominator: '2'}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml: metric 1: nominator: unknown key"):
        _defined(None, bad)
    with pytest.raises(ConfigError, match=r"missing\.yaml: no such file"):
        _defined(None, tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("metrics: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        _defined(None, tmp_path / "broken.yaml")


def test_sums_count_users_without_conversations_as_zeros_and_leave_out_users_seen_in_two_arms():
    """Hand-made exposures and conversations, sums worked out by hand: u1 (control) has two conversations
    after exposure (2 and 1 user turns) and one before it (the CUPED covariate), u2 (control) none, u3 (test)
    one of 3 turns, u4 is in both arms and is left out with its conversation."""
    import datetime as dt

    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE exposures AS SELECT * FROM (VALUES "
        "('e', 'control', 'u1', TIMESTAMP '2026-10-02'), ('e', 'control', 'u2', TIMESTAMP '2026-10-02'), "
        "('e', 'test', 'u3', TIMESTAMP '2026-10-02'), ('e', 'test', 'u4', TIMESTAMP '2026-10-02'), "
        "('e', 'control', 'u4', TIMESTAMP '2026-10-03')) t(experiment_id, arm, user_id, exposed_at)"
    )
    turn = "{'role': '{role}', 'signals': {'thumb': 0, 'love': false, 'regenerated': false, 'reported': false}}"
    user, reply = turn.replace("{role}", "user", 1), turn.replace("{role}", "assistant", 1)

    def conversation(who: str, day: str, turns: int) -> str:
        return f"('{who}', TIMESTAMP '2026-10-{day}', [{', '.join([user, reply] * turns)}])"

    rows = [conversation("u1", "03", 2), conversation("u1", "04", 1), conversation("u1", "01", 1)]
    rows += [conversation("u3", "03", 3), conversation("u4", "04", 1)]
    con.execute(
        f"CREATE TABLE conversations AS SELECT * FROM (VALUES {', '.join(rows)}) t(user_id, started_at, messages)"
    )
    win = window(con, "e", None, dt.datetime(2026, 10, 10), pre_days=28)
    agg = aggregate(con, "e", [BUILTIN["breadth"], BUILTIN["depth"]], win)
    assert agg.exposed == {"control": 2, "test": 1} and agg.multi_arm_users == 1 and agg.has_pre_period
    # breadth: y = conversations per user (u1 2, u2 0), x = 1 per exposed user, p = pre-period conversations
    assert agg.sums["breadth"]["control"] == stats.ArmSums(2, 2, 4, 2, 2, 2, 1, 1, 2)
    # depth: y = user turns (u1 3), x = conversations (u1 2); u2 adds zeros
    assert agg.sums["depth"]["control"] == stats.ArmSums(2, 3, 9, 2, 4, 6, 0, 0, 0)
    assert agg.sums["depth"]["test"] == stats.ArmSums(1, 3, 9, 1, 1, 3, 0, 0, 0)
