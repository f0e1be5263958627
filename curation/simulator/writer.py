"""`run_simulation`: shards generated in parallel, streamed to gzip, then the exposures log, the truth
sidecar and simulation.json.

Layout of `out/`:
- traffic/part-00000.jsonl.gz, ...: the traffic (docs/architecture.md, The traffic record), one shard of at
  most `shard_size` conversations per file, each written by one worker from its own seeded stream;
- exposures.jsonl.gz: one line per (user, experiment) at first exposure, sorted by (exposed_at, user_id);
- truth.jsonl.gz: one line per conversation (the shards' truth parts concatenated as gzip members, which
  every gzip reader, DuckDB and pyarrow included, reads as one stream);
- simulation.json: config, counts, achieved lift, the signal model; written last, so its presence with
  the same config means the directory is complete and a rerun can skip.

gzip headers carry mtime=0 and no file name, so the bytes depend on the config alone.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import multiprocessing as mp
import os
import shutil
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict
from pathlib import Path

from curation.simulator.characters import CHARACTERS
from curation.simulator.config import SIMULATOR_VERSION, SimulationConfig
from curation.simulator.duplicates import RATES
from curation.simulator.features import FEATURE_DOCS
from curation.simulator.generator import ShardGenerator
from curation.simulator.replies import STYLES
from curation.simulator.signals import model_table
from curation.simulator.stats import Tally
from curation.simulator.topics import TOPICS
from curation.simulator.users import PARETO_SHAPE, n_users
from lakehouse.lake import atomic_write_bytes, file_sha256

GZIP_LEVEL = 3
BATCH = 500
TRAFFIC_DIR = "traffic"
PARTS_DIR = ".truth-parts"
MALFORMED = "malformed.jsonl.gz"
MARKER = "simulation.json"
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def traffic_name(shard: int) -> str:
    return f"part-{shard:05d}.jsonl.gz"


class _GzipLines:
    """Batched line writer to a gzip file whose bytes depend only on the lines written."""

    def __init__(self, path: Path):
        self._raw = open(path, "wb")  # noqa: SIM115 - owned by this writer, closed in close()
        self._gzip = gzip.GzipFile(filename="", mode="wb", fileobj=self._raw, mtime=0, compresslevel=GZIP_LEVEL)
        self._lines: list[str] = []

    def write(self, obj: dict) -> None:
        self._lines.append(_encode(obj))
        if len(self._lines) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self._lines:
            self._gzip.write(("\n".join(self._lines) + "\n").encode())
            self._lines = []

    def close(self) -> None:
        self.flush()
        self._gzip.close()
        self._raw.close()


def write_shard(config_json: dict, shard: int, out: str) -> dict:
    """Generate one shard: its traffic file, its truth part, its tally and its users' first exposures."""
    config = SimulationConfig.model_validate(config_json)
    out_dir = Path(out)
    final = out_dir / TRAFFIC_DIR / traffic_name(shard)
    tmp = final.with_name(f".{final.name}.tmp")
    traffic, truth_part = _GzipLines(tmp), _GzipLines(out_dir / PARTS_DIR / f"{shard:05d}.gz")
    tally = Tally()
    exposures: dict[str, tuple[str, str]] = {}
    for record, truth in ShardGenerator(config, shard):
        traffic.write(record)
        truth_part.write(truth)
        tally.add(record, truth)
        experiment = record["experiment"]
        if experiment:
            user_id, started = record["user_id"], record["started_at"]
            if user_id not in exposures or started < exposures[user_id][0]:
                exposures[user_id] = (started, experiment["arm"])
    traffic.close()
    truth_part.close()
    os.replace(tmp, final)
    return {
        "shard": shard,
        "path": f"{TRAFFIC_DIR}/{final.name}",
        "conversations": config.shard_range(shard)[1],
        "bytes": final.stat().st_size,
        "sha256": file_sha256(final),
        "tally": tally,
        "exposures": exposures,
    }


def _up_to_date(out: Path, config: SimulationConfig) -> dict | None:
    marker = out / MARKER
    if not marker.exists():
        return None
    try:
        previous = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    same = (
        previous.get("config") == config.model_dump(mode="json")
        and previous.get("simulator_version") == SIMULATOR_VERSION
    )
    if not same:
        return None
    files = previous.get("files", {})
    entries = files.get("traffic", []) + [files.get("exposures", {}), files.get("truth", {})]
    for entry in entries:
        path = out / entry["path"] if entry.get("path") else None
        if path is None or not path.exists() or path.stat().st_size != entry.get("bytes"):
            return None
    return previous


def _clean(out: Path) -> None:
    """Remove a previous simulation's outputs (only files this module writes), marker first."""
    for name in (MARKER, "exposures.jsonl.gz", "truth.jsonl.gz", ".truth.jsonl.gz.tmp"):
        (out / name).unlink(missing_ok=True)
    traffic = out / TRAFFIC_DIR
    if traffic.exists():
        for path in list(traffic.glob("part-*.jsonl.gz")) + list(traffic.glob(".part-*.tmp")) + [traffic / MALFORMED]:
            path.unlink(missing_ok=True)
    shutil.rmtree(out / PARTS_DIR, ignore_errors=True)


