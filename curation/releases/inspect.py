"""What `flywheel releases list|show|diff` print: summaries of manifests and comparisons of two releases.

`diff` reads both releases' files with DuckDB: rows are matched by `sample_id`, a row present in both
with different content counts as changed, and every stratum column (the recipe source, traffic source,
model version, character, topic cluster, split, and the label of unpaired rows) gets its share in each
release and the change in percentage points.
"""

from __future__ import annotations

from curation.releases.artifacts_report import describe as describe_artifacts
from curation.releases.manifest import CuratedManifest
from curation.releases.rows import quote
from lakehouse.errors import UserError
from lakehouse.releases import SPLITS, Release

PAYLOAD = {
    "sft": ("messages",),
    "preference": ("prompt", "chosen", "rejected"),
    "unpaired": ("prompt", "completion", "label"),
    "prompt": ("prompt",),
    "signals": ("prompt", "completion"),
}
STRATA = ("origin", "source", "model_version", "character_id", "topic_cluster", "split", "label")


def list_rows(releases: list[Release]) -> list[dict]:
    rows = []
    for release in releases:
        m = CuratedManifest.model_validate(release.manifest)
        rows.append(
            {
                "release": release.ref,
                "type": m.type,
                **{s: m.splits.get(s, 0) for s in SPLITS},
                "frozen_eval": m.frozen_eval,
                "content_hash": m.content_hash[:12],
                "created_at": m.created_at[:19],
            }
        )
    return rows


