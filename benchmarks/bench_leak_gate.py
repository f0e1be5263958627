"""The release leak gate (`curation.scrub.leak_gate.scan_paths`, what `ReleaseWriter.finalize` runs) on an
SFT release of N rows (default 1,000,000; the target is under a minute).

The release is shaped like the builder's: conversations of 2 to 5 turns from a character card, one row
per assistant turn holding every earlier message (so a text recurs in later rows of its conversation),
`sample_id`/`conversation_id` provenance. Messages are text nobody here wrote: one or two sentences drawn
(seed 5) from the hh-rlhf transcripts and Synthetic-Persona-Chat in ../shared/data, so almost every
message is distinct and numbers, addresses and "at" occur as they do in real chat. Twelve rows get a
planted identifier; the gate must find exactly those.

Contenders, each in a fresh process over the same files:
- detector on every text: the scrubber's detection without the pre-filter (every type's necessary
  condition switched off), on the first thousandth of the rows (it reads about 20 rows a second): the
  baseline;
- leak gate: `scan_paths` on the same thousandth, for the ratio, and on the whole release.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
PLANTED = [
    "my card is 4111 1111 1111 1111",
    "mail me: dana.whitfield@gmail.com",
    "call 415-867-5309 tonight",
    "ssn 536-22-1234",
    "IBAN DE89 3704 0044 0532 0130 00",
    "my box is at 172.16.254.1",
    "call me on ４１５ ８６７ ５３０９",
    "jane.doe at gmail dot com",
    "card 4111\u200b1111\u200b1111\u200b1111",
    "phone 415\u202f867\u202f5309",
    "write to kim (at) proton (dot) me",
    "text +44 20 7946 0958",
]


def _sentences() -> list[str]:
    pool: list[str] = []
    with gzip.open(DATA / "hh-rlhf-harmless-base-test-1500.jsonl.gz", "rt") as f:
        for line in f:
            record = json.loads(line)
            for key in ("chosen", "rejected"):
                for turn in re.split(r"\n\n(?:Human|Assistant): ", record[key]):
                    pool += [s.strip() for s in re.split(r"(?<=[.!?])\s+", turn) if len(s.strip()) > 3]
    with open(DATA / "synthetic-persona-chat-valid.csv", newline="") as f:
        for row in csv.reader(f):
            for line in row[2].splitlines():
                text = line.split(":", 1)[-1].strip()
                pool += [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 3]
    return sorted(set(pool))


def prepare(n: int) -> Path:
    """Write the release's data files once (cached); returns their directory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = CACHE_DIR / f"leak-gate-{n}"
    if (out / "READY").exists():
        return out
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(5)
    pool = _sentences()
    cards = [f"You are {name}, a friendly companion. Keep replies short." for name in ("Luna", "Orion", "Mika", "Sol")]
    planted_rows = set(rng.sample(range(n), len(PLANTED)))
    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    schema = pa.schema(
        [
            pa.field("messages", pa.list_(message)),
            pa.field("sample_id", pa.string()),
            pa.field("conversation_id", pa.string()),
            pa.field("character_id", pa.string()),
        ]
    )
    writer = pq.ParquetWriter(out / "train-00000.parquet", schema, compression="zstd")
    rows: list[dict] = []
    written, planted = 0, iter(PLANTED)
    while written + len(rows) < n:
        cid = f"hh-{rng.getrandbits(64):016x}"
        card = rng.randrange(len(cards))
        messages = [{"role": "system", "content": cards[card]}]
        for turn in range(rng.randint(2, 5)):
            if written + len(rows) >= n:
                break
            said = " ".join(rng.choice(pool) for _ in range(rng.randint(1, 2)))
            if written + len(rows) in planted_rows:
                said = f"{said} {next(planted)}"
            messages = messages + [
                {"role": "user", "content": said},
                {"role": "assistant", "content": " ".join(rng.choice(pool) for _ in range(2))},
            ]
            rows.append(
                {
                    "messages": messages,
                    "sample_id": f"{cid}:{2 * turn + 2}",
                    "conversation_id": cid,
                    "character_id": f"persona-{card:016x}",
                }
            )
        if len(rows) >= 50_000:
            writer.write_table(pa.Table.from_pylist(rows, schema))
            written, rows = written + len(rows), []
    if rows:
        writer.write_table(pa.Table.from_pylist(rows, schema))
    writer.close()
    (out / "READY").write_text("ok\n")
    return out


def gate(directory: str, rows: int | None, prefilter: bool) -> dict:
    import pyarrow.parquet as pq

    from curation.scrub import leak_gate

    path = Path(directory) / "train-00000.parquet"
    if rows is not None:  # the first `rows` rows, as their own file
        sliced = Path(directory) / f"slice-{rows}" / "train-00000.parquet"
        if not sliced.exists():
            sliced.parent.mkdir(exist_ok=True)
            pq.write_table(pq.read_table(path).slice(0, rows), sliced, compression="zstd")
        path = sliced
    if not prefilter:
        leak_gate.NECESSARY = {}
    result = leak_gate.scan_paths([path])
    return {
        "texts": result.texts,
        "detected_texts": result.suspects,
        "rows_flagged": len(result.by_row()),
        **{f"flagged_{k}": v for k, v in result.counts().items()},
    }


def main() -> None:
    full = scale(1_000_000)
    small = max(1, full // 1000)
    directory = str(prepare(full))
    baseline = measure(
        f"detector on every text, {small:,} rows", gate, directory, small, False, items=small, unit="rows"
    )
    ours_small = measure(f"leak gate, {small:,} rows", gate, directory, small, True, items=small, unit="rows")
    ours_full = measure(f"leak gate, {full:,} rows", gate, directory, None, True, items=full, unit="rows")
    text = table(
        "Leak gate on an SFT release (scan_paths: pre-filter + the scrubber's detection)",
        baseline,
        [ours_small, ours_full],
    )
    text += (
        f"\n\nThe gate on {full:,} rows: {ours_full.seconds:,.1f} s (target < 60 s), "
        f"{ours_full.extra['rows_flagged']} rows flagged of {len(PLANTED)} planted."
    )
    report("bench_leak_gate", text)
    save_json(
        "bench_leak_gate",
        {
            m.name: {"seconds": m.seconds, "peak_rss_mb": m.peak_rss_mb, **m.extra}
            for m in (baseline, ours_small, ours_full)
        },
    )


if __name__ == "__main__":
    main()
