"""Labeling screen latency with 100,000 tasks in the store: the next item by the indexed routing query
vs the naive way (count each item's labels and open assignments, then sort the whole queue).

Contenders, each in a fresh process on its own copy of the store:
- next item (naive scan) / next item (indexed): the routing query alone, in its write transaction;
- screen, naive routing / screen, flywheel: the Streamlit labeling screen through AppTest, from the
  click on "A > B" to the next item rendered (the submit run plus the rerun that renders the next item).

Run: `python -m benchmarks.bench_label` (BENCH_SCALE=0.1 for a quick run).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import statistics
import time
from pathlib import Path

from benchmarks.harness import CACHE_DIR, measure, report, save_json, scale, table

QUERY_CALLS = 60
SCREEN_CLICKS = 25
USER = "bench-user"

NAIVE_NEXT_SQL = """
SELECT t.task_id FROM tasks t
LEFT JOIN (SELECT task_id, count(*) AS n FROM labels WHERE is_adjudication = 0 GROUP BY task_id) l USING (task_id)
LEFT JOIN (SELECT task_id, count(*) AS n FROM assignments WHERE state = 'open' GROUP BY task_id) o USING (task_id)
WHERE t.queue_id = ? AND coalesce(l.n, 0) + coalesce(o.n, 0) < t.per_item
  AND t.task_id NOT IN (SELECT task_id FROM assignments WHERE annotator = ?)
