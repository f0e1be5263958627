"""Native traffic records for tests, built from one valid template so each test changes one thing."""

from __future__ import annotations

import copy
import gzip
import json
from pathlib import Path

TEMPLATE = {
    "conversation_id": "c-0",
    "source": "user",
    "started_at": "2026-10-05T14:03:12Z",
    "user_id": "user-42",
    "character": {
        "character_id": "char-luna",
        "name": "Luna",
        "description": "A cheerful astronomer.",
        "instructions": "Keep answers short.",
    },
    "model_version": "gen-14",
    "experiment": {"experiment_id": "exp-1", "arm": "control"},
    "app": "web",
    "locale": "en-US",
    "messages": [
        {"role": "user", "content": "Hi Luna, what is a comet?", "ts": "2026-10-05T14:03:12Z"},
        {
            "role": "assistant",
            "content": "A dirty snowball in orbit! Want to see one?",
            "ts": "2026-10-05T14:03:15Z",
            "signals": {
                "continued": True,
                "thumb": 1,
                "love": False,
                "regenerated": False,
                "reported": False,
                "feedback": None,
            },
        },
        {"role": "user", "content": "Yes please", "ts": "2026-10-05T14:04:00Z"},
        {
            "role": "assistant",
            "content": "Look up at dawn next week.",
            "ts": "2026-10-05T14:04:03Z",
            "signals": {"continued": False, "thumb": 0},
        },
    ],
}


def record(i: int = 0, **changes) -> dict:
    rec = copy.deepcopy(TEMPLATE)
    rec["conversation_id"] = f"c-{i}"
    rec["user_id"] = f"user-{i % 7}"
    rec.update(changes)
    return rec


def line(rec) -> bytes:
    return json.dumps(rec).encode()


def write_lines(path: Path, lines: list[bytes], gz: bool = False) -> Path:
    data = b"\n".join(lines) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path
