"""`create`: a generation's record, gathered from the lake and written to `meta/model_generations`.

A generation (`gen-16`, parent `gen-15`) is what one turn of the flywheel produced. Its record links the
traffic window and the table versions it was built from, its releases (name@version), its models (train
run ids), its offline evals (RM win rates by source and the eval's guardrail flags), its A/B experiment
and result (the latest `flywheel ab report` of the experiment unless one is named), the style-artifact
rates of its served replies next to its parent's, and the ship decision with its reasons. Traffic
`model_version` values map to a generation (by default its own name), so `conversations.model_version`
joins to `generations` through `list_contains(model_versions, ...)`.
"""

from __future__ import annotations

import datetime as dt
import re

from curation.generations.decision import decide
from lakehouse import catalog, tables
from lakehouse.errors import UserError
from lakehouse.lake import Lake
from lakehouse.style_artifacts import summarize

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
ARTIFACT_SAMPLE = 4000  # replies per model version summarised for the artifact rates (deterministic sample)


class GenerationError(UserError):
    """A generation that cannot be created or found as asked."""


def _one(con, sql: str, params: list) -> tuple | None:
    return con.execute(sql, params).fetchone()


def ab_result(con, experiment_id: str | None, report_id: str | None) -> dict | None:
    """The A/B report (latest of the experiment, or `report_id`) as {experiment_id, srm..., metrics}."""
    where, params = ("report_id = ?", [report_id]) if report_id else ("experiment_id = ?", [experiment_id])
    row = _one(
        con,
        f"SELECT report_id, experiment_id, srm_p_value, srm_failed, window_start, window_end FROM ab_experiments "
        f"WHERE {where} ORDER BY created_at DESC LIMIT 1",
        params,
    )
    if row is None:
        if report_id:
            raise GenerationError(f"no A/B report {report_id!r} in ab_experiments")
        return None
    metrics = con.execute(
        "SELECT metric, lift, ci_low, ci_high, p_value, verdict FROM ab_results WHERE report_id = ? ORDER BY metric",
        [row[0]],
    ).fetchall()
    keys = ("metric", "lift", "ci_low", "ci_high", "p_value", "verdict")
    return {
        "report_id": row[0],
        "experiment_id": row[1],
        "srm_p_value": row[2],
        "srm_failed": row[3],
        "window": (row[4], row[5]),
        "metrics": [dict(zip(keys, m, strict=True)) for m in metrics],
    }


def evals_of(con, eval_ids: list[str], model_run_ids: list[str]) -> list[dict]:
    """The named evals, plus every eval whose new model is one of the generation's train runs."""
    rows = con.execute(
        "SELECT eval_id, win_rate, win_rate_user, win_rate_internal, flags FROM evals "
        "WHERE list_contains(?, eval_id) OR list_contains(?, new_model_run_id) ORDER BY created_at",
        [eval_ids, model_run_ids],
    ).fetchall()
    found = {r[0] for r in rows}
    missing = [e for e in eval_ids if e not in found]
    if missing:
        raise GenerationError(f'unknown eval(s) {", ".join(missing)}; see `flywheel sql "SELECT eval_id FROM evals"`')
    keys = ("eval_id", "win_rate", "win_rate_user", "win_rate_internal", "flags")
    return [dict(zip(keys, r, strict=True)) for r in rows]


def artifact_rates(con, model_versions: list[str], experiment_id: str | None) -> dict[str, float]:
    """Style-artifact rates of the replies these model versions served (user traffic, inside the
    experiment when there is one): a deterministic sample of ARTIFACT_SAMPLE replies by hash."""
    filters = ["source = 'user'", "list_contains(?, model_version)"]
    params: list = [model_versions]
    if experiment_id:
        filters.append("experiment_id = ?")
        params.append(experiment_id)
    rows = con.execute(
        f"SELECT context, content FROM (SELECT turn_id, role, content, "
        f"lag(content) OVER (PARTITION BY conversation_id ORDER BY turn) AS context FROM turns "
        f"WHERE {' AND '.join(filters)}) WHERE role = 'assistant' ORDER BY hash(turn_id) LIMIT {ARTIFACT_SAMPLE}",
        params,
    ).fetchall()
    if not rows:
        return {}
    rates = summarize((context or "", response or "") for context, response in rows)
    return {**rates, "replies_sampled": float(len(rows))}


