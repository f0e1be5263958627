"""Outputs of an A/B report: a terminal table, report.md, result.json, lift.png and the lake's rows
(`ab_experiments`, `ab_results`), so a result is found again by SQL and by a generation record."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from lakehouse import tables
from lakehouse.lake import Lake


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.2%}"


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"


def _p(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3g}"


def rows(result: dict) -> list[list[str]]:
    """One table row per metric: name, control, test, lift, 95% CI, p-value, CUPED, verdict."""
    out = []
    for m in result["metrics"].values():
        ci = f"[{_pct(m['ci_low'])}, {_pct(m['ci_high'])}]"
        name = m["metric"] + (" (guardrail)" if m["guardrail"] else "")
        out.append(
            [
                name,
                _num(m["control"]),
                _num(m["test"]),
                _pct(m["lift"]),
                ci,
                _p(m["p_value"]),
                "yes" if m["cuped"] else "no",
                m["verdict"],
            ]
        )
    return out


HEADER = ["metric", "control", "test", "lift", "95% CI", "p", "CUPED", "verdict"]


def print_table(result: dict, console) -> None:
    from rich.table import Table

    exposed = result["exposed"]
    table = Table(
        title=f"{result['experiment_id']}: {result['test']} vs {result['control']} "
        f"({exposed[result['control']]:,} / {exposed[result['test']]:,} users, SRM p = {_p(result['srm_p_value'])})"
    )
    for column in HEADER:
        table.add_column(column, justify="left" if column in ("metric", "verdict", "95% CI") else "right")
    for row in rows(result):
        table.add_row(*row)
    console.print(table)
    for warning in result["warnings"]:
        style = "bold red" if warning.startswith("SAMPLE RATIO") else "yellow"
        console.print(f"[{style}]warning:[/{style}] {warning}")


def markdown(result: dict, chart: str | None) -> str:
    exposed = result["exposed"]
    lines = [
        f"# A/B report: {result['experiment_id']}",
        "",
        f"{result['test']} vs {result['control']}; window {result['window']['start']} to {result['window']['end']}; "
        f"exposed users {exposed[result['control']]:,} ({result['control']}) / {exposed[result['test']]:,} "
        f"({result['test']}); sample-ratio check p = {_p(result['srm_p_value'])}.",
        "",
    ]
    for warning in result["warnings"]:
        lines += [f"> **Warning:** {warning}", ""]
    lines += ["| " + " | ".join(HEADER) + " |", "|---|" + "---:|" * (len(HEADER) - 2) + "---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows(result)]
    lines += [
        "",
        "Lift is relative (test / control - 1) with a 95% interval: mean metrics per exposed user, ratio metrics "
        "by the delta method clustered by user (Welch t, as GrowthBook's gbstats). Verdicts: `better`/`worse` "
        "when the interval excludes zero, `inconclusive` otherwise, `invalid (SRM)` when the sample-ratio "
        "check fails (p < 0.001).",
    ]
    if chart:
        lines += ["", f"![lifts]({chart})"]
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> bool:
    """Lifts with their intervals, one row per metric; False when matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return False
    import matplotlib.ticker
    from matplotlib.figure import Figure  # not pyplot: no backend machinery, a second less to import

    metrics = [m for m in result["metrics"].values() if m["lift"] is not None]
    fig = Figure(figsize=(6, 0.5 + 0.45 * max(len(metrics), 1)), dpi=110)
    ax = fig.subplots()
    for y, m in enumerate(metrics):
        color = {"better": "#1a9850", "worse": "#d73027", "guardrail violated": "#d73027"}.get(m["verdict"], "#555")
        low, high = m["ci_low"] if m["ci_low"] is not None else m["lift"], m["ci_high"] or m["lift"]
        ax.errorbar(m["lift"], y, xerr=[[m["lift"] - low], [high - m["lift"]]], fmt="o", color=color, capsize=4)
    ax.axvline(0, color="grey", linestyle=":", linewidth=1)
    ax.set_yticks(range(len(metrics)), [m["metric"] for m in metrics])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.set_xlabel(f"relative lift, {result['test']} vs {result['control']} (95% CI)")
    ax.set_title(result["experiment_id"] + (" - SRM FAILED" if result["srm_failed"] else ""))
    fig.tight_layout()
    fig.savefig(path)
    return True


def write_files(result: dict, out: Path) -> dict[str, str]:
    """report.md, result.json and lift.png (when matplotlib is there) under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    chart = "lift.png" if plot(result, out / "lift.png") else None
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "report.md").write_text(markdown(result, chart))
    files = {"markdown": str(out / "report.md"), "json": str(out / "result.json")}
    if chart:
        files["chart"] = str(out / chart)
    return files


def record(lake: Lake, result: dict, report_id: str, report_path: str) -> None:
    """One `ab_experiments` row and one `ab_results` row per metric, in one transaction."""
    import pyarrow as pa

    now = dt.datetime.now(dt.UTC)
    experiment = {
        "report_id": report_id,
        "experiment_id": result["experiment_id"],
        "control": result["control"],
        "test": result["test"],
        "window_start": dt.datetime.fromisoformat(result["window"]["start"]),
        "window_end": dt.datetime.fromisoformat(result["window"]["end"]),
        "exposed_control": result["exposed"][result["control"]],
        "exposed_test": result["exposed"][result["test"]],
        "expected_split": result["expected_split"],
        "srm_p_value": result["srm_p_value"],
        "srm_failed": result["srm_failed"],
        "warnings": result["warnings"],
        "report_path": report_path,
        "created_at": now,
    }
    metric_rows = [
        {
            "report_id": report_id,
            "experiment_id": result["experiment_id"],
            "metric": m["metric"],
            "kind": m["kind"],
            "direction": m["direction"],
            "guardrail": m["guardrail"],
            "control_value": m["control"],
            "test_value": m["test"],
            "lift": m["lift"],
            "ci_low": m["ci_low"],
            "ci_high": m["ci_high"],
            "p_value": m["p_value"],
            "cuped": m["cuped"],
            "verdict": m["verdict"],
            "created_at": now,
        }
        for m in result["metrics"].values()
    ]
    with lake.transaction() as tx:
        tx.write(tables.AB_EXPERIMENTS, pa.Table.from_pylist([experiment], schema=tables.AB_EXPERIMENTS.schema))
        tx.write(tables.AB_RESULTS, pa.Table.from_pylist(metric_rows, schema=tables.AB_RESULTS.schema))
