"""`flywheel ab report` at scale: 10 million exposures and 10 million conversations in a lake.

The data is synthetic and vectorised (numpy + pyarrow, written through the lake's own transaction so the
command reads it exactly as it reads ingested traffic): one exposure per user, conversations by a skewed
choice of user after its exposure, 1-30 user turns (the test arm a little deeper), thumbs, regenerations
and reports on replies. Contenders, each in a fresh process (seconds and peak RSS):

- baseline: pandas, the way an analyst would do it by hand: read the Parquet columns, count user turns,
  thumbs, regenerations and reports per conversation (pyarrow list kernels), merge with the exposures,
  groupby user then arm;
- `flywheel ab report` (DuckDB over the catalog, read-only, memory limit 2 GB): the same five metrics
  with intervals, SRM and verdicts, its files and its rows in the lake.

Target (issue 15): under 60 s and 4 GB on this machine. Both contenders must return the same breadth and
depth lifts (an independent check of the SQL). `BENCH_SCALE` shrinks the sizes, `AB_ROWS` picks them.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

EXPERIMENT = "exp-bench"
CHUNK = 1_000_000
START = 1_790_000_000  # 2026-09-21 UTC, seconds
DAYS = 28


def _exposures(rng, first: int, n: int):
    import numpy as np
    import pyarrow as pa

    from lakehouse import schemas

    users = np.arange(first, first + n)
    at = START + rng.integers(0, DAYS * 86400, n)
    arms = np.where(rng.random(n) < 0.5, "control", "test")
    return pa.Table.from_arrays(
        [
            pa.array(np.full(n, EXPERIMENT)),
            pa.array(arms),
            pa.array(np.char.add("u", users.astype(str))),
            pa.array(at * 1_000_000, pa.timestamp("us", tz="UTC")),
            pa.nulls(n, schemas.ORIGIN),
        ],
        schema=schemas.EXPOSURES,
    )


def _conversations(rng, first: int, n: int, users: int, exposed_at, test_arm):
    """`n` conversations (ids first..), each with its user's arm deciding how deep it goes."""
    import numpy as np
    import pyarrow as pa

    from lakehouse import schemas

    user = np.minimum((users * rng.random(n) ** 2.0).astype(np.int64), users - 1)
    start = exposed_at[user] + rng.integers(0, 3 * 86400, n)
    deeper = test_arm[user]
    turns = np.minimum(rng.geometric(np.where(deeper, 0.27, 0.29)), 30)
    per_conv = 2 * turns
    m = int(per_conv.sum())
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(per_conv, out=offsets[1:])
    position = np.arange(m) - np.repeat(offsets[:-1], per_conv)
    is_user = position % 2 == 0
    u = rng.random(m)
    thumb = np.where(is_user, 0, np.where(u < 0.03, -1, np.where(u > 0.94, 1, 0))).astype(np.int8)
    regenerated = ~is_user & (rng.random(m) < 0.05)
    reported = ~is_user & (rng.random(m) < 0.002)
    last = position == np.repeat(per_conv - 1, per_conv)
    signals = pa.StructArray.from_arrays(
        [
            pa.array(~is_user & ~last),
            pa.array(thumb),
            pa.array(np.zeros(m, bool)),
            pa.array(regenerated),
            pa.array(reported),
            pa.nulls(m, pa.string()),
        ],
        fields=list(schemas.SIGNALS),
        mask=pa.array(is_user),
    )
    ts = np.repeat(start, per_conv) + position * 20
    messages = pa.StructArray.from_arrays(
        [
            pa.DictionaryArray.from_arrays(is_user.astype(np.int8) ^ 1, ["user", "assistant"]).cast(pa.string()),
            pa.array(np.full(m, "hi")),
            pa.array(ts * 1_000_000, pa.timestamp("us", tz="UTC")),
            signals,
        ],
        fields=list(schemas.MESSAGE),
    )
    ids = np.char.add("c", np.arange(first, first + n).astype(str))
    columns = {
        "conversation_id": pa.array(ids),
        "source": pa.array(np.full(n, "user")),
        "started_at": pa.array(start * 1_000_000, pa.timestamp("us", tz="UTC")),
        "user_id": pa.array(np.char.add("u", user.astype(str))),
        "messages": pa.ListArray.from_arrays(pa.array(offsets), messages),
        "content_hash": pa.array(ids),
    }
    return pa.Table.from_arrays(
        [columns.get(f.name, pa.nulls(n, f.type)) for f in schemas.BRONZE_CONVERSATIONS],
        schema=schemas.BRONZE_CONVERSATIONS,
    )


def build(root: Path, exposures: int, conversations: int, seed: int = 7) -> None:
    """Write the synthetic lake (skipped when `root` already holds one of this size)."""
    import numpy as np

    from lakehouse import catalog, tables
    from lakehouse.lake import Lake

    marker = root / f".bench-ab-{exposures}-{conversations}"
    if marker.exists():
        return
    shutil.rmtree(root, ignore_errors=True)
    lake = Lake(root)
    rng = np.random.default_rng(seed)
    exposed_at = np.empty(exposures, np.int64)
    test_arm = np.empty(exposures, bool)
    with lake.transaction() as tx:
        writer = tx.writer(tables.BRONZE_EXPOSURES)
        for first in range(0, exposures, CHUNK):
            chunk = _exposures(rng, first, min(CHUNK, exposures - first))
            exposed_at[first : first + len(chunk)] = chunk["exposed_at"].cast("int64").to_numpy() // 1_000_000
            test_arm[first : first + len(chunk)] = chunk["arm"].to_numpy(zero_copy_only=False) == "test"
            writer.write(chunk)
        writer = tx.writer(tables.BRONZE_CONVERSATIONS)
        for first in range(0, conversations, CHUNK):
            n = min(CHUNK, conversations - first)
            writer.write(_conversations(rng, first, n, exposures, exposed_at, test_arm))
    catalog.refresh(lake)
    marker.touch()