def _run_shards(config: SimulationConfig, out: Path, workers: int, progress: bool) -> list[dict]:
    tasks = [(config.model_dump(mode="json"), shard, str(out)) for shard in range(config.shards)]
    start, done, results = time.perf_counter(), 0, []

    def report(result: dict) -> None:
        nonlocal done
        done += result["conversations"]
        results.append(result)
        if progress:
            elapsed = time.perf_counter() - start
            rate = done / elapsed if elapsed else 0.0
            left = (config.conversations - done) / rate if rate else 0.0
            print(
                f"simulate: {len(results)}/{len(tasks)} shards, {done:,}/{config.conversations:,} conversations, "
                f"{rate:,.0f}/s, ~{left:,.0f}s left",
                file=sys.stderr,
                flush=True,
            )

    if workers <= 1 or len(tasks) == 1:
        for task in tasks:
            report(write_shard(*task))
    else:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=mp.get_context("spawn")) as pool:
            for future in as_completed([pool.submit(write_shard, *task) for task in tasks]):
                report(future.result())
    return sorted(results, key=lambda result: result["shard"])


def _write_truth(out: Path, shards: int) -> dict:
    parts = out / PARTS_DIR
    tmp, final = out / ".truth.jsonl.gz.tmp", out / "truth.jsonl.gz"
    with open(tmp, "wb") as sink:
        for shard in range(shards):
            with open(parts / f"{shard:05d}.gz", "rb") as part:
                shutil.copyfileobj(part, sink, 1 << 20)
    os.replace(tmp, final)
    shutil.rmtree(parts)
    return {"path": final.name, "bytes": final.stat().st_size, "sha256": file_sha256(final)}


