"""Validation of `flywheel ab report`'s intervals against the simulator (docs/ab.md), 20 seeds each:

- coverage: the 95% CI of breadth and depth covers the population lift (POPULATION_LIFT, from the
  1,000,000-conversation run of docs/simulator.md) in at least 18 of 20 seeds at the default size;
- A/A (`aa=True`: gen-15 in both arms, no activity multiplier): significant at 5% in at most 2 of 20;
- SRM (`drop_test_exposures`): flagged (p < 0.001) in every seed.

The same `analyze` as the command runs on DuckDB views over the simulator's files (the lake's ingest only
pseudonymises the ids, which the analysis never looks at), so 60 simulations fit in minutes.

    python -m benchmarks.ab_validation [--seeds 20] [--conversations 5000] [--drop 0.3]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

# Population lifts: relative lift of the metric (not of the activity weights) in the 1,000,000-conversation
# simulation, seed 7 (benchmarks/bench_simulator.py, docs/simulator.md). Breadth's planted activity
# multiplier is 1.05; the metric (conversations per EXPOSED user) rises less, since more active users are
# also more often exposed, so the estimand is the metric's own population value.
POPULATION_LIFT = {"breadth": 0.0346, "depth": 0.0849}
PLANTED_MULTIPLIER = 0.05

CONVERSATION_COLUMNS = (
    "{'user_id': 'VARCHAR', 'started_at': 'TIMESTAMPTZ', "
    "'experiment': 'STRUCT(experiment_id VARCHAR, arm VARCHAR)', "
    "'messages': 'STRUCT(role VARCHAR, signals STRUCT(thumb INTEGER, love BOOLEAN, regenerated BOOLEAN, "
    "reported BOOLEAN))[]'}"
)


def connect(sim: Path):
    """An in-memory DuckDB with `exposures` and `conversations` views over one simulation's files."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        f"CREATE VIEW exposures AS SELECT experiment_id, arm, user_id, exposed_at::TIMESTAMPTZ AS exposed_at "
        f"FROM read_json('{sim}/exposures.jsonl.gz', columns = {{'experiment_id': 'VARCHAR', 'arm': 'VARCHAR', "
        f"'user_id': 'VARCHAR', 'exposed_at': 'VARCHAR'}})"
    )
    con.execute(
        f"CREATE VIEW conversations AS SELECT * FROM read_json('{sim}/traffic/*.jsonl.gz', "
        f"columns = {CONVERSATION_COLUMNS}, format = 'newline_delimited')"
    )
    return con


def one(seed: int, conversations: int, work: Path, **config) -> dict:
    from curation.ab.analysis import analyze
    from curation.ab.metrics import BUILTIN
    from curation.simulator import SimulationConfig, run_simulation

    sim = work / f"sim-{seed}-{'-'.join(f'{k}{v}' for k, v in config.items()) or 'ab'}"
    run_simulation(SimulationConfig(conversations=conversations, seed=seed, **config), sim, workers=1, progress=False)
    con = connect(sim)
    try:
        return analyze(con, "exp-gen15", [BUILTIN["breadth"], BUILTIN["depth"]])
    finally:
        con.close()


def run(seeds: int, conversations: int, drop: float, work: Path) -> dict:
    covered = dict.fromkeys(POPULATION_LIFT, 0)
    covered_multiplier, aa_significant, srm_flagged, widths = 0, 0, 0, {name: [] for name in POPULATION_LIFT}
    for seed in range(1, seeds + 1):
        ab = one(seed, conversations, work)
        for name, population in POPULATION_LIFT.items():
            m = ab["metrics"][name]
            covered[name] += m["ci_low"] <= population <= m["ci_high"]
            widths[name].append(m["ci_high"] - m["ci_low"])
        b = ab["metrics"]["breadth"]
        covered_multiplier += b["ci_low"] <= PLANTED_MULTIPLIER <= b["ci_high"]
        aa = one(seed, conversations, work, aa=True)
        aa_significant += any(m["p_value"] < 0.05 for m in aa["metrics"].values())
        srm = one(seed, conversations, work, drop_test_exposures=drop)
        srm_flagged += srm["srm_failed"]
        print(
            f"seed {seed}: breadth {b['lift']:+.3f} [{b['ci_low']:+.3f}, {b['ci_high']:+.3f}], depth "
            f"{ab['metrics']['depth']['lift']:+.3f} [{ab['metrics']['depth']['ci_low']:+.3f}, "
            f"{ab['metrics']['depth']['ci_high']:+.3f}]; A/A p {[round(m['p_value'], 3) for m in aa['metrics'].values()]}; "
            f"SRM p {srm['srm_p_value']:.2g}",
            flush=True,
        )
    return {
        "seeds": seeds,
        "conversations": conversations,
        "covered": covered,
        "covered_planted_multiplier_breadth": covered_multiplier,
        "mean_ci_width": {name: sum(w) / len(w) for name, w in widths.items()},
        "aa_significant_at_5pct": aa_significant,
        "srm_drop": drop,
        "srm_flagged": srm_flagged,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--conversations", type=int, default=5000)
    parser.add_argument("--drop", type=float, default=0.3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ab-validation-") as work:
        summary = run(args.seeds, args.conversations, args.drop, Path(work))
    print(json.dumps(summary, indent=2))
    ok = (
        min(summary["covered"].values()) >= summary["seeds"] - 2
        and summary["aa_significant_at_5pct"] <= 2
        and summary["srm_flagged"] == summary["seeds"]
    )
    print("PASS" if ok else "FAIL")


if __name__ == "__main__":
    main()