ORDER BY coalesce(l.n, 0) + coalesce(o.n, 0), t.task_id LIMIT 1
"""


def _payload(rng: random.Random, i: int) -> dict:
    words = [
        "captain",
        "star",
        "ship",
        "course",
        "nebula",
        "galaxy",
        "crew",
        "engine",
        "warp",
        "signal",
        "planet",
        "orbit",
    ]
    say = lambda n: " ".join(rng.choice(words) for _ in range(n)).capitalize() + "."  # noqa: E731
    prompt = [{"role": "system", "content": "You are Captain Mira. A cheerful starship captain."}]
    for _ in range(2):
        prompt += [{"role": "user", "content": say(20)}, {"role": "assistant", "content": say(30)}]
    prompt.append({"role": "user", "content": say(20)})
    return {
        "prompt": prompt,
        "character": {
            "id": "ch-captain",
            "name": "Captain Mira",
            "description": "A cheerful starship captain.",
            "instructions": "Stay in character.",
            "system_prompt": prompt[0]["content"],
        },
        "candidates": [
            {"sample_id": f"c{i}:7", "text": say(50), "model_version": "gen-1", "origin": None},
            {"sample_id": f"c{i}:8", "text": say(50), "model_version": "gen-1", "origin": None},
        ],
        "meta": {"conversation_id": f"c{i}", "turn": 7, "source": "user"},
    }


def build_store(tasks: int) -> Path:
    """A lake whose store holds `tasks` pairwise items: 30% complete (3 labels), 30% with one label."""
    from labeling_app.config import load_config, queue_spec
    from labeling_app.store import Store, side_mapping

    root = CACHE_DIR / f"label-{tasks}" / "lake"
    done = root / "labels" / ".built"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = random.Random(7)
    with Store.for_lake(root) as store:
        queue = store.create_queue("bench", "pairwise", 3, "benchmark", queue_spec(load_config(), "pairwise"), "bench")
        store.add_tasks(queue.queue_id, ((f"k{i}", _payload(rng, i)) for i in range(tasks)))
        spec_version = queue.spec["guideline_version"]
        assignments, labels, counts = [], [], []
        for task_id in range(1, int(tasks * 0.6) + 1):
            n = 3 if task_id <= tasks * 0.3 else 1
            counts.append((n, n, task_id))
            for k in range(n):
                annotator = f"a{(task_id + k) % 10}"
                sides = side_mapping(task_id, annotator)
                assignments.append((task_id, annotator, queue.queue_id, "done", json.dumps(sides), 0.0, 1.0))
                value = {"choice": "A", "preferred": sides[0], "tie": False, "strength": None, "reason": None}
                labels.append(
                    (
                        task_id,
                        queue.queue_id,
                        annotator,
                        "annotator",
                        json.dumps(value),
                        3.0,
                        spec_version,
                        json.dumps({"A": sides[0], "B": sides[1]}),
                        1.0,
                        f"{task_id}-{annotator}",
                    )
                )
        con = store.con
        con.execute("BEGIN IMMEDIATE")
        con.executemany(
            "INSERT INTO assignments (task_id, annotator, queue_id, state, sides, assigned_at, finished_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            assignments,
        )
        con.executemany(
            "INSERT INTO labels (task_id, queue_id, annotator, role, value, seconds, guideline_version, "
            "side_mapping, created_at, submission_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            labels,
        )
        con.executemany("UPDATE tasks SET n_labels = ?, load = ? WHERE task_id = ?", counts)
        con.execute("UPDATE queues SET n_labels = ?, n_complete = ?", (len(labels), int(tasks * 0.3)))
        con.execute("COMMIT")
        con.execute("ANALYZE")
    done.touch()
    return root


def _copy(root: Path, name: str) -> Path:
    target = CACHE_DIR / f"run-{name}" / "lake"
    shutil.rmtree(target.parent, ignore_errors=True)
    shutil.copytree(root, target)
    return target


def naive_next_task(self, queue_id: int, annotator: str, *, now: float | None = None):
    """The same routing rule with no counters or partial index: counts and sorts the queue each time."""
    from labeling_app.store import side_mapping

    now = time.time() if now is None else now
    with self._write() as con:
        row = con.execute(
            "SELECT task_id FROM assignments WHERE annotator = ? AND queue_id = ? AND state = 'open'",
            (annotator, queue_id),
        ).fetchone()
        if row is None:
            row = con.execute(NAIVE_NEXT_SQL, (queue_id, annotator)).fetchone()
            if row is None:
                return None
            con.execute(
                "INSERT INTO assignments (task_id, annotator, queue_id, state, sides, assigned_at) "
                "VALUES (?, ?, ?, 'open', ?, ?)",
                (row[0], annotator, queue_id, json.dumps(side_mapping(row[0], annotator)), now),
            )
            con.execute("UPDATE tasks SET load = load + 1 WHERE task_id = ?", (row[0],))
    return self.assignment(row[0], annotator)


def _percentiles(samples: list[float]) -> dict:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
    }


def run_queries(root: str, naive: bool) -> dict:
    """Next item then its label, QUERY_CALLS times; only the next-item call is timed."""
    from labeling_app.store import Store

    if naive:
        Store.next_task = naive_next_task
    samples = []
    with Store.for_lake(Path(root)) as store:
        queue = store.queue("bench")
        for _ in range(QUERY_CALLS):
            start = time.perf_counter()
            assignment = store.next_task(queue.queue_id, USER)
            samples.append(time.perf_counter() - start)
            store.submit(assignment.task.task_id, USER, "annotator", {"choice": "tie"})
    return _percentiles(samples)


def run_screens(root: str, naive: bool) -> dict:
    """Click "A > B" SCREEN_CLICKS times in AppTest; each click is timed until the next item is rendered."""
    from streamlit.testing.v1 import AppTest

    from labeling_app.settings import APP_SCRIPT
    from labeling_app.store import Store

    if naive:
        Store.next_task = naive_next_task
    os.environ.update({"FLYWHEEL_LAKE": root, "FLYWHEEL_LABEL_LOCAL_MODE": "1"})
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=120)
    at.query_params["queue"] = "bench"
    at.run()
    first_render = time.perf_counter()
    at.run()
    reload_seconds = time.perf_counter() - first_render
    samples = []
    for _ in range(SCREEN_CLICKS):
        task = at.query_params["task"]
        start = time.perf_counter()
        at.button(key=f"pairwise-A-None-{task}").click().run()
        samples.append(time.perf_counter() - start)
        assert at.query_params["task"] != task and not at.exception
    return {**_percentiles(samples), "reload_ms": round(reload_seconds * 1000, 1)}


def latency_table(title: str, baseline, others) -> str:
    """Per-call latency from each contender's own timings (setup and the label writes left out)."""
    lines = [
        f"### {title}",
        "",
        "| contender | p50 ms | p95 ms | max ms | p50 speed-up vs baseline |",
        "|---|---:|---:|---:|---:|",
    ]
    for m in [baseline, *others]:
        ratio = baseline.extra["p50_ms"] / m.extra["p50_ms"] if m.extra["p50_ms"] else float("inf")
        lines.append(
            f"| {m.name} | {m.extra['p50_ms']:,.1f} | {m.extra['p95_ms']:,.1f} | {m.extra['max_ms']:,.1f} "
            f"| {ratio:,.1f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    tasks = scale(100_000)
    started = time.perf_counter()
    root = build_store(tasks)
    print(
        f"store with {tasks:,} tasks ready in {time.perf_counter() - started:.1f}s "
        f"({(root / 'labels' / 'labels.sqlite').stat().st_size / 2**20:,.0f} MB)",
        flush=True,
    )
    query_naive = measure(
        "next item, naive scan", run_queries, str(_copy(root, "qn")), True, items=QUERY_CALLS, unit="calls"
    )
    query_indexed = measure(
        "next item, indexed (flywheel)", run_queries, str(_copy(root, "qi")), False, items=QUERY_CALLS, unit="calls"
    )
    screen_naive = measure(
        "screen, naive routing", run_screens, str(_copy(root, "sn")), True, items=SCREEN_CLICKS, unit="screens"
    )
    screen_indexed = measure(
        "screen, flywheel", run_screens, str(_copy(root, "si")), False, items=SCREEN_CLICKS, unit="screens"
    )
    text = "\n\n".join(
        [
            f"Label store: {tasks:,} pairwise tasks, {int(tasks * 0.3) * 3 + int(tasks * 0.3):,} labels.",
            latency_table(
                "Next item for an annotator (routing query in its write transaction)", query_naive, [query_indexed]
            ),
            latency_table(
                "Labeling screen: click to next item rendered (AppTest: submit run + rerun)",
                screen_naive,
                [screen_indexed],
            ),
            table("Whole query runs (each call: next item + its label write)", query_naive, [query_indexed]),
            table("Whole screen runs (AppTest overhead included)", screen_naive, [screen_indexed]),
        ]
    )
    report("bench_label", text)
    save_json(
        "bench_label",
        {
            m.name: {"seconds": m.seconds, "peak_rss_mb": m.peak_rss_mb, **m.extra}
            for m in (query_naive, query_indexed, screen_naive, screen_indexed)
        },
    )
    for name in ("qn", "qi", "sn", "si"):
        shutil.rmtree(CACHE_DIR / f"run-{name}", ignore_errors=True)


if __name__ == "__main__":
    main()
