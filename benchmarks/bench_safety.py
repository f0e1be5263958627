"""Safety scoring throughput: the `safety` stage's offensive-language classifier against the naive loop.

Input: 50,000 simulated conversations (benchmarks/simdata.py, seed 11, no planted personal data), ingested
once into a lake under benchmarks/.cache/; every user and assistant message is scored, as the stage's
default recipe entry does. Contenders, each in a fresh process (the model load, ~1 s, is excluded from the
timed part and shown in the notes):

- naive: `profanity_check.predict_prob([text])` per message, the package's documented call in a loop (on
  every `NAIVE_STRIDE`-th message: it is slow; reported per message);
- reference: `predict_prob(texts)` once over every message (the package's own batching, repeats included);
- flywheel engine: `SafetyScorer.score_tables` over the lake's files grouped as the stage groups them
  (small files together, up to 5,000 conversations a call; messages flattened in Arrow, each distinct text
  of a call scored once, no `apply_along_axis`), rows built but not written;
- flywheel safety stage: the whole stage on a fresh copy of the lake (read, score, write
  `attributes/safety`, ledger), timed by the runner, model load included.

    python -m benchmarks.bench_safety            # 50,000 conversations
    BENCH_SCALE=0.1 python -m benchmarks.bench_safety
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

CONVERSATIONS = 50_000
SEED = 11
NAIVE_STRIDE = 25
ROLES = ("user", "assistant")


def lake_path(n: int) -> Path:
    """A lake with n simulated conversations in bronze (ingested once; the stage scores bronze when a lake
    was never scrubbed, and scrubbing is bench_scrub's subject)."""
    path = CACHE_DIR / f"safety-lake-{n}-{SEED}"
    if (path / "bronze").exists():
        return path
    from rich.console import Console

    from benchmarks.simdata import simulated
    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "bench-safety-" + "k" * 32)
    traffic = simulated(n, SEED, pii_share=0) / "traffic"
    shutil.rmtree(path, ignore_errors=True)
    recipe = parse({"name": "bench-safety", "stages": [{"stage": "ingest", "paths": [str(traffic)]}]})
    record = runner.run(recipe, Lake(path), Console(quiet=True), command="ingest")
    if record.status != "succeeded":
        raise SystemExit(f"ingest failed: {record.error}")
    return path


def _messages(lake: str) -> list[str]:
    """Every user and assistant message text of the lake, in file order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from lakehouse import tables
    from lakehouse.lake import Lake

    flat = pc.list_flatten(Lake(lake).read(tables.BRONZE_CONVERSATIONS, columns=["messages"])["messages"])
    keep = pc.is_in(pc.struct_field(flat, "role"), pa.array(ROLES))
    return pc.filter(pc.struct_field(flat, "content"), keep).to_pylist()


def _load_package() -> float:
    start = time.perf_counter()
    import profanity_check  # noqa: F401 - loads the vectorizer and model (joblib)

    return time.perf_counter() - start


def naive(lake: str) -> dict:
    load = _load_package()
    from profanity_check import predict_prob

    texts = _messages(lake)[::NAIVE_STRIDE]
    start = time.perf_counter()
    flagged = sum(int(predict_prob([text])[0] >= 0.5) for text in texts)
    return {"load_s": round(load, 2), "score_s": round(time.perf_counter() - start, 2), "flagged": flagged}


def reference(lake: str) -> dict:
    load = _load_package()
    from profanity_check import predict_prob

    texts = _messages(lake)
    start = time.perf_counter()
    flagged = int((predict_prob(texts) >= 0.5).sum())
    return {"load_s": round(load, 2), "score_s": round(time.perf_counter() - start, 2), "flagged": flagged}


def engine(lake: str) -> dict:
    import pyarrow.parquet as pq

    from curation.safety.config import SafetyConfig
    from curation.safety.scorer import Counts, SafetyScorer
    from curation.stages.safety import GROUP_CONVERSATIONS, READ_COLUMNS, _groups
    from lakehouse import tables
    from lakehouse.lake import Lake

    start = time.perf_counter()
    scorer = SafetyScorer(SafetyConfig())
    load = time.perf_counter() - start
    root = Lake(lake).root
    files = [str(p.relative_to(root)) for p in Lake(lake).files(tables.BRONZE_CONVERSATIONS)]
    sizes = {name: pq.ParquetFile(root / name).metadata.num_rows for name in files}
    start, total = time.perf_counter(), Counts()
    for group in _groups(files, sizes):  # as the stage groups small files (or batches a large one)
        parts = [
            batch
            for name in group
            for batch in pq.ParquetFile(root / name).iter_batches(GROUP_CONVERSATIONS, columns=READ_COLUMNS)
        ]
        for _, counts in scorer.score_tables(parts):
            total.add(counts)
    return {
        "load_s": round(load, 2),
        "score_s": round(time.perf_counter() - start, 2),
        "flagged": total.flagged,
        "distinct": f"{total.distinct / total.messages:.0%}",
    }


def stage(lake: str, work: str) -> dict:
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(lake, work)
    record = runner.run(parse({"name": "bench", "stages": [{"stage": "safety"}]}), Lake(work), Console(quiet=True))
    shutil.rmtree(work, ignore_errors=True)
    stats = record.stages[0]
    return {
        "load_s": 0.0,
        "score_s": round(stats.seconds, 2),
        "flagged": stats.details.get("flagged"),
        "messages": stats.rows_in,
    }


def timed_part(m):
    """Throughput of the scoring itself: the one-off model load (and the stage's lake copy) excluded."""
    m.seconds = m.extra.pop("score_s")
    return m


def main() -> None:
    n = scale(CONVERSATIONS)
    lake = str(lake_path(n))
    messages = len(_messages(lake))
    work = str(CACHE_DIR / f"safety-stage-run-{n}")
    sample = len(range(0, messages, NAIVE_STRIDE))
    baseline = timed_part(
        measure(
            f"naive: predict_prob([text]) per message (every {NAIVE_STRIDE}th message)",
            naive,
            lake,
            items=sample,
            unit="messages",
        )
    )
    others = [
        timed_part(m)
        for m in (
            measure(
                "reference: predict_prob(all messages) in one call", reference, lake, items=messages, unit="messages"
            ),
            measure(
                "flywheel engine: grouped Arrow batches, each distinct text once",
                engine,
                lake,
                items=messages,
                unit="messages",
            ),
            measure(
                "flywheel safety stage (model load, read, score, write attributes/safety, ledger)",
                stage,
                lake,
                work,
                items=messages,
                unit="messages",
            ),
        )
    ]
    text = table(
        f"Safety scoring (alt-profanity-check): {messages:,} user and assistant messages of {n:,} simulated "
        "conversations (model load excluded, in notes)",
        baseline,
        others,
    )
    report("bench_safety", text)
    save_json(
        "bench_safety",
        {m.name: {"messages_per_s": m.rate, "peak_rss_mb": m.peak_rss_mb, **m.extra} for m in [baseline, *others]},
    )


if __name__ == "__main__":
    main()
