"""`flywheel simulate`, `ingest`, `curate`, `keygen`, `erase`, `releases ...`, `eval scrub|dedup` and the other
curation commands.

Each command imports its stage inside the function body: the heavy libraries a stage needs are loaded
only when that stage runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from lakehouse import cli_options
from lakehouse.cli_options import LakeOption, open_existing_lake
from lakehouse.errors import CheckFailed, ConfigError, FlywheelError, InputError

NEXT_STEPS = """Next (`flywheel` is in .venv/bin: activate the environment once per terminal):
  source .venv/bin/activate
  make sql                                    interactive SQL over the lake (or: flywheel sql)
  flywheel sql "SELECT source, count(*) FROM conversations GROUP BY 1"
  flywheel sql "SELECT reason, count(*) FROM quarantine GROUP BY 1"
  flywheel sql "SELECT * FROM run_stages ORDER BY started_at DESC LIMIT 10\""""


def _console():
    from rich.console import Console

    return Console(stderr=False)


def simulate(
    conversations: Annotated[int, typer.Option("--num-conversations", min=1, help="Conversations to generate.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives byte-identical files.")] = 7,
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("data/simulated"),
    days: Annotated[int, typer.Option(min=1, help="Days of traffic, ending on --end-date.")] = 28,
    end_date: Annotated[str, typer.Option(help="Last day of traffic (YYYY-MM-DD).")] = "2026-11-01",
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    aa: Annotated[bool, typer.Option("--aa", help="A/A experiment: both arms served gen-15, no planted lift.")] = False,
    drop_test_exposures: Annotated[
        float, typer.Option(help="Share of test users whose exposure is lost: a planted sample-ratio mismatch.")
    ] = 0.0,
    generations: Annotated[
        int,
        typer.Option(
            "--generations",
            min=0,
            help="Simulate N successive generations (exp-gen16.., one per --days window) under OUT/gen-NN.",
        ),
    ] = 0,
    num_bad_records: Annotated[
        int,
        typer.Option(min=0, help="Malformed records to plant (ingest quarantines them; `make curate` plants 12)."),
    ] = 0,
) -> None:
    """Generate synthetic chat traffic in the native format, with exposures and a ground-truth sidecar."""
    from curation.simulator import SimulationConfig, run_simulation
    from lakehouse.config import validate_model

    options = {
        "conversations": conversations,
        "seed": seed,
        "days": days,
        "end_date": end_date,
        "aa": aa,
        "drop_test_exposures": drop_test_exposures,
        "bad_records": num_bad_records,
    }
    config = validate_model(SimulationConfig, options, "flywheel simulate")
    if generations:
        from curation.simulator.writer import run_generations

        try:
            summaries = run_generations(config, out, generations, workers=workers)
        except ValueError as exc:
            raise InputError(str(exc)) from None
        typer.echo("\n".join(summaries))
        return
    summary = run_simulation(config, out, workers=workers)
    typer.echo(summary)


def _run_and_report(recipe, lake_path: str | Path | None, command: str, next_steps: str | None) -> None:
    from curation.pipeline import runner
    from curation.pipeline.context import StageFailed
    from lakehouse.lake import Lake

    console = _console()
    lake = Lake(lake_path)
    record = runner.run(recipe, lake, console, command=command)
    console.print(runner.summary_table(record))
    if record.status != "succeeded":
        raise StageFailed(record.error)
    console.print(f"lake: {lake.root}   catalog: {lake.catalog_path}")
    if next_steps:
        console.print(next_steps, markup=False, highlight=False)


