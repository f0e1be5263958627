"""`flywheel ab report`: an experiment's result from the lake's exposures and conversations."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from typing import Annotated

import typer

from lakehouse.config import read_yaml, validate_model
from lakehouse.errors import ConfigError

app = typer.Typer(help="A/B analysis of experiments from the lake's exposures and conversations.", no_args_is_help=True)

FORMATS = ("table", "json")


def _time(value: str | None, flag: str) -> dt.datetime | None:
    from curation.ab.metrics import MetricError

    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise MetricError(
            f"{flag} {value!r} is not an ISO date or time (e.g. 2026-10-05 or 2026-10-05T12:00Z)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _defined(flags: list[str] | None, metrics_file: Path | None) -> list:
    """User metrics from `--metric` flags and a YAML file (a list of Metric fields, or {metrics: [...]})."""
    from curation.ab.metrics import Metric, parse_flag

    defined = [parse_flag(text) for text in flags or []]
    if metrics_file is not None:
        data = read_yaml(metrics_file) or []
        items = data.get("metrics", []) if isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ConfigError(f"{metrics_file}: expected a list of metrics (or `metrics:` with one)")
        for i, item in enumerate(items):
            defined.append(validate_model(Metric, item, f"{metrics_file}: metric {i + 1}"))
    return defined


@app.command("report")
def report(
    experiment: Annotated[str, typer.Option("--experiment", help="Experiment id in `exposures` (e.g. exp-gen15).")],
    metrics: Annotated[
        list[str] | None,
        typer.Option("--metrics", help="Metrics to report, comma-separated (default: all built in and defined)."),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Define a metric in SQL: NAME=NUMERATOR[/DENOMINATOR][:decrease], e.g. love_rate=loves/replies.",
        ),
    ] = None,
    metrics_file: Annotated[
        Path | None, typer.Option("--metrics-file", help="YAML list of metrics (name, numerator, denominator, ...).")
    ] = None,
    format: Annotated[str, typer.Option("--format", help="table or json (the result on stdout).")] = "table",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for report.md, result.json, lift.png (default: under the lake)."),
    ] = None,
    control: Annotated[str, typer.Option(help="Control arm name.")] = "control",
    test: Annotated[str, typer.Option(help="Test arm name.")] = "test",
    split: Annotated[float, typer.Option(min=0.0, max=1.0, help="Planned share of users in the test arm.")] = 0.5,
    start: Annotated[str | None, typer.Option(help="Window start (default: the first exposure).")] = None,
    end: Annotated[
        str | None, typer.Option(help="Window end, exclusive (default: after the last conversation).")
    ] = None,
    pre_days: Annotated[int, typer.Option(min=0, help="Days before the window for the CUPED covariate.")] = 28,
    memory_limit: Annotated[str, typer.Option(help="DuckDB memory limit (spills to disk beyond it).")] = "2GB",
    record: Annotated[bool, typer.Option(help="Record the result in ab_experiments / ab_results.")] = True,
    lake: Annotated[
        Path | None, typer.Option("--lake", help="Lake directory (default: $FLYWHEEL_LAKE or ./lake).")
    ] = None,
) -> None:
    """Breadth, depth, guardrails and SQL metrics of an experiment: lifts with 95% CIs, SRM check, verdicts."""
    from curation.ab.metrics import MetricError, resolve

    if format not in FORMATS:
        raise MetricError(f"--format {format!r}: expected one of {', '.join(FORMATS)}")
    selected = resolve(metrics, _defined(metric, metrics_file))
    result, report_id, files = run_report(
        lake,
        experiment,
        selected,
        control=control,
        test=test,
        split=split,
        start=_time(start, "--start"),
        end=_time(end, "--end"),
        pre_days=pre_days,
        out=out,
        memory_limit=memory_limit,
        record=record,
    )
    if format == "json":
        typer.echo(json.dumps({**result, "report_id": report_id, "files": files}, indent=2))
        return
    from rich.console import Console

    from curation.ab.report import print_table

    console = Console()
    if not console.is_terminal:
        console = Console(width=150)  # piped or captured: do not wrap the table at 80 columns
    print_table(result, console)
    console.print(
        f"report: {files['markdown']}  json: {files['json']}"
        + (f"  chart: {files['chart']}" if "chart" in files else "")
    )


def run_report(
    lake_path,
    experiment: str,
    metrics: list,
    *,
    out: Path | None = None,
    memory_limit: str = "2GB",
    record: bool = True,
    **settings,
):
    """Analyze, write the files and record the rows; returns (result, report_id, files)."""
    import tempfile

    from curation.ab.analysis import Settings, analyze
    from curation.ab.report import record as record_rows
    from curation.ab.report import write_files
    from lakehouse import catalog
    from lakehouse.lake import Lake

    lake = Lake(lake_path)
    con = catalog.connect(lake)
    try:
        with tempfile.TemporaryDirectory(prefix="flywheel-ab-") as spill:
            con.execute(f"SET memory_limit = '{memory_limit}'")
            con.execute(f"SET temp_directory = '{spill}'")
            con.execute("SET enable_progress_bar = false")
            result = analyze(con, experiment, metrics, Settings(expected_split=settings.pop("split", 0.5), **settings))
    finally:
        con.close()
    report_id = f"ab-{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    target = out or lake.root / "reports" / "ab" / experiment / report_id
    files = write_files(result, Path(target))
    if record:
        record_rows(lake, result, report_id, files["markdown"])
        catalog.refresh(lake)
    return result, report_id, files


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="ab")
