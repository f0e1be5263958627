"""Interactive labeling latency: from the user's message to both candidates rendered, against the raw
endpoint latency of the same two requests, with the tiny model behind `flywheel serve` on this CPU.

For every turn of 10-turn chats, in the same process and against the same server:
- raw endpoint: `lakehouse.serving.candidates` for the turn's exact context, seeds and models (the two
  requests at once, as the app sends them), timed alone;
- app: the message sent through Streamlit's AppTest (the run that requests both candidates and stores the
  turn, then the rerun that renders them), timed until the page with both candidates is there.
The app's overhead is the app's time minus the wall time of its own two requests, turn by turn (target:
p95 < 150 ms); app minus the separate raw call of the same turn is shown too (it carries the run-to-run
spread of generation), and the app's CPU time, which a loaded machine does not inflate. The turn is then judged (not
timed) and the chat goes on, so late turns render a long chat.

Run: `python -m benchmarks.bench_interactive` (BENCH_SCALE=0.5 for a quick run: fewer chats).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.harness import report, save_json, scale

TURNS_PER_CHAT = 10
MAX_TOKENS = 8
STARTUP_S = 300


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _tiny_model(directory: Path) -> Path:
    from train.config import TinySettings
    from train.tiny import build

    model, tokenizer = build(["hello there, how are you?", "I am fine, thanks for asking."] * 40, TinySettings(), 0)
    model.generation_config.do_sample = True  # the server samples with each request's temperature and seed
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def _serve(model: Path) -> tuple[subprocess.Popen, int]:
    import socket

    import httpx

    from train.serve import command_line, server_env

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen(
        command_line(model, "127.0.0.1", port), env=server_env(), stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"transformers serve exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process, port
        except httpx.TransportError:
            time.sleep(1)
    process.kill()
    raise RuntimeError("transformers serve did not come up")


def _queue(work: Path, port: int, model: Path, chats: int):
    import yaml

    from labeling_app.interactive import InteractiveSettings, create_queue

    common = {"endpoint": f"http://127.0.0.1:{port}/v1", "model": str(model), "max_tokens": MAX_TOKENS}
    pool = work / "pool.yaml"
    pool.write_text(
        yaml.safe_dump(
            {"models": [{"name": "a", "temperature": 1.0, **common}, {"name": "b", "temperature": 0.8, **common}]}
        )
    )
    cards = [
        {
            "character": {
                "name": f"Captain {i}",
                "description": "A cheerful starship captain.",
                "instructions": "Stay in character.",
            },
            "scenario": {"title": "Small talk", "challenge": f"Chat about the ship, round {i}."},
        }
        for i in range(chats)
    ]
    (work / "cards.yaml").write_text(yaml.safe_dump(cards))
    lake = work / "lake"
    lake.mkdir()
    settings = InteractiveSettings(pool=pool, models=["a", "b"], max_turns=TURNS_PER_CHAT)
    return lake, create_queue(lake, source=str(work / "cards.yaml"), settings=settings, name="bench").queue


def _drive(lake: Path, queue, chats: int) -> list[dict]:
    """Every turn of `chats` chats: raw endpoint seconds and app seconds for the same two requests."""
    from streamlit.testing.v1 import AppTest

    from labeling_app import interactive
    from labeling_app.settings import APP_SCRIPT
    from labeling_app.store import Store
    from lakehouse import serving

    os.environ.update({"FLYWHEEL_LAKE": str(lake), "FLYWHEEL_LABEL_LOCAL_MODE": "1"})
    pool = serving.load_pool(queue.spec["pool"])
    at = AppTest.from_file(str(APP_SCRIPT), default_timeout=300)
    at.query_params["queue"] = "bench"
    at.run()
    samples = []
    store = Store.for_lake(lake, read_only=True)
    for _ in range(chats):
        task_id = int(at.query_params["task"])
        payload = store.task(task_id).payload
        for number in range(TURNS_PER_CHAT):
            message = f"Turn {number}: tell me about the ship and the crew."
            turns = store.turns(task_id=task_id, annotator="local")
            context = [*interactive.chat_so_far(turns), {"role": "user", "content": message}]
            seed = interactive.turn_seed(task_id, "local", number)
            started = time.perf_counter()
            replies = serving.candidates(pool, ["a", "b"], context, payload["character"], seeds=[seed, seed + 1])
            raw = time.perf_counter() - started
            assert all(isinstance(r, serving.Reply) for r in replies), replies
            started, cpu = time.perf_counter(), time.process_time()
            at.chat_input[0].set_value(message)
            at.run()
            app, app_cpu = time.perf_counter() - started, time.process_time() - cpu
            turn = store.turns(task_id=task_id, annotator="local")[-1]
            assert turn["turn"] == number and not at.exception and not at.error, [e.value for e in at.error]
            assert len([b for b in at.button if b.label.endswith("is better")]) == 2, "both candidates rendered"
            samples.append(
                {"raw_s": raw, "app_s": app, "app_cpu_s": app_cpu, "served_s": turn["seconds"], "turn": number}
            )
            next(b for b in at.button if b.label == "1 is better").click().run()
        next(b for b in at.button if b.label.startswith("Finish chat")).click().run()
    store.close()
    return samples


def summarize(samples: list[dict]) -> dict:
    raw = [s["raw_s"] * 1000 for s in samples]
    app = [s["app_s"] * 1000 for s in samples]
    overhead = [(s["app_s"] - s["served_s"]) * 1000 for s in samples]
    row = lambda v: {"p50_ms": round(statistics.median(v), 1), "p95_ms": round(_percentile(v, 0.95), 1)}  # noqa: E731
    return {
        "turns": len(samples),
        "raw_endpoint": row(raw),
        "message_to_candidates_rendered": row(app),
        "app_overhead": row(overhead),
        "app_minus_raw": row([a - r for a, r in zip(app, raw, strict=True)]),
        "app_cpu": row([s["app_cpu_s"] * 1000 for s in samples]),
        "load_average": round(os.getloadavg()[0], 1),
        "cpus": os.cpu_count(),
    }


def render(summary: dict) -> str:
    lines = [
        f"### Interactive labeling: user's message to both candidates rendered ({summary['turns']} turns of "
        f"{TURNS_PER_CHAT}-turn chats, tiny model on CPU, {MAX_TOKENS} tokens)",
        "",
        "| measure | p50 ms | p95 ms |",
        "|---|---:|---:|",
    ]
    names = {
        "raw_endpoint": "raw endpoint (both requests at once)",
        "message_to_candidates_rendered": "app: message to both candidates rendered",
        "app_overhead": "app overhead (app minus its own two requests)",
        "app_minus_raw": "app minus the raw endpoint call of the same turn",
        "app_cpu": "app CPU time per turn (this process: script, client threads)",
    }
    for key, label in names.items():
        lines.append(f"| {label} | {summary[key]['p50_ms']:,.1f} | {summary[key]['p95_ms']:,.1f} |")
    lines += ["", f"Load average {summary['load_average']} on {summary['cpus']} CPUs when it finished."]
    return "\n".join(lines)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    chats = scale(2)
    with tempfile.TemporaryDirectory(prefix="bench-interactive-") as tmp:
        work = Path(tmp)
        model = _tiny_model(work / "model")
        process, port = _serve(model)
        try:
            lake, queue = _queue(work, port, model, chats)
            samples = _drive(lake, queue, chats)
        finally:
            process.kill()
            process.wait()
    summary = summarize(samples)
    save_json("bench_interactive", {**summary, "samples": samples})
    report("bench_interactive", render(summary))


if __name__ == "__main__":
    main()
