"""Near-duplicate detection end to end (signatures, banding, clusters) on 100,000 conversations:
flywheel's engine against the naive datasketch use (`MinHash.update` per shingle, `MinHashLSH.insert`
per document), datasketch's `MinHash.bulk` path, and the Rust library rensa as an outside reference;
then flywheel's peak RSS on 1,000,000 conversations.

Every contender reads the same Parquet file, uses the same shingles (word bigrams of the normalized
text, character 5-grams under four words), 128 permutations and a 0.6 threshold, and ends with
clusters from a union-find (or connected components) over its candidate pairs.

Until the simulator's output is wired in, `make_conversations` builds conversations from real messages
(../shared/data): random sequences of 2-8 messages, 30% starting with a stock opener, 8% exact copies and
8% copies with 1-10% of words edited. Set BENCH_DEDUP_SOURCE to a Parquet file with columns key, text
and started_at to benchmark other data instead.

Run: python -m benchmarks.bench_dedup   (BENCH_SCALE=0.1 for a quick run)
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
from pathlib import Path

from benchmarks.common import CACHE_DIR, measure, report, save_json, scale, table

N_DOCS = 100_000
N_MEMORY = 1_000_000
NUM_PERM = 128
THRESHOLD = 0.6
STOCK_OPENERS = ["Hi, how are you today?", "Hello!", "hey", "Hi there! How's your day going?", "Good morning :)"]
_WORD = re.compile(r"[^\W_]+")


def make_conversations(n: int, seed: int = 0):
    """A table (key, text, started_at) of n conversations built from real messages, with planted copies.

    Vectorized where it can be, so that a million conversations take seconds of CPU, not minutes.
    """
    import datetime as dt

    import numpy as np
    import pyarrow as pa

    from curation.dedup.evalset import edit_words, load_real

    data = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
    # Every message of the real data, repeats included: chat messages repeat ("Hi!", "Thank you!").
    pool = np.array([m[1] for conversations in load_real(data).values() for c in conversations for m in c if m[1]],
                    dtype=object)
    vocabulary = [w for text in pool[:20000] for w in text.split()]
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, 9, n)
    picks = pool[rng.integers(0, len(pool), int(lengths.sum()))]
    openers = np.array(STOCK_OPENERS, dtype=object)[rng.integers(0, len(STOCK_OPENERS), n)]
    with_opener = rng.random(n) < 0.3
    conversations, position = [], 0
    for i, length in enumerate(lengths.tolist()):
        messages = picks[position:position + length].tolist()
        position += length
        if with_opener[i]:
            messages[0] = openers[i]
        conversations.append(messages)
    roll = rng.random(n)
    sources = (rng.random(n) * np.arange(n)).astype(np.int64)  # an earlier conversation
    edit_rng = random.Random(seed)
    for i in np.flatnonzero((roll < 0.16) & (np.arange(n) > 0)).tolist():
        original = conversations[sources[i]]
        if roll[i] < 0.08:
            conversations[i] = original
        else:
            rate = edit_rng.uniform(0.01, 0.1)
            edited, _ = edit_words([("user", m) for m in original], rate, edit_rng, vocabulary)
            conversations[i] = [m for _, m in edited]
    texts = ["\n".join(messages) for messages in conversations]
    start = np.datetime64(dt.datetime(2026, 10, 1), "us")
    seconds = rng.integers(0, 86400 * 28, n).astype("timedelta64[s]").astype("timedelta64[us]")
    return pa.table({
        "key": [f"conv-{i:07d}" for i in range(n)],
        "text": pa.array(texts, pa.string()),
        "started_at": pa.array(start + seconds).cast(pa.timestamp("us", tz="UTC")),
    })


def dataset(n: int) -> Path:
    """The Parquet input of n conversations, generated once into benchmarks/.cache/."""
    import pyarrow.parquet as pq

    source = os.environ.get("BENCH_DEDUP_SOURCE")
    if source:
        return Path(source)
    path = CACHE_DIR / f"dedup_conversations_{n}.parquet"
    if not path.exists():
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        pq.write_table(make_conversations(n), path, row_group_size=50_000)
    return path


def _texts(path: str, n: int) -> tuple[list[str], list[str]]:
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["key", "text"]).slice(0, n)
    return table["key"].to_pylist(), table["text"].to_pylist()


def python_shingles(text: str) -> list[str]:
    """The engine's shingles, the plain Python way: word bigrams, character 5-grams under four words."""
    from curation.dedup.normalize import normalize

    words = _WORD.findall(normalize(text))
    if len(words) >= 4:
        return [f"{a} {b}" for a, b in zip(words, words[1:])]
    canonical = " ".join(words)
    return [canonical[i:i + 5] for i in range(max(1, len(canonical) - 4))] if canonical else []