def print_rows(rows: list[dict], format: str, console) -> None:
    """`releases list` output: json (a list of objects), csv (a header line), or a table narrow enough for
    an 80-column terminal that never cuts a value (hash shortened to 8 characters, the date without time;
    json and csv carry them whole)."""
    import csv
    import json
    import sys

    if format == "json":
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    if format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["release"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    widest = {c: max(len(str(r[c])) for r in rows) for c in ("release", "type")}
    for column in ("release", "type", *SPLITS, "eval", "hash", "created"):
        table.add_column(
            column,
            justify="right" if column in SPLITS else "left",
            min_width=widest.get(column),
            no_wrap=column in widest,
            overflow="fold",  # the others wrap onto a second line rather than lose characters
        )
    for row in rows:
        table.add_row(
            row["release"],
            row["type"],
            *(f"{row[s]:,}" for s in SPLITS),
            "yes" if row["frozen_eval"] else "",
            row["content_hash"][:8],
            row["created_at"][:10],
        )
    console.print(table)


def show_lines(release: Release, strata_top: int = 5) -> list[str]:
    m = CuratedManifest.model_validate(release.manifest)
    lines = [
        f"{release.ref}  ({m.type}{', frozen evaluation set' if m.frozen_eval else ''})",
        f"  path          {release.path}",
        f"  created_at    {m.created_at}   code {m.code_version or '-'}",
        f"  content hash  {m.content_hash}",
        f"  recipe hash   {m.recipe_hash}",
        f"  text layer    {m.text_layer or '-'}",
        "  parents       " + ", ".join(f"{t}={sid}" for t, sid in m.parents.get("tables", {}).items()),
    ]
    for ref, info in (m.parents.get("releases") or {}).items():
        lines.append(f"                {ref} ({info.get('role', 'source')}, {info['content_hash'][:12]})")
    total = sum(m.splits.values())
    lines.append(f"  rows          {total:,}  (" + ", ".join(f"{s} {m.splits.get(s, 0):,}" for s in SPLITS) + ")")
    split = m.split
    lines.append(
        f"  split         {m.split_method}"
        + (f"; {split.get('groups', 0):,} groups, largest {split.get('largest_group', 0):,} rows" if split else "")
    )
    lines.append(f"  candidates    {m.rows_in:,}" if m.rows_in is not None else "  candidates    -")
    lines.append("  dropped       " + (", ".join(f"{r}: {n:,}" for r, n in sorted(m.dropped.items())) or "none"))
    for entry in m.mixture:
        lines.append(
            f"  source {entry['source']:<18} {entry['kind']:<16} candidates {entry['candidates']:>9,}  "
            f"available {entry['available']:>9,}  taken {entry['taken']:>9,}"
            + (f"  cap {entry['cap']:,}" if entry.get("cap") else "")
            + (f"  ratio {entry['ratio']:g}" if entry.get("ratio") else "")
            + (f"  per stratum {entry['per_stratum']:,}" if entry.get("per_stratum") else "")
        )
    leakage = m.leakage
    if leakage.get("eval_sets"):
        sets = ", ".join(s["ref"] for s in leakage["eval_sets"])
        lines.append(
            f"  eval leakage  vs {sets}: removed {leakage.get('removed', 0):,} (same conversation "
            f"{leakage.get('same_conversation', 0):,}, exact prompt {leakage.get('exact_prompt', 0):,}, "
            f"near-duplicate {leakage.get('near_duplicate', 0):,} at Jaccard >= {leakage['threshold']})"
        )
    elif leakage.get("eval_sets") == []:
        lines.append("  eval leakage  no frozen evaluation set to check against")
    pairs = m.pair_filters
    if pairs:
        lines.append(
            f"  pair filters  max length ratio {pairs['max_length_ratio']}, max emoji difference "
            f"{pairs['max_emoji_diff']}: dropped {pairs['length_ratio']:,} + {pairs['emoji_diff']:,}"
        )
    scan = m.leak_scan
    if scan is not None and scan.mode == "skip":
        lines.append(f"  leak scan     SKIPPED by {scan.requested_by}: {scan.reason}")
    elif scan is not None:
        scanners = ", ".join(s.name for s in scan.scanners) or scan.scanner or "?"
        lines.append(f"  leak scan     {scan.texts:,} texts, {scan.hits} hits ({scanners})")
    for origin, agreement in (m.label_agreement or {}).items():
        lines.append(
            f"  labels        {origin}: {agreement['items']:,} items, mean agreement "
            f"{agreement['mean_agreement']:.2f}, min {agreement['min_agreement']:.2f}"
        )
    for column, counts in m.strata.items():
        top = sorted(counts.items(), key=lambda kv: -kv[1])[:strata_top]
        lines.append(f"  by {column:<12} " + ", ".join(f"{v} {n / max(total, 1):.1%}" for v, n in top))
    if m.artifacts:
        lines.extend("  " + line for line in describe_artifacts(m.artifacts))
    lines.extend(f"  note          {note}" for note in m.notes)
    return lines


def _register(con, alias: str, release: Release) -> list[str]:
    files = "[" + ", ".join(quote(str(f)) for f in release.data_files()) + "]"
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {alias} AS
                    SELECT *, regexp_extract(filename, '(train|validation|test)-[0-9]+\\.parquet$', 1) AS split
                    FROM read_parquet({files}, filename = true, union_by_name = true)""")
    return [r[0] for r in con.execute(f"DESCRIBE {alias}").fetchall()]


def diff(a: Release, b: Release) -> dict:
    """Rows added, removed, changed and moved between splits; the shift of every stratum's share. Only
    releases of one type have the same rows to compare (an sft row is not a preference pair)."""
    import duckdb

    if a.manifest["type"] != b.manifest["type"]:
        raise UserError(
            f"cannot diff {a.ref} ({a.manifest['type']}) with {b.ref} ({b.manifest['type']}): "
            "a diff compares two releases of the same type"
        )

    con = duckdb.connect()
    try:
        columns_a, columns_b = _register(con, "rel_a", a), _register(con, "rel_b", b)
        payload = [c for c in PAYLOAD[a.manifest["type"]] if c in columns_a and c in columns_b]
        content = "md5(" + " || chr(30) || ".join(f"coalesce({c}::VARCHAR, '')" for c in payload) + ")"
        counts = con.execute(f"""
            WITH ka AS (SELECT sample_id, split, {content} AS h FROM rel_a),
                 kb AS (SELECT sample_id, split, {content} AS h FROM rel_b)
            SELECT count(*) FILTER (WHERE ka.sample_id IS NULL), count(*) FILTER (WHERE kb.sample_id IS NULL),
                   count(*) FILTER (WHERE ka.sample_id IS NOT NULL AND kb.sample_id IS NOT NULL AND ka.h <> kb.h),
                   count(*) FILTER (WHERE ka.sample_id IS NOT NULL AND kb.sample_id IS NOT NULL AND ka.split <> kb.split),
                   count(*) FILTER (WHERE ka.sample_id IS NOT NULL AND kb.sample_id IS NOT NULL)
            FROM ka FULL OUTER JOIN kb USING (sample_id)""").fetchall()[0]
        added, removed, changed, moved, common = counts
        strata = {}
        for column in STRATA:
            if column not in columns_a or column not in columns_b:
                continue
            share = "count(*) / sum(count(*)) OVER () AS share"
            rows = con.execute(f"""
                WITH sa AS (SELECT {column}::VARCHAR AS v, {share} FROM rel_a GROUP BY 1),
                     sb AS (SELECT {column}::VARCHAR AS v, {share} FROM rel_b GROUP BY 1)
                SELECT coalesce(sa.v, sb.v, 'null'), coalesce(sa.share, 0), coalesce(sb.share, 0)
                FROM sa FULL OUTER JOIN sb ON sa.v IS NOT DISTINCT FROM sb.v
                ORDER BY abs(coalesce(sb.share, 0) - coalesce(sa.share, 0)) DESC, 1""").fetchall()
            strata[column] = [
                {"value": v, "a": round(sa, 6), "b": round(sb, 6), "change_points": round(100 * (sb - sa), 3)}
                for v, sa, sb in rows
            ]
    finally:
        con.close()
    ma, mb = a.manifest, b.manifest
    return {
        "a": a.ref,
        "b": b.ref,
        "rows": {"a": sum(ma["splits"].values()), "b": sum(mb["splits"].values())},
        "added": added,
        "removed": removed,
        "changed": changed,
        "unchanged": common - changed,
        "moved_between_splits": moved,
        "splits": {s: {"a": ma["splits"].get(s, 0), "b": mb["splits"].get(s, 0)} for s in SPLITS},
        "dropped": {
            r: {"a": ma["dropped"].get(r, 0), "b": mb["dropped"].get(r, 0)}
            for r in sorted(set(ma["dropped"]) | set(mb["dropped"]))
        },
        "strata": strata,
    }


def diff_lines(result: dict, strata_top: int = 10) -> list[str]:
    rows = result["rows"]
    lines = [
        f"{result['a']} -> {result['b']}: {rows['a']:,} -> {rows['b']:,} rows ({rows['b'] - rows['a']:+,})",
        f"  added {result['added']:,}, removed {result['removed']:,}, changed {result['changed']:,}, "
        f"unchanged {result['unchanged']:,}, moved between splits {result['moved_between_splits']:,}",
        "  splits   " + ", ".join(f"{s} {v['a']:,} -> {v['b']:,}" for s, v in result["splits"].items()),
    ]
    if result["dropped"]:
        lines.append("  dropped  " + ", ".join(f"{r} {v['a']:,} -> {v['b']:,}" for r, v in result["dropped"].items()))
    for column, shares in result["strata"].items():
        lines.append(f"  share by {column}:")
        for s in shares[:strata_top]:
            lines.append(f"    {s['value']:<40} {s['a']:>7.2%} -> {s['b']:>7.2%}  ({s['change_points']:+.2f} points)")
        if len(shares) > strata_top:
            lines.append(f"    ... {len(shares) - strata_top} more values (--all shows every one)")
    return lines