def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or directories (read recursively).")],
    format: Annotated[
        Literal["auto", "native", "openai", "sharegpt", "hh", "persona-chat", "exposures"],
        typer.Option("--format", help="Input format (auto: detected per file)."),
    ] = "auto",
    source: Annotated[
        Literal["user", "internal"], typer.Option(help="Traffic source for formats that do not carry one.")
    ] = "internal",
    started_at: Annotated[
        str | None, typer.Option(help="started_at for formats without timestamps (default: the ingest time).")
    ] = None,
    lake: LakeOption = None,
    drop_user_ids: Annotated[
        bool, typer.Option("--drop-user-ids", help="Drop user ids instead of pseudonymizing them.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Validate every record first; if any would be quarantined, write nothing and exit non-zero.",
        ),
    ] = False,
) -> None:
    """Ingest traffic logs into the lake; rejected records go to quarantine with a reason."""
    from curation.pipeline.recipe import parse

    missing = [str(p) for p in paths if not p.exists()]
    if missing:  # before any run is recorded: a typo is not a failed ingest
        raise InputError(f"no such file or directory: {', '.join(missing)}")
    stage = {
        "stage": "ingest",
        "paths": [str(p) for p in paths],
        "format": format,
        "source": source,
        "started_at": started_at,
        "drop_user_ids": drop_user_ids,
        "strict": strict,
    }
    recipe = parse({"name": "ingest", "stages": [stage]}, "flywheel ingest")
    _run_and_report(recipe, lake, "ingest", None)


def curate(
    recipe_path: Annotated[Path, typer.Argument(help="Recipe YAML.")] = Path("configs/curate.yaml"),
    lake: LakeOption = None,
) -> None:
    """Run a curation recipe end to end and print a summary per stage."""
    from curation.pipeline.recipe import load

    _run_and_report(load(recipe_path), lake, "curate", NEXT_STEPS)


def keygen(
    key_file: Annotated[
        Path | None, typer.Option(help="Where to write it (default $FLYWHEEL_HMAC_KEY_FILE or .flywheel/hmac.key).")
    ] = None,
) -> None:
    """Create the user-id pseudonymization key file if it does not exist (keep it outside the lake)."""
    from curation.ingest import pseudonymize

    path = key_file or pseudonymize.key_file_path()
    existed = path.exists()
    pseudonymize.create_key_file(path)
    if existed:
        typer.echo(f"pseudonymization key: {path} (existing)")
    else:
        typer.echo(
            f"created pseudonymization key {path}: keep it outside the lake and back it up; "
            "a different key gives different user ids"
        )


releases_app = cli_options.app(help="Versioned training releases: build, list, show, diff, verify, rebuild, push.")


def _open_release(lake: str | Path | None, ref: str):
    from lakehouse.releases import resolve

    return resolve(open_existing_lake(lake), ref)


@releases_app.command("build")
def releases_build(
    recipe_path: Annotated[Path, typer.Argument(help="Recipe with a `release` stage.")] = Path("configs/curate.yaml"),
    only: Annotated[list[str] | None, typer.Option("--only", help="Build only this release (repeatable).")] = None,
    refreeze: Annotated[
        bool, typer.Option("--refreeze", help="Build a new version of frozen evaluation sets.")
    ] = False,
    lake: LakeOption = None,
) -> None:
    """Run only the recipe's `release` stage (the other stages' tables must already be in the lake)."""
    from curation.pipeline import runner
    from curation.pipeline.context import StageFailed
    from curation.pipeline.recipe import load
    from lakehouse.lake import Lake

    recipe = load(recipe_path)
    if recipe.config("release") is None:
        raise ConfigError(f"{recipe_path} has no `release` stage")
    console = _console()
    the_lake = Lake(lake)
    record = runner.run(
        recipe,
        the_lake,
        console,
        command="releases build",
        only=["release"],
        options={"only": only or None, "refreeze": refreeze},
    )
    console.print(runner.summary_table(record))
    if record.status != "succeeded":
        raise StageFailed(record.error)


