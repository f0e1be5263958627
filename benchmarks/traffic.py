"""A small, fast native-traffic generator for the release benchmark (DESIGN 3.1 records).

It stands in for `flywheel simulate` (curation/simulator) until that lands on this branch: the
benchmark only needs realistic *shapes* (a few turns per conversation, characters, topics, replies of
varied style, and the signals releases select on: continued, thumbs, love, regenerations with their
replacement, reports). `generate(n, seed, out_dir)` writes `out_dir/traffic/part-*.jsonl.gz`; swap it
for `curation.simulator.run_simulation` by changing `benchmarks.bench_releases.TRAFFIC`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import random
from pathlib import Path

CHARACTERS = [
    {"character_id": f"char-{i:03d}", "name": name, "description": f"A {trait} {job}.",
     "instructions": f"Stay in character as a {job}; keep replies {length}."}
    for i, (name, trait, job, length) in enumerate(
        (n, t, j, ln)
        for n in ("Luna", "Orion", "Maya", "Kai", "Iris", "Theo", "Nova", "Sage")
        for t in ("cheerful", "grumpy", "curious", "calm", "witty")
        for j, ln in (("astronomer", "short"), ("chef", "friendly"), ("detective", "mysterious"))
    )
]
TOPICS = {
    "space": ["comets", "black holes", "the moon", "mars rovers", "telescopes", "eclipses"],
    "cooking": ["pasta", "sourdough", "curry", "pancakes", "knife skills", "spices"],
    "mystery": ["a missing cat", "a locked room", "strange footprints", "a coded letter", "the old mill"],
    "music": ["jazz chords", "learning guitar", "film scores", "drum grooves", "singing in tune"],
    "travel": ["Lisbon", "night trains", "packing light", "mountain huts", "street food"],
    "feelings": ["a bad day", "exam stress", "a new job", "missing friends", "sleeping badly"],
}
OPENERS = ["Hi {name}, can you tell me about {thing}?", "What do you think about {thing}?",
           "I have been wondering about {thing} lately.", "Explain {thing} like I'm five.",
           "Any tips on {thing}?", "{name}, quick question about {thing}."]
FOLLOW_UPS = ["Why is that?", "Tell me more about {thing}.", "That is interesting, go on.",
              "Can you give me an example with {thing}?", "Really? I did not know that about {thing}.",
              "What would you do about {thing}?", "ok", "Thanks! One more thing about {thing}?"]
REPLY_STEMS = ["{thing} is fascinating because it surprises people", "Honestly, {thing} comes down to patience",
               "The trick with {thing} is to start small", "Most people get {thing} wrong at first",
               "I love talking about {thing}", "Let me think about {thing} for a second"]
DETAILS = ["and practice", "and a good notebook", "with a friend", "every morning", "when it is quiet",
           "and a bit of luck", "step by step", "without rushing"]
EMOJI = ["\U0001F600", "\U0001F31F", "\U0001F680", "\U0001F355", "\u2728", "\U0001F50D"]
USERS = 50_000
START = dt.datetime(2026, 10, 5, tzinfo=dt.timezone.utc)


def _reply(rng: random.Random, thing: str, good: bool) -> str:
    text = rng.choice(REPLY_STEMS).format(thing=thing) + " " + " ".join(rng.sample(DETAILS, rng.randint(1, 3))) + "."
    if rng.random() < (0.1 if good else 0.35):
        text += "\n- " + "\n- ".join(rng.sample(DETAILS, 3))
    if rng.random() < (0.15 if good else 0.5):
        text += " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 5)))
    if rng.random() < (0.05 if good else 0.25):
        text = text + " " + " ".join(rng.choice(DETAILS) for _ in range(40))
    if good and rng.random() < 0.4:
        text += f" What got you into {thing}?"
    return text


def _signals(rng: random.Random, can_regenerate: bool, last: bool) -> dict:
    regenerated = can_regenerate and rng.random() < 0.05
    u = rng.random()
    thumb = 1 if u < 0.08 else -1 if u < 0.11 else 0
    return {"continued": not regenerated and not last and rng.random() < 0.9, "thumb": thumb,
            "love": thumb == 1 and rng.random() < 0.2, "regenerated": regenerated,
            "reported": rng.random() < 0.004, "feedback": None}


def conversation(rng: random.Random, i: int) -> dict:
    character = rng.choice(CHARACTERS)
    topic = rng.choice(sorted(TOPICS))
    thing = rng.choice(TOPICS[topic])
    started = START + dt.timedelta(seconds=rng.randint(0, 27 * 86400))
    messages = []
    turns = rng.choice((1, 1, 2, 2, 3, 4))
    for t in range(turns):
        template = OPENERS if t == 0 else FOLLOW_UPS
        messages.append({"role": "user", "content": rng.choice(template).format(name=character["name"], thing=thing)
                         + (f" (#{rng.randint(0, 999)})" if rng.random() < 0.5 else "")})
        last = t == turns - 1
        signals = _signals(rng, can_regenerate=True, last=last)
        messages.append({"role": "assistant", "content": _reply(rng, thing, good=False), "signals": signals})
        if signals["regenerated"]:
            messages.append({"role": "assistant", "content": _reply(rng, thing, good=True),
                             "signals": _signals(rng, can_regenerate=False, last=last)})
    return {
        "conversation_id": f"conv-{i:08d}", "source": "user" if rng.random() < 0.85 else "internal",
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"), "user_id": f"user-{rng.randint(0, USERS - 1)}",
        "character": character, "model_version": rng.choice(("gen-13", "gen-14")),
        "experiment": {"experiment_id": "exp-1", "arm": rng.choice(("control", "treatment"))},
        "app": rng.choice(("web", "ios", "android")), "locale": "en-US", "messages": messages,
    }


def generate(n: int, seed: int, out_dir: Path, per_file: int = 100_000) -> Path:
    """Write `n` conversations as gzipped native JSONL under `out_dir/traffic/`; returns that folder."""
    traffic = out_dir / "traffic"
    traffic.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, n, per_file)):
        rng = random.Random(f"{seed}-{part}")
        lines = [json.dumps(conversation(rng, i), ensure_ascii=False) for i in range(start, min(n, start + per_file))]
        data = ("\n".join(lines) + "\n").encode()
        (traffic / f"part-{part:05d}.jsonl.gz").write_bytes(gzip.compress(data, compresslevel=1, mtime=0))
    return traffic
