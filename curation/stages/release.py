"""Stage `release`: build every release of the recipe (curation.releases; docs/releases.md).

Frozen evaluation sets are built first (and only once: an existing one is reused), so every training
release of the run is checked against them. A refused release (unscrubbed text, a leak-scan hit, no rows
left) does not stop the others, but the stage fails at the end and names each refusal; a frozen
evaluation set that cannot be built stops the stage at once, since nothing could be checked against it.
"""

from __future__ import annotations

from curation.pipeline.context import StageContext, StageFailed
from curation.pipeline.details import ReleaseDetails
from curation.releases.config import ReleaseStageConfig as Config
from curation.releases.job import BuildError
from lakehouse.runs import StageStats, code_version

__all__ = ["Config", "REQUIRES", "run"]
# The libraries `run` imports that a minimal install may lack: (import name, pip package).
REQUIRES: tuple[tuple[str, str], ...] = (("datasketch", "datasketch"),)


def run(ctx: StageContext, config: Config, stats: StageStats) -> None:
    """`ctx.options`: `only` (release names to build) and `refreeze` (rebuild frozen evaluation sets)."""
    from curation.releases.build import build
    from curation.releases.inputs import open_inputs

    only, refreeze = ctx.options.get("only"), bool(ctx.options.get("refreeze"))
    entries = [e for e in config.releases if not only or e.name in only]
    unknown = sorted(set(only or []) - {e.name for e in config.releases})
    if unknown:
        raise StageFailed(
            f"no release named {', '.join(unknown)} in the recipe "
            f"(it has: {', '.join(e.name for e in config.releases)})"
        )
    entries.sort(key=lambda e: not e.frozen_eval)  # stable: frozen evaluation sets first
    version = code_version()
    scrub = ctx.recipe.config("scrub") if ctx.recipe is not None else None  # the gate scans as the scrub found
    scan_options = {"scrub": scrub.model_dump(mode="json", exclude_unset=True)} if scrub is not None else None
    refused: list[str] = []
    built: dict[str, dict] = {}
    inputs = open_inputs(ctx.lake)
    try:
        for entry in entries:
            try:
                result = build(
                    ctx.lake, entry, inputs=inputs, refreeze=refreeze, code_version=version, scan_options=scan_options
                )
            except BuildError as exc:
                if entry.frozen_eval:
                    raise StageFailed(str(exc)) from None
                refused.append(str(exc))
                ctx.console.print(f"[red]refused[/red] {exc}", markup=True, highlight=False)
                continue
            stats.rows_in += result.rows_in
            stats.rows_out += result.rows_out
            for reason, n in result.dropped.items():
                stats.drop(f"{entry.name}:{reason}", n)
            built[entry.name] = {
                "status": result.status,
                "release": result.published.ref,
                "rows_in": result.rows_in,
                "rows_out": result.rows_out,
                "timings": result.timings,
                **result.details,
            }
            if result.status == "reused":
                ctx.console.print(f"{result.published.ref}: {result.details['note']}", highlight=False)
            else:
                ctx.console.print(f"[green]{result.status}[/green] {result.published.ref} ({result.rows_out:,} rows)")
    finally:
        inputs.close()
    details: ReleaseDetails = {"releases": built, "refused": refused}
    stats.details = dict(details)
    if refused:
        raise StageFailed(f"{len(refused)} release(s) refused:\n" + "\n".join(refused))