@releases_app.command("list")
def releases_list(
    lake: LakeOption = None,
    format: Annotated[str, typer.Option("--format", help="table, json or csv.")] = "table",
) -> None:
    """Every published release and version."""
    from curation.releases.inspect import list_rows, print_rows
    from lakehouse.releases import list_releases

    rows = list_rows(list_releases(open_existing_lake(lake)))
    if not rows and format == "table":
        typer.echo("no releases yet (flywheel releases build configs/curate.yaml)")
        return
    print_rows(rows, format, _console())


@releases_app.command("show")
def releases_show(
    ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION.")],
    lake: LakeOption = None,
    format: Annotated[
        str, typer.Option("--format", help="table (the summary) or json (the whole manifest).")
    ] = "table",
) -> None:
    """Counts, splits, drops by reason, mixture, leakage and the style-artifact report of a release."""
    import json

    from curation.releases.inspect import show_lines

    if format not in ("table", "json"):
        raise typer.BadParameter(f"must be table or json, not {format!r}", param_hint="--format")
    release = _open_release(lake, ref)
    if format == "json":
        typer.echo(json.dumps(release.manifest, indent=2, sort_keys=True))
        return
    typer.echo("\n".join(show_lines(release)))


@releases_app.command("diff")
def releases_diff(
    a: Annotated[str, typer.Argument(help="NAME@VERSION (the old one).")],
    b: Annotated[str, typer.Argument(help="NAME@VERSION (the new one).")],
    lake: LakeOption = None,
    all_values: Annotated[bool, typer.Option("--all", help="Every value of every stratum, not the top 10.")] = False,
) -> None:
    """Rows added and removed, and the shift of every stratum's share, between two releases."""
    from curation.releases.inspect import diff, diff_lines

    result = diff(_open_release(lake, a), _open_release(lake, b))
    typer.echo("\n".join(diff_lines(result, strata_top=10**9 if all_values else 10)))


@releases_app.command("verify")
def releases_verify(
    refs: Annotated[list[str] | None, typer.Argument(help="NAME[@VERSION]... (default: every release).")] = None,
    lake: LakeOption = None,
) -> None:
    """Recompute every file hash, row count and content hash; exit 1 if any release does not match."""
    from lakehouse.releases import list_releases, verify

    releases = [_open_release(lake, r) for r in refs] if refs else list_releases(open_existing_lake(lake))
    failed = 0
    for release in releases:
        problems = verify(release)
        failed += bool(problems)
        typer.echo(f"{release.ref}: " + ("ok" if not problems else "FAILED: " + "; ".join(problems)))
    if failed:
        raise CheckFailed(f"{failed} of {len(releases)} releases do not match their manifests")


@releases_app.command("rebuild")
def releases_rebuild(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION of the release to make again.")],
    lake: LakeOption = None,
) -> None:
    """Build a release again from the table versions its manifest records (Delta time travel), publish
    nothing, and check that the content hash matches; exit 1 if it does not."""
    from curation.releases.build import BuildError, build
    from curation.releases.config import ReleaseEntry
    from curation.releases.inputs import open_inputs

    release = _open_release(lake, ref)
    manifest = release.manifest
    parents = manifest.get("parents") or {}
    recorded = parents.get("tables") or {}
    pinned = parents.get("catalog_versions") or recorded
    if "catalog_versions" not in parents or not all(isinstance(v, int) or v is None for v in recorded.values()):
        raise InputError(f"{release.ref} was made before releases recorded table versions; it cannot be rebuilt")
    the_lake = open_existing_lake(lake)
    inputs = open_inputs(the_lake, versions=pinned)
    try:
        built = build(the_lake, ReleaseEntry.model_validate(manifest["recipe"]), inputs=inputs, publish=False)
    except BuildError as exc:
        raise CheckFailed(f"error: {release.ref} could not be rebuilt: {exc}") from None
    finally:
        inputs.close()
    again = built.details["manifest"]["content_hash"]
    tables_at = ", ".join(f"{t}@v{v}" for t, v in sorted(recorded.items()) if v is not None)
    if again != manifest["content_hash"]:
        raise CheckFailed(
            f"{release.ref}: MISMATCH: rebuilt from {tables_at} gives content hash {again}, "
            f"the manifest says {manifest['content_hash']}"
        )
    typer.echo(f"{release.ref}: ok, rebuilt from {tables_at}: content hash {again} matches")


