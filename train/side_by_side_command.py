"""`flywheel eval side-by-side`: build a blind human side-by-side queue of two models, or (`--report`) read
its labels back as the human win rate next to the reward model's (train/side_by_side.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from lakehouse.cli_options import LakeOption
from lakehouse.errors import UserError
from train.cli import command_run


def _local_root(lake) -> Path:
    """The label store is SQLite: it needs a local lake directory."""
    if not isinstance(lake.root, Path):
        raise UserError(f"the label store needs a local lake directory, not {lake.root} (docs/scale.md)")
    return lake.root


def side_by_side(
    old: Annotated[
        str | None,
        typer.Option("--old", metavar="MODEL", help="The production model (a local directory or a --pool name)."),
    ] = None,
    new: Annotated[
        str | None, typer.Option("--new", metavar="MODEL", help="The candidate model (directory or pool name).")
    ] = None,
    prompts: Annotated[
        str | None, typer.Option("--prompts", metavar="NAME@V", help="NAME[@VERSION] of the frozen evaluation prompts.")
    ] = None,
    pool: Annotated[
        Path | None, typer.Option("--pool", metavar="POOL.yaml", help="--old/--new may name its served models.")
    ] = None,
    queue: Annotated[
        str | None, typer.Option("--queue", metavar="NAME", help="The queue (default: a digest; annotators see it).")
    ] = None,
    per_item: Annotated[int, typer.Option("--per-item", min=1, metavar="N", help="Annotators per prompt.")] = 2,
    config: Annotated[
        Path | None, typer.Option("--config", metavar="FILE", help="Sampling: configs/train/eval.yaml or another.")
    ] = None,
    max_new_tokens: Annotated[
        int | None, typer.Option("--max-new-tokens", min=1, metavar="N", help="Tokens per reply.")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, metavar="N", help="Only the first N prompts.")] = None,
    report: Annotated[
        bool, typer.Option("--report", help="Report the labels of --queue instead of building one.")
    ] = False,
    rm: Annotated[
        str | None,
        typer.Option("--rm", metavar="PATH", help="A reward model directory: its win rate on the same replies."),
    ] = None,
    format: Annotated[Literal["table", "json"], typer.Option("--format", help="How the report is printed.")] = "table",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIR", help="Where report.md and report.json go (default lake/reports/side-by-side/QUEUE)."
        ),
    ] = None,
    lake: LakeOption = None,
) -> None:
    """Human side-by-side of --old and --new on eval prompts: a blinded, side-shuffled pairwise queue; with
    --report, the human win rate (95% Wilson CI) by traffic source next to the reward model's."""
    if report:
        _report(queue, rm, format, out, lake, {"old": old, "new": new, "prompts": prompts, "pool": pool})
        return
    missing = [flag for flag, value in (("--old", old), ("--new", new), ("--prompts", prompts)) if not value]
    if missing:
        raise UserError(f"building a side-by-side queue needs {', '.join(missing)} (or --report --queue NAME)")
    for flag, value in (("--rm", rm), ("--out", out)):
        if value is not None:
            raise UserError(f"{flag} is for --report")
    from train import config as config_module

    settings = config_module.load("eval", config, {"max_new_tokens": max_new_tokens})
    recipe = {"old": old, "new": new, "prompts": prompts, "pool": str(pool) if pool else None, "limit": limit}
    with command_run("eval side-by-side", lake, {**recipe, **settings.model_dump(mode="json")}) as (the_lake, _, stats):
        from lakehouse.serving import load_pool
        from train import side_by_side as sbs

        created = sbs.create(
            the_lake,
            _local_root(the_lake),
            str(old),
            str(new),
            str(prompts),
            settings,
            pool=load_pool(pool) if pool else None,
            queue=queue,
            per_item=per_item,
            limit=limit,
            log=typer.echo,
        )
        stats.rows_out = created.items
        for reason, rows in created.skipped.items():
            stats.drop(reason, rows)
        left_out = ", ".join(f"{k}={v}" for k, v in sorted(created.skipped.items()))
        typer.echo(
            f"queue {created.queue!r}: {created.items} blinded pairwise items, {per_item} labels each; "
            f"{created.identical} identical replies counted as ties" + (f"; left out {left_out}" if left_out else "")
        )
        typer.echo(f"report: flywheel eval side-by-side --report --queue {created.queue}")


def _report(queue: str | None, rm: str | None, format: str, out: Path | None, lake, build_flags: dict) -> None:
    given = [f"--{k}" for k, v in build_flags.items() if v is not None]
    if given:
        raise UserError(f"{', '.join(given)} build a queue; --report reads one (give only --queue)")
    if not queue:
        raise UserError("--report needs --queue NAME")
    with command_run("eval side-by-side", lake, {"report": queue, "rm": rm}) as (the_lake, _, stats):
        from train import side_by_side as sbs

        log = typer.echo if format == "table" else (lambda _: None)
        result = sbs.report(the_lake, _local_root(the_lake), queue, reward_model=rm, log=log)
        path = sbs.write(result, out or the_lake.root / "reports" / "side-by-side" / queue)
        stats.rows_in = stats.rows_out = result.human[0].items
        if format == "json":
            typer.echo(json.dumps({**result.as_json(), "report": str(path)}, indent=2, sort_keys=True))
            return
        typer.echo(sbs.text_table(result))
        typer.echo(f"reward model column: {result.rm.origin if result.rm else 'none (--rm PATH)'}")
        for code, text in result.flags():
            typer.echo(f"FLAG {code}: {text}")
        typer.echo(f"items without a label yet: {result.unlabeled}")
        typer.echo(f"report: {path}")