def _lost(config: SimulationConfig, user_id: str, arm: str) -> bool:
    """Whether a test user's exposure line is dropped (config.drop_test_exposures, a planted sample-ratio
    mismatch): a hash of (seed, user), so the same users are lost in every run of the config."""
    if arm != "test" or not config.drop_test_exposures:
        return False
    digest = hashlib.sha256(f"drop-exposure:{config.seed}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < config.drop_test_exposures


def _write_exposures(out: Path, exposures: dict[str, tuple[str, str]], config: SimulationConfig) -> dict:
    kept = {user: value for user, value in exposures.items() if not _lost(config, user, value[1])}
    ordered = sorted(kept.items(), key=lambda item: (item[1][0], item[0]))
    lines = "".join(
        _encode({"experiment_id": config.experiment_id, "arm": arm, "user_id": user_id, "exposed_at": at}) + "\n"
        for user_id, (at, arm) in ordered
    )
    path = out / "exposures.jsonl.gz"
    atomic_write_bytes(path, gzip.compress(lines.encode(), compresslevel=GZIP_LEVEL, mtime=0))
    return {"path": path.name, "bytes": path.stat().st_size, "sha256": file_sha256(path), "rows": len(ordered)}


def malformed_lines(count: int, end_date: str) -> list[bytes]:
    """`count` lines that ingest must quarantine, cycling through the kinds of damage real logs show;
    each names its planted reason in its conversation id (`sim-bad-0003-unknown_role`)."""
    at = f"{end_date}T12:00:00Z"

    def record(number: int, reason: str, messages) -> dict:
        return {
            "conversation_id": f"sim-bad-{number:04d}-{reason}",
            "source": "user",
            "started_at": at,
            "user_id": f"u-bad-{number:04d}",
            "messages": messages,
        }

    kinds = [
        ("invalid_json", None),
        ("empty_messages", []),
        ("unknown_role", [{"role": "narrator", "content": "The scene fades.", "ts": at}]),
        ("bad_timestamp", [{"role": "user", "content": "hi there", "ts": "yesterday at noon"}]),
        ("invalid_value", [{"role": "user", "content": "hi", "ts": at, "signals": {"thumb": 5}}]),
    ]
    lines = []
    for number in range(count):
        reason, messages = kinds[number % len(kinds)]
        if messages is None:  # a line cut off mid-write
            lines.append(_encode(record(number, reason, []))[:60].encode())
        else:
            lines.append(_encode(record(number, reason, messages)).encode())
    return lines


def _write_malformed(out: Path, config: SimulationConfig) -> list[dict]:
    if not config.bad_records:
        return []
    path = out / TRAFFIC_DIR / MALFORMED
    payload = b"".join(line + b"\n" for line in malformed_lines(config.bad_records, config.end_date.isoformat()))
    atomic_write_bytes(path, gzip.compress(payload, GZIP_LEVEL, mtime=0))
    return [
        {
            "path": f"{TRAFFIC_DIR}/{MALFORMED}",
            "conversations": 0,
            "bytes": path.stat().st_size,
            "sha256": file_sha256(path),
        }
    ]


def _summary(report: dict, out: Path) -> str:
    counts, lift = report["counts"], report["experiment"]["achieved_lift"]
    internal = counts["by_source"].get("internal", 0) / max(counts["conversations"], 1)
    duplicates = sum(counts["duplicates_by_kind"].values())
    lift_text = (
        f"breadth {lift['breadth']:+.1%}, depth {lift['depth']:+.1%}"
        if lift["breadth"] is not None
        else "not measurable at this size"
    )
    return (
        f"{counts['conversations']:,} conversations ({counts['messages']:,} messages, {internal:.1%} internal) "
        f"in {len(report['files']['traffic'])} traffic file(s) under {out}; "
        f"{report['files']['exposures']['rows']:,} exposures; PII in {counts['user_messages_with_pii']:,} user "
        f"messages ({counts['pii_user_message_share']:.1%}, {sum(counts['pii_spans_by_type'].values()):,} spans); "
        f"{duplicates:,} planted duplicates and stock openers; experiment {report['experiment']['experiment_id']} lift {lift_text}."
    )


def run_simulation(
    config: SimulationConfig, out_dir: str | os.PathLike, workers: int = 2, progress: bool = True
) -> str:
    """Write the simulation described by `config` into `out_dir`; returns a one-paragraph summary.

    If `out_dir` already holds a complete simulation of the same config, nothing is regenerated.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"simulation output {out} exists and is not a directory")
    previous = _up_to_date(out, config)
    if previous is not None:
        return f"Up to date, skipped regeneration (same config, seed {config.seed}): " + _summary(previous, out)
    _clean(out)
    (out / TRAFFIC_DIR).mkdir(parents=True, exist_ok=True)
    (out / PARTS_DIR).mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = _run_shards(config, out, workers, progress)
    tally = Tally()
    exposures: dict = {}
    for result in results:
        tally.merge(result["tally"])
        for user_id, (at, arm) in result["exposures"].items():
            if user_id not in exposures or at < exposures[user_id][0]:
                exposures[user_id] = (at, arm)
    exposed = Counter(arm for _, arm in exposures.values())
    files = {
        "traffic": [{key: result[key] for key in ("path", "conversations", "bytes", "sha256")} for result in results]
        + _write_malformed(out, config),
        "truth": _write_truth(out, config.shards),
        "exposures": _write_exposures(out, exposures, config),
    }
    report = {
        "simulator_version": SIMULATOR_VERSION,
        "config": config.model_dump(mode="json"),
        "counts": tally.counts(exposed),
        "experiment": {
            "experiment_id": config.experiment_id,
            "arm_models": config.arm_models(),
            "assignment": f"sha256('{config.experiment_id}:' + user_id), lowest bit of the first byte: 1 = test",
            "planted": {
                "breadth_multiplier": config.breadth_multiplier,
                "dropped_test_exposures": config.drop_test_exposures,
                "depth": "gen-15 reply style (more questions back, fewer floods, walls, refusals)",
            },
            "achieved_lift": tally.lift(exposed),
        },
        "users": {"n_users": n_users(config.conversations), "activity": f"Pareto(shape={PARETO_SHAPE}) quantiles"},
        "signal_model": model_table(),
        "features": FEATURE_DOCS,
        "styles": {model: asdict(style) for model, style in STYLES.items()},
        "signal_rates_by_feature": tally.signal_rates_by_feature(),
        "duplicate_rates": RATES,
        "characters": len(CHARACTERS),
        "topics": [topic.topic_id for topic in TOPICS],
        "files": files,
    }
    atomic_write_bytes(out / MARKER, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode())
    seconds = time.perf_counter() - start
    rate = config.conversations / seconds if seconds else 0.0
    used = max(1, min(workers, config.shards))
    return f"Simulated in {seconds:,.1f}s ({rate:,.0f} conversations/s, {used} worker(s)): " + _summary(report, out)


def run_generations(
    config: SimulationConfig, out_dir: str | os.PathLike, generations: int, workers: int = 2, progress: bool = True
) -> list[str]:
    """`--generations N`: one simulation per experiment exp-gen16 .. exp-gen(15+N) under `out_dir/gen-NN`,
    in consecutive windows of `config.days` days, the last ending on `config.end_date`; the same users
    throughout (so an experiment has pre-exposure activity for CUPED), new traffic in each."""
    import datetime as dt

    from curation.simulator.config import FIRST_GENERATION, LAST_GENERATION

    if not 1 <= generations <= LAST_GENERATION - FIRST_GENERATION:
        raise ValueError(f"--generations must be 1 to {LAST_GENERATION - FIRST_GENERATION} (gen-16 .. gen-18)")
    summaries = []
    for i in range(generations):
        generation = FIRST_GENERATION + 1 + i
        end = config.end_date - dt.timedelta(days=config.days * (generations - 1 - i))
        step = config.model_copy(update={"generation": generation, "end_date": end})
        summaries.append(run_simulation(step, Path(out_dir) / f"gen-{generation}", workers=workers, progress=progress))
    return summaries