RecipeOption = Annotated[
    Path | None,
    typer.Option(
        "--recipe",
        help="Recipe YAML; its `scrub` section configures detection (default: built-in).",
        show_default=False,
    ),
]


def _scrub_config(recipe: Path | None, **overrides):
    """The recipe's scrub config (or the defaults) with the command's options over it; errors name the key."""
    from curation.scrub.config import ScrubConfig, load_recipe_scrub
    from lakehouse.config import validate_model

    config = load_recipe_scrub(recipe) if recipe else ScrubConfig()
    updates = {k: v for k, v in overrides.items() if v is not None}
    return validate_model(ScrubConfig, {**config.model_dump(), **updates}, "scrub options") if updates else config


def scrub(
    in_path: Annotated[
        Path, typer.Option("--in", help='Input JSONL: {"id", "text"} per line.', exists=True, dir_okay=False)
    ],
    out_path: Annotated[Path, typer.Option("--out", help="Output JSONL: id, scrubbed text, entities.")],
    recipe: RecipeOption = None,
    mode: Annotated[
        Literal["placeholder", "surrogate"] | None,
        typer.Option(help="Typed placeholders or surrogates (overrides the recipe).", show_default=False),
    ] = None,
) -> None:
    """Remove personal data from texts; entities are reported with offsets into the input text."""
    from curation.scrub.jsonl import scrub_jsonl

    typer.echo(scrub_jsonl(in_path, out_path, _scrub_config(recipe, mode=mode)))


