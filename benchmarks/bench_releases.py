"""Building an SFT and a preference release from N simulated conversations (default 1,000,000).

Contenders, each in a fresh process, each starting from a lake with no releases and no style-feature
table (so nothing is reused from an earlier run):

Both first take 500 evaluation prompts (opening user messages) and keep their near-duplicates out of
both releases (MinHash over the last user message, same character, Jaccard >= 0.7).

- naive: the obvious way with the same libraries: fetch every turn sample from the catalog into Python,
  filter, MinHash every training prompt and query an LSH index of the evaluation prompts, pair
  regenerations with a dict, compute the style features of every pair with the registry, scan every
  message with the same regular expressions, write with pyarrow. Measured on a hundredth of the
  traffic: it holds every prompt in Python objects, and a simulated conversation's prompts grow with its
  length (up to 30 user turns), so at a tenth it ran past 19 minutes and 4.7 GB before it was stopped.
- flywheel: `curation.releases.build` (the `release` stage) with its timings by step; measured on the
  same hundredth, for the ratio, and at full size.

The traffic comes from the simulator (`benchmarks.simdata`, seed 11, cached under benchmarks/.cache/) with
no planted personal data: the releases are built from the bronze (unscrubbed) text, because scrubbing a
million conversations takes hours on this machine and is bench_scrub's subject, and the release's leak
scan would rightly refuse unscrubbed text with personal data in it. It is ingested once into
benchmarks/.cache/releases-sim-<N>/lake; later runs reuse it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table
from benchmarks.simdata import simulated

EVAL_PROMPTS = 500
EVAL = {
    "name": "bench-eval",
    "type": "prompt",
    "frozen_eval": True,
    "allow_unscrubbed": True,
    "filter": "depth = 1",
    "sources": [{"name": "openers", "kind": "samples", "cap": EVAL_PROMPTS}],
}
SFT = {"name": "bench-sft", "type": "sft", "allow_unscrubbed": True, "filter": "continued OR thumb = 1"}
PREFERENCE = {
    "name": "bench-pref",
    "type": "preference",
    "allow_unscrubbed": True,
    "sources": [{"name": "regenerations", "kind": "regenerations"}],
}


def prepare(n: int) -> Path:
    """Simulate and ingest `n` conversations once; returns the lake directory."""
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    root = CACHE_DIR / f"releases-sim-{n}"
    lake_dir = root / "lake"
    if (root / "READY").exists():
        return lake_dir
    shutil.rmtree(root, ignore_errors=True)
    traffic = simulated(n, pii_share=0.0) / "traffic"
    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "bench-" + "k" * 40)
    stage = {"stage": "ingest", "paths": [str(traffic)]}
    recipe = parse({"name": "bench", "stages": [stage]})
    record = runner.run(recipe, Lake(lake_dir), Console(quiet=True), command="ingest")
    if record.status != "succeeded":
        raise RuntimeError(f"ingest for the benchmark failed: {record.error}")
    (root / "READY").write_text("ok\n")
    return lake_dir


def _fresh(lake_dir: Path) -> None:
    for leftover in ("releases", "attributes", "_staging"):
        shutil.rmtree(lake_dir / leftover, ignore_errors=True)


def flywheel(lake_dir: str) -> dict:
    from curation.releases.build import build
    from curation.releases.config import ReleaseEntry
    from curation.releases.inputs import open_inputs
    from lakehouse.lake import Lake

    lake = Lake(lake_dir)
    _fresh(lake.root)
    inputs = open_inputs(lake)
    out = {}
    try:
        for entry in (EVAL, SFT, PREFERENCE):
            built = build(lake, ReleaseEntry.model_validate(entry), inputs=inputs, code_version="bench")
            kind = entry["type"]
            out[f"{kind}_rows"] = built.rows_out
            if not entry.get("frozen_eval"):
                out[f"{kind}_eval_leaks"] = built.dropped.get("eval_leak", 0)
            out.update({f"{kind}.{step}": round(seconds, 1) for step, seconds in built.timings.items()})
    finally:
        inputs.close()
    return out


def _split(conversation_id: str) -> str:
    u = int(hashlib.md5(conversation_id.encode()).hexdigest()[:8], 16) / 2**32
    return "test" if u < 0.05 else "validation" if u < 0.10 else "train"


def naive(lake_dir: str) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curation.scrub import leak_gate
    from lakehouse import catalog, style_artifacts
    from lakehouse.lake import Lake

    lake = Lake(lake_dir)
    _fresh(lake.root)
    out_dir = lake.root / "releases" / "naive"
    out_dir.mkdir(parents=True)
    con = catalog.connect(lake)
    cursor = con.execute("SELECT * FROM samples")
    names = [d[0] for d in cursor.description]
    samples = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    con.close()

    def scan(texts) -> int:
        return sum(bool(leak_gate.entities(t)) for t in texts if t)

    leaks = _naive_leak_check(samples)
    sft = [
        {
            "messages": s["prompt"] + [{"role": "assistant", "content": s["response"]}],
            "sample_id": s["sample_id"],
            "conversation_id": s["conversation_id"],
        }
        for s in samples
        if (s["continued"] or s["thumb"] == 1) and not s["regenerated"] and not leaks(s)
    ]
    hits = scan(m["content"] for row in sft for m in row["messages"])
    for split in ("train", "validation", "test"):
        pq.write_table(
            pa.Table.from_pylist([r for r in sft if _split(r["conversation_id"]) == split]),
            out_dir / f"sft-{split}.parquet",
        )
    by_turn = {(s["conversation_id"], s["turn"]): s for s in samples}
    pairs, chosen_rows, rejected_rows = [], [], []
    for s in samples:
        replacement = by_turn.get((s["conversation_id"], s["replacement_turn"])) if s["regenerated"] else None
        if replacement is None or not (replacement["continued"] or replacement["thumb"] == 1) or leaks(s):
            continue
        context = next((m["content"] for m in reversed(s["prompt"]) if m["role"] == "user"), "")
        chosen = style_artifacts.features(replacement["response"], context)
        rejected = style_artifacts.features(s["response"], context)
        lengths = sorted((chosen["length_tokens"], rejected["length_tokens"]))
        if lengths[1] / max(lengths[0], 1) > 3 or abs(chosen["emoji_count"] - rejected["emoji_count"]) > 3:
            continue
        pairs.append(
            {
                "prompt": s["prompt"],
                "chosen": [{"role": "assistant", "content": replacement["response"]}],
                "rejected": [{"role": "assistant", "content": s["response"]}],
                "sample_id": s["sample_id"],
                "conversation_id": s["conversation_id"],
            }
        )
        chosen_rows.append((context, replacement["response"]))
        rejected_rows.append((context, s["response"]))
    style_artifacts.compare(rejected_rows, chosen_rows)
    hits += scan(m["content"] for row in pairs for key in ("prompt", "chosen", "rejected") for m in row[key])
    for split in ("train", "validation", "test"):
        pq.write_table(
            pa.Table.from_pylist([r for r in pairs if _split(r["conversation_id"]) == split]),
            out_dir / f"pref-{split}.parquet",
        )
    return {"sft_rows": len(sft), "preference_rows": len(pairs), "scan_hits": hits}


def _last_user(sample: dict) -> str:
    return next((m["content"] for m in reversed(sample["prompt"]) if m["role"] == "user"), "")


def _naive_leak_check(samples: list[dict]):
    """A predicate: is this sample a leak of one of the evaluation prompts (chosen as the builder does)?"""
    from datasketch import MinHash, MinHashLSH

    from curation.releases.eval_overlap import shingles

    def signature(text: str) -> MinHash:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([s.encode() for s in sorted(shingles(text, 3))])
        return m

    def key(s: dict) -> str:
        return hashlib.md5(f"0:openers:{s['sample_id']}".encode()).hexdigest()

    openers = sorted((s for s in samples if s["depth"] == 1 and s["prompt"][-1]["role"] == "user"), key=key)
    evaluation = openers[:EVAL_PROMPTS]
    conversations = {s["conversation_id"] for s in evaluation}
    lsh = MinHashLSH(threshold=0.7, num_perm=128)
    characters = {}
    for i, s in enumerate(evaluation):
        if len(_last_user(s).split()) >= 5:
            lsh.insert(str(i), signature(_last_user(s)))
            characters[str(i)] = s["character_id"]

    def leaks(s: dict) -> bool:
        if s["conversation_id"] in conversations:
            return True
        text = _last_user(s)
        if len(text.split()) < 5:
            return False
        return any(characters[k] == s["character_id"] for k in lsh.query(signature(text)))

    return leaks


def _step_table(steps: dict[str, float]) -> str:
    lines = ["| release | step | seconds |", "|---|---|---:|"]
    lines += [f"| {k.split('.')[0]} | {k.split('.')[1]} | {v:,.1f} |" for k, v in steps.items()]
    return "\n".join(lines)


def main() -> None:
    full = scale(1_000_000)
    small = max(1, full // 100)
    small_lake, full_lake = prepare(small), prepare(full)
    baseline = measure(
        f"naive python, {small:,} conversations", naive, str(small_lake), items=small, unit="conversations"
    )
    ours_small = measure(
        f"flywheel release builder, {small:,} conversations",
        flywheel,
        str(small_lake),
        items=small,
        unit="conversations",
    )
    ours_full = measure(
        f"flywheel release builder, {full:,} conversations", flywheel, str(full_lake), items=full, unit="conversations"
    )
    steps = {k: v for k, v in ours_full.extra.items() if "." in k}
    for m in (ours_small, ours_full):
        m.extra = {k: v for k, v in m.extra.items() if "." not in k}
    summary = table(
        "Releases: an SFT and a preference release (regenerations) from simulated traffic",
        baseline,
        [ours_small, ours_full],
    )
    text = (
        summary + f"\n\nTime by step, flywheel at {full:,} conversations (total {ours_full.seconds:,.0f} s, "
        f"peak RSS {ours_full.peak_rss_mb:,.0f} MB; target < 300 s and < 3,000 MB):\n\n" + _step_table(steps)
    )
    report("bench_releases", text)
    save_json(
        "bench_releases",
        {
            m.name: {"seconds": m.seconds, "peak_rss_mb": m.peak_rss_mb, **m.extra}
            for m in (baseline, ours_small, ours_full)
        }
        | {"steps": steps},
    )


if __name__ == "__main__":
    main()
