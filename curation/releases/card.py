"""A release's dataset card (README.md), built with huggingface_hub's DatasetCard from what was built.

Every statement in the card is measured on the release itself, never copied from the recipe's wishes: the
composition by source is the manifest's mixture as taken (a preference release described as "regenerations,
hh-rlhf pairs and consensus labels" that holds only regenerations says 100% regenerations), the languages
are those detected in its user messages, the placeholder share is counted in its rows. The card is not part
of the content hash (the manifest is): rewording a card never makes a release a new version.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from lakehouse.releases import SPLITS

PLACEHOLDER = re.compile(r"<[A-Z][A-Z_]*_\d+>")
# What each TRL type's columns mean (the metadata columns every release carries follow).
COLUMNS = {
    "sft": {"messages": "the conversation up to and including the reply to learn (TRL conversational)"},
    "preference": {
        "prompt": "the conversation before the reply (system prompt included)",
        "chosen": "the preferred reply",
        "rejected": "the reply it beat",
    },
    "unpaired": {
        "prompt": "the conversation before the reply",
        "completion": "one reply",
        "label": "true: desirable (thumbs up), false: undesirable (thumbs down or report)",
    },
    "prompt": {"prompt": "the conversation up to a user message, for generation or evaluation"},
}
METADATA = {
    "sample_id": "the turn sample (`<conversation_id>:<turn>`) the row was made from",
    "source": "user or internal (staff) traffic",
    "conversation_id": "the conversation in the lake",
    "turn": "the reply's position in its conversation",
    "topic_cluster": "topic cluster of the last user message (-1: none)",
    "dedup_cluster": "near-duplicate cluster; splits keep a cluster together",
    "model_version": "the model that wrote the reply",
    "character_id": "the character the user talked to",
    "origin": "which source of the recipe the row came from",
    "chosen_sample_id": "the sample of the chosen reply",
    "rejected_sample_id": "the sample of the rejected reply",
    "depth": "user turns so far",
    "stratum": "the stratum the row was drawn for",
}
TASKS = {
    "sft": "text-generation",
    "preference": "text-generation",
    "unpaired": "text-generation",
    "prompt": "text-generation",
}
# The text a row trains on (where a scrub placeholder replacing ordinary words does the most harm).
TARGETS = {"sft": "messages", "preference": "chosen", "unpaired": "completion"}


def size_category(rows: int) -> str:
    """The Hub's size_categories bucket."""
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if rows < limit:
            return label
    return "1M<n<10M" if rows < 10_000_000 else "n>10M"


def _texts(value) -> list[str]:
    """Every message content in a cell: a list of messages, one message, or a string."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [value.get("content") or ""]
    return [t for item in value for t in _texts(item)]


def _user_texts(value) -> list[str]:
    if isinstance(value, list):
        return [m.get("content") or "" for m in value if isinstance(m, dict) and m.get("role") == "user"]
    return []


def measure(directory: Path, trl_type: str) -> dict:
    """Counts over the release's rows: languages of the user messages, rows with a placeholder anywhere,
    rows whose training target has one, and the columns present."""
    from curation.scrub.languages import detect_language

    languages: Counter[str] = Counter()
    rows, with_placeholder, target_placeholder = 0, 0, 0
    columns: list[str] = []
    target = TARGETS.get(trl_type)
    for path in sorted((directory / "data").glob("*.parquet")):
        table = pq.read_table(path)
        columns = columns or table.schema.names
        text_columns = [
            c for c in ("messages", "prompt", "chosen", "rejected", "completion") if c in table.schema.names
        ]
        for row in table.select(text_columns).to_pylist():
            rows += 1
            texts = [t for c in text_columns for t in _texts(row[c])]
            with_placeholder += any(PLACEHOLDER.search(t) for t in texts)
            if target and target in row:
                replies = row[target] if target != "messages" else (row[target] or [])[-1:]
                target_placeholder += any(PLACEHOLDER.search(t) for t in _texts(replies))
            users = [t for c in ("messages", "prompt") if c in row for t in _user_texts(row[c])]
            languages[detect_language(users) or "unknown"] += 1
    return {
        "rows": rows,
        "languages": dict(languages.most_common()),
        "placeholder_rows": with_placeholder,
        "placeholder_targets": target_placeholder if target else None,
        "columns": columns,
    }


def _composition(manifest: dict) -> list[tuple[str, str, int]]:
    """(source, kind, rows taken) as built, from the manifest's mixture (or its origin strata)."""
    mixture = manifest.get("mixture") or []
    if mixture:
        return [(m["source"], m.get("kind") or "", int(m.get("taken") or 0)) for m in mixture]
    origin = (manifest.get("strata") or {}).get("origin") or {}
    return [(name, "", int(count)) for name, count in sorted(origin.items())]


def _flagged_artifacts(manifest: dict) -> list[str]:
    """One line per flagged style feature: both sides compared, the change and the threshold it crossed."""
    report = manifest.get("artifacts") or {}
    compared = report.get("compared") or []
    lines = []
    for feature in report.get("features") or []:
        if not feature.get("flagged"):
            continue
        sides = ", ".join(
            f"{side} {feature[side]:.3g}" for side in compared if isinstance(feature.get(side), int | float)
        )
        lines.append(
            f"{feature.get('description') or feature.get('feature')}: {sides} "
            f"(change {feature.get('change', 0):+.3g}, flagged at {feature.get('threshold')})"
        )
    return lines