def scan_leaks(
    paths: Annotated[list[Path], typer.Argument(help="Parquet files or directories (a release, a table).")],
    recipe: RecipeOption = None,
    entities: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated entity types (default: the recipe's "
            "scan_entities: structured identifiers and ID numbers).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Scan every string column for high-risk identifiers (the scan that gates every release publish);
    exit 1 and list the rows if any is found: types and rows only, never a value."""
    from curation.scrub.leak_gate import scan_paths

    wanted = [e.strip() for e in entities.split(",") if e.strip()] if entities else None
    config = _scrub_config(recipe, scan_entities=wanted)
    from lakehouse.progress import spinner

    try:
        with spinner(f"scan-leaks: {len(paths)} path(s)"):
            report = scan_paths(paths, config)
    except FlywheelError:
        raise
    except FileNotFoundError as err:
        raise InputError(str(err)) from None
    except Exception as err:  # a file that is not Parquet, a corrupt footer: name it, exit 2
        raise InputError(f"cannot scan: {type(err).__name__}: {err}") from None
    for row_id, types in report.by_row().items():
        typer.echo(f"LEAK {row_id}: {', '.join(types)}")
    if not report.clean:
        raise CheckFailed(report.summary())
    typer.echo(report.summary())


def scrub_eval(
    messages: Annotated[
        int, typer.Option("--num-messages", min=100, help="Generated labeled messages (the template set).")
    ] = 1200,
    seed: Annotated[int, typer.Option(help="Seed of the template set.")] = 13,
    recipe: RecipeOption = None,
    real: Annotated[
        int, typer.Option("--num-real", min=0, help="Real messages from ../shared/data as hard negatives.")
    ] = 1000,
    simulate: Annotated[
        int,
        typer.Option(
            "--num-simulated",
            min=0,
            help="Conversations to simulate and add, labeled by the simulator's "
            "truth sidecar (0: the template set alone).",
        ),
    ] = 1000,
    simulate_seed: Annotated[int, typer.Option(help="Seed of the simulation.")] = 7,
    simulated: Annotated[
        Path | None,
        typer.Option(
            file_okay=False,
            help="Add this `flywheel simulate` output folder instead of simulating.",
            show_default=False,
        ),
    ] = None,
    examples: Annotated[
        int, typer.Option("--num-examples", min=0, help="Print this many missed and false-positive spans.")
    ] = 0,
    labeled: Annotated[
        Path | None,
        typer.Option(
            dir_okay=False,
            help="Score this labeled JSONL instead "
            "(lines {id, text, spans: [{type, start, end}]}, e.g. the shared "
            "dev set): its own targets, no templates or simulation.",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option(min=1, help="With --labeled: score only the first N texts.", show_default=False)
    ] = None,
) -> None:
    """Precision and recall of the scrubber per entity type on a labeled set (templates + simulated
    conversations, or --labeled FILE from outside the project); exit 1 if a target is missed."""
    from curation.scrub import evalset
    from curation.scrub.evaluation import evaluate, evaluate_labeled
    from curation.scrub.labeled import load_labeled

    config = _scrub_config(recipe)
    shared = evalset.shared_data_dir()
    negatives = (
        evalset.real_messages(shared / evalset.HH_FILE, shared / evalset.PERSONA_CHAT_FILE, limit=real) if real else []
    )
    from lakehouse.progress import spinner

    try:
        with spinner("eval scrub") as phase:
            if labeled is not None:
                phase.note(f"scoring {labeled.name}")
                report = evaluate_labeled(load_labeled(labeled, limit), config, negatives, keep_examples=examples)
            else:
                phase.note("building the labeled set")
                conversations = evalset.generate(messages, seed)
                if simulated is not None:
                    conversations += evalset.load_simulation(simulated)
                elif simulate:
                    conversations += evalset.simulate(simulate, simulate_seed)
                phase.note(f"scrubbing {len(conversations):,} conversations")
                report = evaluate(conversations, config, negatives, keep_examples=examples)
    except FileNotFoundError as err:
        raise InputError(str(err)) from None
    typer.echo(report.table())
    rows_by_kind = (
        ("MISSED", report.misses),
        ("FALSE POSITIVE", report.false_positives),
        ("LEFT VERBATIM", report.verbatim_examples),
    )
    for kind, rows in rows_by_kind:
        for entity_type, value, text in rows:
            typer.echo(f"{kind} {entity_type}: {value!r} in {text[:160]!r}")
    removed = [e for policy in config.tiers.values() if policy.action != "keep" for e in policy.entities]
    failures = report.failures(removed)
    if failures:
        raise CheckFailed("\n".join(f"TARGET MISSED: {failure}" for failure in failures))


def dedup(
    in_path: Annotated[
        Path,
        typer.Option(
            "--in", exists=True, dir_okay=False, help='JSONL (optionally .gz), lines {"id", "text"[, "started_at"]}.'
        ),
    ],
    out: Annotated[
        Path, typer.Option("--out", dir_okay=False, help='Output JSONL: {"id", "cluster", "representative"}.')
    ],
    threshold: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Jaccard threshold: sets the LSH "
            "bands and decides pairs of texts over edit_words words; shorter "
            "pairs must be within max_edit_rate word edits (default from "
            "--config, else the measured defaults).",
        ),
    ] = None,
    config: Annotated[Path | None, typer.Option(exists=True, dir_okay=False, help="YAML of dedup settings.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Processes computing signatures.")] = None,
) -> None:
    """Cluster exact and near-duplicate texts; every line gets its cluster (the representative's id)."""
    from curation.dedup.config import DedupConfig, load_config
    from curation.dedup.jsonl import dedup_jsonl
    from lakehouse.config import validate_model

    settings = load_config(config) if config else DedupConfig()
    overrides = {k: v for k, v in {"threshold": threshold, "workers": workers}.items() if v is not None}
    settings = validate_model(DedupConfig, {**settings.model_dump(), **overrides}, "dedup options")
    stats = dedup_jsonl(in_path, out, settings)
    details = stats.details
    lsh = f"bands={details['bands']} rows={details['rows']} " if "bands" in details else ""
    typer.echo(
        f"{stats.summary()}; clusters with copies={details['multi_row_clusters']:,}, "
        f"{lsh}threshold={settings.threshold} max_edit_rate={settings.max_edit_rate} "
        f"edit_words={settings.edit_words}",
        err=True,
    )


def dedup_eval(
    data: Annotated[Path, typer.Option(help="Folder with the shared real data (see tests/conftest.py).")] = Path(
        "../shared/data"
    ),
    seed: Annotated[int, typer.Option(help="Seed of the edited copies (the defaults were chosen on seed 1).")] = 2,
    sweep: Annotated[bool, typer.Option("--sweep", help="Also run the sweeps that chose the defaults.")] = False,
    simulated: Annotated[
        Path | None, typer.Option(help="Simulator output folder (conversations + truth.jsonl.gz).")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the Markdown tables here.")] = None,
) -> None:
    """Dedup pair precision and recall through `flywheel dedup`'s code path (docs/dedup.md)."""
    from curation.dedup.config import DedupConfig
    from curation.dedup.evaluation import SWEEPS, evaluate, real_corpora, simulated_corpora, sweep_configs, table

    corpora = real_corpora(data, seed)
    if simulated is not None:
        corpora.update(simulated_corpora(simulated))
    sections = [("defaults", table(evaluate(corpora, [DedupConfig()]), ["threshold", "word_ngram"]))]
    if sweep:
        for title, grid in SWEEPS:
            sections.append((title, table(evaluate(corpora, sweep_configs(grid)), list(grid))))
    text = "\n\n".join(f"### {title} (seed {seed})\n\n{body}" for title, body in sections)
    typer.echo(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")


def similar(
    text: Annotated[str, typer.Argument(help="The text to look for.")],
    k: Annotated[int, typer.Option("--num-results", min=1, help="How many turn samples to print.")] = 10,
    lake: LakeOption = None,
    model: Annotated[
        str | None,
        typer.Option(help="Embedding model (default: the one the lake's embeddings use).", show_default=False),
    ] = None,
) -> None:
    """The turn samples whose last user message is nearest to TEXT (cosine similarity of embeddings)."""
    from rich.console import JustifyMethod
    from rich.table import Table

    from curation.embed.similar import similar_samples
    from lakehouse.progress import spinner

    with spinner("similar: loading the embedding model and searching"):
        hits = similar_samples(open_existing_lake(lake), text, k=k, model=model)
    table = Table(title=f"nearest to {text!r}", title_justify="left")
    columns: tuple[tuple[str, JustifyMethod], ...] = (
        ("sample_id", "left"),
        ("similarity", "right"),
        ("samples", "right"),
        ("last user message", "left"),
        ("response", "left"),
    )
    for column, justify in columns:
        table.add_column(column, justify=justify, overflow="fold")
    for hit in hits.to_pylist():
        table.add_row(
            hit["sample_id"],
            f"{hit['score']:.3f}",
            f"{hit['samples']:,}",
            _clip(hit["last_user"]),
            _clip(hit["response"]),
        )
    _console().print(table)


def _clip(text: str | None, limit: int = 160) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def register(app: typer.Typer) -> None:
    from lakehouse.cli import group

    for command in (simulate, ingest, curate, keygen, scrub, dedup, similar):
        app.command()(command)
    app.command("scan-leaks")(scan_leaks)
    group(app, "eval").command("scrub")(scrub_eval)
    group(app, "eval").command("dedup")(dedup_eval)
    from curation.erase_command import erase

    app.command()(erase)
    app.add_typer(releases_app, name="releases")
    from curation.ab.cli import register as register_ab

    register_ab(app)
    from curation.generations.cli import register as register_generations

    register_generations(app)
    from curation.releases.push_command import push

    releases_app.command("push")(push)