def flywheel_ab(root: str) -> dict:
    from curation.ab.cli import run_report
    from curation.ab.metrics import BUILTIN

    result, _, _ = run_report(
        Path(root), EXPERIMENT, list(BUILTIN.values()), out=Path(root) / "bench-report", record=False
    )
    return {name: round(m["lift"], 4) for name, m in result["metrics"].items() if name in ("breadth", "depth")}


def pandas_groupby(root: str) -> dict:
    """The hand-written baseline: Parquet columns into pandas, per-conversation counts, merge, groupby."""
    import numpy as np
    import pandas as pd
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    from lakehouse import tables
    from lakehouse.lake import Lake

    lake = Lake(root)
    exposures = lake.read(
        tables.BRONZE_EXPOSURES, columns=["experiment_id", "arm", "user_id", "exposed_at"]
    ).to_pandas()
    exposures = (
        exposures[exposures.experiment_id == EXPERIMENT]
        .groupby("user_id", as_index=False)
        .agg(arm=("arm", "first"), exposed_at=("exposed_at", "min"))
    )
    frames = []
    for batch in ds.dataset(lake.files(tables.BRONZE_CONVERSATIONS)).to_batches(
        columns=["user_id", "started_at", "messages"]
    ):
        messages = batch.column("messages")
        flat = pc.list_flatten(messages)
        parent = pc.list_parent_indices(messages).to_numpy()
        n = len(batch)

        def count(mask, parent=parent, n=n):
            return np.bincount(parent[np.asarray(mask, bool)], minlength=n)

        role = flat.field("role").to_numpy(zero_copy_only=False)
        signals = flat.field("signals")
        frames.append(
            pd.DataFrame(
                {
                    "user_id": batch.column("user_id").to_pandas(),
                    "started_at": batch.column("started_at").to_pandas(),
                    "user_turns": count(role == "user"),
                    "replies": count(role == "assistant"),
                    "thumbs_down": count(pc.fill_null(pc.equal(signals.field("thumb"), -1), False)),
                    "reports": count(pc.fill_null(signals.field("reported"), False)),
                    "regenerations": count(pc.fill_null(signals.field("regenerated"), False)),
                }
            )
        )
    conversations = pd.concat(frames, ignore_index=True)
    joined = conversations.merge(exposures, on="user_id")
    joined = joined[joined.started_at >= joined.exposed_at]
    per_user = joined.groupby("user_id").agg(
        conversations=("user_turns", "size"),
        user_turns=("user_turns", "sum"),
        replies=("replies", "sum"),
        thumbs_down=("thumbs_down", "sum"),
        reports=("reports", "sum"),
        regenerations=("regenerations", "sum"),
    )
    per_user = exposures.set_index("user_id").join(per_user).fillna(0)
    per_arm = per_user.groupby("arm").agg(
        users=("exposed_at", "size"), conversations=("conversations", "sum"), user_turns=("user_turns", "sum")
    )
    breadth = per_arm.conversations / per_arm.users
    depth = per_arm.user_turns / per_arm.conversations
    return {
        "breadth": round(float(breadth["test"] / breadth["control"] - 1), 4),
        "depth": round(float(depth["test"] / depth["control"] - 1), 4),
    }


def compare(rows: int, root: Path) -> dict:
    """Build (or reuse) the lake of `rows` exposures and conversations, then time both contenders on it."""
    began = time.perf_counter()
    build(root, rows, rows)
    built = time.perf_counter() - began
    baseline = measure("pandas groupby", pandas_groupby, str(root), items=rows, unit="conversations")
    ours = measure("flywheel ab report (DuckDB)", flywheel_ab, str(root), items=rows, unit="conversations")
    if baseline.extra != ours.extra:
        raise RuntimeError(f"the contenders disagree: pandas {baseline.extra}, flywheel {ours.extra}")
    text = table(f"A/B report over {rows:,} exposures and {rows:,} conversations", baseline, [ours])
    return {"rows": rows, "text": text, "built_seconds": built, "results": [vars(m) for m in (baseline, ours)]}


def main() -> None:
    """Both sizes (1M and 10M rows by default; AB_ROWS=N,M picks others), each lake cached under .cache/."""
    sizes = [scale(int(n)) for n in os.environ.get("AB_ROWS", "1000000,10000000").split(",")]
    os.environ.setdefault("FLYWHEEL_HMAC_KEY", "benchmark-key-" + "x" * 32)
    runs = []
    for rows in sizes:
        root = CACHE_DIR / ("ab-lake" if rows == 10_000_000 else f"ab-lake-{rows}")
        runs.append(compare(rows, root))
        print(runs[-1]["text"], flush=True)
    load = os.getloadavg()
    text = "\n\n".join(r["text"] for r in runs)
    text += (
        f"\n\nLoad average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} cores "
        "(a shared machine: compare CPU seconds). Synthetic lakes built (or reused) in "
        + ", ".join(f"{r['built_seconds']:,.0f}s" for r in runs)
        + f" under {CACHE_DIR}."
    )
    report("ab", text)
    save_json("ab", {"load_average": load, "runs": runs})


if __name__ == "__main__":
    main()