def build_card(
    manifest: dict, directory: Path, version: int, description: str, license: str | None, facts: dict | None = None
) -> str:
    """The README.md of a release: Hub metadata (license, languages, tags, size, task, configs) and a body
    that states the release's composition, columns, artifacts, placeholders, eval disjointness and lineage."""
    from huggingface_hub import DatasetCard, DatasetCardData

    name, trl_type = manifest["name"], manifest["type"]
    splits = manifest.get("splits") or {}
    facts = facts if facts is not None else measure(directory, trl_type)
    languages = sorted(lang for lang in facts["languages"] if lang != "unknown") or None
    config_name = f"{name}-v{version or 0}-{manifest['content_hash'][:12]}"
    data = DatasetCardData(
        license=license or "other",
        language=languages,
        tags=["trl", trl_type],
        size_categories=[size_category(facts["rows"])],
        task_categories=[TASKS.get(trl_type, "text-generation")],
        pretty_name=f"{name} v{version or 0}",
        configs=[
            {
                "config_name": config_name,
                "default": True,
                "data_files": [{"split": s, "path": f"data/{s}-*.parquet"} for s in SPLITS if splits.get(s)],
            }
        ],
    )
    body = _body(manifest, version, description, facts)
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def _composition_section(manifest: dict) -> str:
    composition = _composition(manifest)
    total = sum(n for _, _, n in composition)
    lines = [f"| {source} | {kind} | {n:,} | {n / total:.1%} |" for source, kind, n in composition if n]
    text = "## Composition (as built)\n\n"
    text += "| source | kind | rows | share |\n|---|---|---:|---:|\n" + "\n".join(lines) if lines else "No rows."
    empty = [source for source, _, n in composition if not n]
    if empty:
        text += f"\n\nSources of the recipe that contributed no row to this build: {', '.join(empty)}."
    return text


def _body(manifest: dict, version: int, description: str, facts: dict) -> str:
    name, trl_type, rows = manifest["name"], manifest["type"], facts["rows"]
    share = lambda n: f"{n / rows:.1%}" if rows else "n/a"  # noqa: E731
    parts = [f"# {name} v{version or 0}", description or "", f"TRL dataset type: `{trl_type}`."]
    splits = manifest.get("splits") or {}
    parts.append("| split | rows |\n|---|---:|\n" + "\n".join(f"| {s} | {splits.get(s, 0):,} |" for s in SPLITS))
    parts.append(_composition_section(manifest))
    column_docs = {**COLUMNS.get(trl_type, {}), **METADATA}
    parts.append(
        "## Columns\n\n| column | meaning |\n|---|---|\n"
        + "\n".join(f"| `{c}` | {column_docs.get(c, '')} |" for c in facts["columns"])
    )
    languages = ", ".join(f"{lang} {n:,}" for lang, n in facts["languages"].items()) or "none detected"
    parts.append(f"## Languages\n\nRows by the language of their user messages: {languages}.")
    placeholder = (
        f"## Personal data\n\nScrubbed text: personal data was replaced by typed placeholders (`<PERSON_1>`). "
        f"{facts['placeholder_rows']:,} of {rows:,} rows ({share(facts['placeholder_rows'])}) carry a placeholder"
    )
    if facts["placeholder_targets"] is not None:
        placeholder += (
            f"; {facts['placeholder_targets']:,} ({share(facts['placeholder_targets'])}) in the text trained on "
            "(a false positive there replaced ordinary words: worth a look before training)"
        )
    parts.append(placeholder + ".")
    artifacts = _flagged_artifacts(manifest)
    parts.append(
        "## Style artifacts flagged\n\n" + ("\n".join(f"- {a}" for a in artifacts) if artifacts else "None flagged.")
    )
    eval_sets = (manifest.get("leakage") or {}).get("eval_sets") or []
    if manifest.get("frozen_eval"):
        disjoint = "This is a frozen evaluation set: training releases are kept disjoint from it."
    elif eval_sets:
        disjoint = (
            "Disjoint from the frozen evaluation set(s) "
            + ", ".join(f"`{e['ref']}` (content hash `{e['content_hash'][:12]}`)" for e in eval_sets)
            + f": {(manifest.get('leakage') or {}).get('removed', 0):,} rows that would leak them were removed."
        )
    else:
        disjoint = "No frozen evaluation set was checked against this release."
    parts.append("## Evaluation\n\n" + disjoint)
    parts.append(
        f"## Lineage\n\nContent hash `{manifest['content_hash']}` (data and recipe; `flywheel releases verify`), "
        f"recipe hash `{manifest.get('recipe_hash', '')}`, code `{manifest.get('code_version', '')}`. "
        "`manifest.json` lists every input table version and file sha256. Load it with "
        '`datasets.load_dataset("<this directory>")`.'
    )
    return "\n\n".join(p for p in parts if p) + "\n"
