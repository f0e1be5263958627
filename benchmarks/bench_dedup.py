"""Near-duplicate detection end to end (signatures, banding, clusters) on 100,000 conversations:
flywheel's engine against the naive datasketch use (`MinHash.update` per shingle, `MinHashLSH.insert`
per document), datasketch's `MinHash.bulk` path, and the Rust library rensa as an outside reference;
then flywheel's peak RSS on 1,000,000 conversations.

Every contender reads the same Parquet file, uses the same shingles (word bigrams of the normalized
text, character 5-grams under four words), 128 permutations and a 0.6 threshold, and ends with
clusters from a union-find (or connected components) over its candidate pairs.

The input is the simulator's traffic (benchmarks/simdata.py, generated once into benchmarks/.cache/): the
conversation unit of every conversation (message contents, system messages left out, as the dedup
stage builds it), with the simulator's planted exact and edited copies, spam prompts and stock openers.
Set BENCH_DEDUP_SOURCE to a Parquet file with columns key, text and started_at to benchmark other data.

Run: python -m benchmarks.bench_dedup   (BENCH_SCALE=0.1 for a quick run)
"""

from __future__ import annotations

import importlib.util
import itertools
import os
import re
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

N_DOCS = 100_000
N_MEMORY = 1_000_000
NUM_PERM = 128
THRESHOLD = 0.6
_WORD = re.compile(r"[^\W_]+")


# The conversation unit (curation.dedup.units.lake_units) of simulated traffic lines, in SQL.
UNITS_SQL = """
COPY (
    SELECT conversation_id AS key,
           array_to_string(list_transform(list_filter(messages, lambda m: m.role <> 'system' AND coalesce(m.content, '') <> ''),
                                          lambda m: m.content), chr(10)) AS text,
           started_at::TIMESTAMPTZ AS started_at
    FROM read_json({files}, format = 'newline_delimited',
                   columns = {{conversation_id: 'VARCHAR', started_at: 'VARCHAR',
                              messages: 'STRUCT(role VARCHAR, content VARCHAR)[]'}})
) TO '{out}' (FORMAT parquet, ROW_GROUP_SIZE 50000)
"""


def dataset(n: int) -> Path:
    """The Parquet input of n simulated conversations (key, text, started_at), built once into
    benchmarks/.cache/ from the simulator's traffic."""
    import duckdb

    from benchmarks.simdata import traffic_files

    source = os.environ.get("BENCH_DEDUP_SOURCE")
    if source:
        return Path(source)
    path = CACHE_DIR / f"dedup_simulated_{n}.parquet"
    if not path.exists():
        files = [str(f) for f in traffic_files(n)]
        tmp = path.with_suffix(".tmp.parquet")
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(UNITS_SQL.format(files=files, out=tmp))
        con.close()
        tmp.replace(path)
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
        return [f"{a} {b}" for a, b in itertools.pairwise(words)]
    canonical = " ".join(words)
    return [canonical[i : i + 5] for i in range(max(1, len(canonical) - 4))] if canonical else []


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
    for key, text in zip(keys, texts, strict=True):
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
        for key, m in zip(keys, minhashes, strict=True):
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

    from curation.dedup.clusters import dedup
    from curation.dedup.config import DedupConfig

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
        others.append(
            measure("rensa RMinHash + RMinHashLSH (reference, Rust)", run_rensa, path, n, items=n, unit="docs")
        )
    else:
        print("rensa is not installed (pip install rensa==0.5.0): skipping the outside reference")
    text = table(f"Near-duplicate detection, {n:,} conversations (signatures, banding, clusters)", naive, others)

    big = scale(N_MEMORY)
    big_path = str(dataset(big))
    memory = measure("flywheel dedup engine (1 process)", run_flywheel, big_path, big, 1, items=big, unit="docs")
    memory_workers = measure(
        "flywheel dedup engine (2 worker processes)", run_flywheel, big_path, big, 2, items=big, unit="docs"
    )
    text += "\n\n" + table(f"Peak memory, {big:,} conversations (target: under 3 GB)", memory, [memory_workers])
    report("bench_dedup", text)
    save_json(
        "bench_dedup",
        {
            f"{m.items} docs, {m.name}": {"docs_per_s": m.rate, "peak_rss_mb": m.peak_rss_mb, **m.extra}
            for m in [naive, *others, memory, memory_workers]
        },
    )


if __name__ == "__main__":
    main()
