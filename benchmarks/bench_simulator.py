"""Traffic simulator throughput: `flywheel simulate` against the naive way of faking chat traffic.

Baseline: one process that fills every message with Faker (`Faker.paragraph`, `Faker.sentence`, Faker's
PII providers per message), `json.dumps` per record and `gzip.open` at its default level 9. It plants no
truth, no signal model and no duplicates, so it does less than the simulator. Contenders: the simulator
with 1 worker, and with 2 workers at the benchmark size of 1,000,000 conversations.

Run: python -m benchmarks.bench_simulator   (BENCH_SCALE=0.05 for a quick run)
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
import resource
import shutil

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table


def cpu_seconds() -> float:
    """CPU time of this process and its finished children: unlike wall time, not inflated by other jobs."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def naive_faker(conversations: int, seed: int) -> dict:
    """Faker per message, json.dumps per record, gzip level 9, one process."""
    from faker import Faker

    faker = Faker()
    faker.seed_instance(seed)
    rng = random.Random(seed)
    out = CACHE_DIR / "sim-naive"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    start = dt.datetime(2026, 10, 5)
    with gzip.open(out / "part-00000.jsonl.gz", "wt") as sink:
        for i in range(conversations):
            started = start + dt.timedelta(seconds=rng.randrange(28 * 86400))
            messages = []
            for turn in range(1 + int(rng.paretovariate(1.5)) % 30):
                ts = (started + dt.timedelta(minutes=turn)).strftime("%Y-%m-%dT%H:%M:%SZ")
                text = faker.sentence()
                if rng.random() < 0.1:
                    text += (
                        " "
                        + rng.choice(
                            (
                                faker.email,
                                faker.phone_number,
                                faker.credit_card_number,
                                faker.iban,
                                faker.ipv4,
                                faker.ssn,
                                faker.name,
                                faker.address,
                            )
                        )()
                    )
                messages.append({"role": "user", "content": text, "ts": ts})
                messages.append(
                    {
                        "role": "assistant",
                        "content": faker.paragraph(nb_sentences=4),
                        "ts": ts,
                        "signals": {
                            "continued": True,
                            "thumb": 0,
                            "love": False,
                            "regenerated": False,
                            "reported": False,
                            "feedback": None,
                        },
                    }
                )
            record = {
                "conversation_id": f"sim-{i + 1:07d}",
                "source": "user",
                "started_at": messages[0]["ts"],
                "user_id": f"u-{rng.randrange(conversations // 4 + 1):06d}",
                "character": {
                    "character_id": "char-x",
                    "name": faker.first_name(),
                    "description": faker.paragraph(),
                    "instructions": faker.sentence(),
                },
                "model_version": "gen-14",
                "app": "web",
                "locale": "en-US",
                "messages": messages,
            }
            sink.write(json.dumps(record) + "\n")
    size = sum(p.stat().st_size for p in out.iterdir())
    shutil.rmtree(out)
    return {"traffic MB": round(size / 2**20), "conversations per CPU s": round(conversations / cpu_seconds())}


def simulator(conversations: int, seed: int, workers: int) -> dict:
    from curation.simulator import SimulationConfig, run_simulation

    out = CACHE_DIR / f"sim-{workers}w"
    shutil.rmtree(out, ignore_errors=True)
    run_simulation(SimulationConfig(conversations=conversations, seed=seed), out, workers=workers, progress=False)
    traffic = sum(p.stat().st_size for p in (out / "traffic").iterdir())
    report_json = json.loads((out / "simulation.json").read_text())
    shutil.rmtree(out)
    counts = report_json["counts"]
    lift = report_json["experiment"]["achieved_lift"]
    return {
        "traffic MB": round(traffic / 2**20),
        "conversations per CPU s": round(conversations / cpu_seconds()),
        "messages": counts["messages"],
        "breadth lift": lift["breadth"],
        "depth lift": lift["depth"],
    }


def main() -> None:
    naive_n, one_n, two_n = scale(20_000), scale(100_000), scale(1_000_000)
    baseline = measure(
        "naive Faker per message, 1 process", naive_faker, naive_n, 7, items=naive_n, unit="conversations"
    )
    one = measure(f"simulator, 1 worker ({one_n:,})", simulator, one_n, 7, 1, items=one_n, unit="conversations")
    two = measure(f"simulator, 2 workers ({two_n:,})", simulator, two_n, 7, 2, items=two_n, unit="conversations")
    report(
        "simulator",
        table("flywheel simulate: conversations/s (traffic, truth, exposures, simulation.json)", baseline, [one, two]),
    )
    save_json(
        "simulator",
        {
            m.name: {"seconds": m.seconds, "rate": m.rate, "peak_rss_mb": m.peak_rss_mb, **m.extra}
            for m in (baseline, one, two)
        },
    )


if __name__ == "__main__":
    main()