def _releases(con, refs: list[str]) -> list[str]:
    known = {f"{n}@{v}" for n, v in con.execute("SELECT name, version FROM releases").fetchall()}
    missing = [r for r in refs if r not in known]
    if missing:
        raise GenerationError(f"unknown release(s) {', '.join(missing)} (expected NAME@VERSION of `releases`)")
    return refs


def _models(con, run_ids: list[str]) -> list[str]:
    known = {r[0] for r in con.execute("SELECT run_id FROM models").fetchall()}
    missing = [r for r in run_ids if r not in known]
    if missing:
        raise GenerationError(
            f'unknown model run(s) {", ".join(missing)}; see `flywheel sql "SELECT run_id FROM models"`'
        )
    return run_ids


def create(
    lake: Lake,
    name: str,
    *,
    parent: str | None = None,
    model_versions: list[str] | None = None,
    experiment_id: str | None = None,
    ab_report_id: str | None = None,
    releases: list[str] | None = None,
    models: list[str] | None = None,
    evals: list[str] | None = None,
) -> dict:
    """Gather, decide and record a generation; returns its row."""
    import pyarrow as pa

    if not NAME.match(name):
        raise GenerationError(f"generation name {name!r}: letters, digits, '.', '_' and '-' (e.g. gen-16)")
    versions = model_versions or [name]
    con = catalog.connect(lake)
    try:
        ab = ab_result(con, experiment_id, ab_report_id) if (experiment_id or ab_report_id) else None
        experiment = ab["experiment_id"] if ab else experiment_id
        linked_evals = evals_of(con, evals or [], models or [])
        row = {
            "name": name,
            "parent": parent,
            "model_versions": versions,
            "window_start": ab["window"][0] if ab else None,
            "window_end": ab["window"][1] if ab else None,
            "table_versions": sorted(lake.versions().items()),
            "releases": _releases(con, releases or []),
            "model_run_ids": _models(con, models or []),
            "evals": linked_evals,
            "experiment_id": experiment,
            "ab_report_id": ab["report_id"] if ab else None,
            "srm_p_value": ab["srm_p_value"] if ab else None,
            "ab_metrics": ab["metrics"] if ab else [],
            "artifacts": artifact_rates(con, versions, experiment),
            "parent_artifacts": artifact_rates(con, [parent], experiment) if parent else {},
        }
    finally:
        con.close()
    decision, reasons = decide(ab, linked_evals, row["artifacts"], row["parent_artifacts"])
    row.update(
        decision=decision,
        reasons=reasons,
        created_at=dt.datetime.now(dt.UTC),
        artifacts=sorted(row["artifacts"].items()),
        parent_artifacts=sorted(row["parent_artifacts"].items()),
    )
    with lake.transaction() as tx:
        tx.write(tables.MODEL_GENERATIONS, pa.Table.from_pylist([row], schema=tables.MODEL_GENERATIONS.schema))
    catalog.refresh(lake)
    return row


def load(lake: Lake, name: str | None = None) -> list[dict]:
    """The latest record of each generation (or of `name`), oldest first."""
    con = catalog.connect(lake)
    try:
        where = "WHERE name = ?" if name else ""
        cursor = con.execute(
            f"SELECT * FROM generations {where} QUALIFY row_number() OVER (PARTITION BY name ORDER BY created_at DESC) = 1 "
            "ORDER BY created_at",
            [name] if name else [],
        )
        columns = [d[0] for d in cursor.description]
        rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    finally:
        con.close()
    if name and not rows:
        raise GenerationError(f"no generation {name!r}; `flywheel generation list` shows them")
    for row in rows:
        for key in ("artifacts", "parent_artifacts", "table_versions"):
            row[key] = dict(row[key]) if row[key] else {}
    return rows