def _union_find_clusters(n: int, candidate_lists) -> dict:
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i, candidates in enumerate(candidate_lists):
        for j in candidates:
            ri, rj = find(i), find(int(j))
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)
    roots = [find(i) for i in range(n)]
    sizes: dict[int, int] = {}
    for r in roots:
        sizes[r] = sizes.get(r, 0) + 1
    return {"docs_in_clusters": sum(s for s in sizes.values() if s > 1)}


def run_naive(path: str, n: int) -> dict:
    """datasketch the way most code uses it: one `update` per shingle, one `insert` and `query` per doc."""
    from datasketch import MinHash, MinHashLSH

    keys, texts = _texts(path, n)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    minhashes = []
    for key, text in zip(keys, texts):
        m = MinHash(num_perm=NUM_PERM)
        for s in python_shingles(text):
            m.update(s.encode("utf-8"))
        lsh.insert(key, m)
        minhashes.append(m)
    index = {key: i for i, key in enumerate(keys)}
    return _union_find_clusters(n, ([index[k] for k in lsh.query(m)] for m in minhashes))


def run_bulk(path: str, n: int) -> dict:
    """datasketch's batch path: `MinHash.bulk` and an LSH insertion session."""
    from datasketch import MinHash, MinHashLSH

    keys, texts = _texts(path, n)
    minhashes = MinHash.bulk(([s.encode("utf-8") for s in python_shingles(t)] for t in texts), num_perm=NUM_PERM)
    lsh = MinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM)
    with lsh.insertion_session() as session:
        for key, m in zip(keys, minhashes):
            session.insert(key, m)
    index = {key: i for i, key in enumerate(keys)}
    return _union_find_clusters(n, ([index[k] for k in lsh.query(m)] for m in minhashes))


def run_rensa(path: str, n: int) -> dict:
    """rensa (Rust): batch signatures and its LSH index (bands must divide num_perm: 32 x 4)."""
    import rensa

    _, texts = _texts(path, n)
    minhashes = rensa.RMinHash.from_token_sets((python_shingles(t) for t in texts), num_perm=NUM_PERM, seed=1)
    lsh = rensa.RMinHashLSH(threshold=THRESHOLD, num_perm=NUM_PERM, num_bands=32)
    lsh.insert_many(minhashes, start_key=0)
    return _union_find_clusters(n, lsh.query_all(minhashes))


def run_flywheel(path: str, n: int, workers: int) -> dict:
    """flywheel's engine on the Parquet file's record batches (the text is never all in memory)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curation.dedup.config import DedupConfig
    from curation.dedup.engine import dedup

    batches = pq.ParquetFile(path).iter_batches(batch_size=10_000, columns=["key", "text", "started_at"])
    result, stats = dedup(_first_rows(batches, n), DedupConfig(workers=workers))
    sizes = pc.value_counts(result["cluster"]).field("counts")
    in_clusters = pc.sum(pc.filter(sizes, pc.greater(sizes, 1))).as_py() or 0
    return {"docs_in_clusters": in_clusters, "bands_x_rows": f"{stats.details['bands']}x{stats.details['rows']}"}


def _first_rows(batches, n: int):
    left = n
    for batch in batches:
        if left <= 0:
            return
        yield batch.slice(0, left)
        left -= batch.num_rows


def main() -> None:
    n = scale(N_DOCS)
    path = str(dataset(n))
    naive = measure("datasketch naive: update per shingle, insert per doc", run_naive, path, n, items=n, unit="docs")
    others = [
        measure("datasketch MinHash.bulk + insertion_session", run_bulk, path, n, items=n, unit="docs"),
        measure("flywheel dedup engine (1 process)", run_flywheel, path, n, 1, items=n, unit="docs"),
        measure("flywheel dedup engine (2 worker processes)", run_flywheel, path, n, 2, items=n, unit="docs"),
    ]
    if importlib.util.find_spec("rensa"):  # an outside reference, not a dependency
        others.append(measure("rensa RMinHash + RMinHashLSH (reference, Rust)", run_rensa, path, n, items=n, unit="docs"))
    else:
        print("rensa is not installed (pip install rensa==0.5.0): skipping the outside reference")
    text = table(f"Near-duplicate detection, {n:,} conversations (signatures, banding, clusters)", naive, others)

    big = scale(N_MEMORY)
    big_path = str(dataset(big))
    memory = measure("flywheel dedup engine (1 process)", run_flywheel, big_path, big, 1, items=big, unit="docs")
    memory_workers = measure("flywheel dedup engine (2 worker processes)", run_flywheel, big_path, big, 2,
                             items=big, unit="docs")
    text += "\n\n" + table(f"Peak memory, {big:,} conversations (target: under 3 GB)", memory, [memory_workers])
    report("bench_dedup", text)
    save_json("bench_dedup", {f"{m.items} docs, {m.name}": {"docs_per_s": m.rate, "peak_rss_mb": m.peak_rss_mb, **m.extra}
                              for m in [naive, *others, memory, memory_workers]})


if __name__ == "__main__":
    main()
