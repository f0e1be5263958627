"""Small lakes for the release tests: native records (tests/helpers/records.py style) carrying the signals the
release builders select on, ingested through the real ingest stage."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

from tests.helpers.records import TEMPLATE, line, record, write_lines

LUNA = TEMPLATE["character"]
ORION = {
    "character_id": "char-orion",
    "name": "Orion",
    "description": "A grumpy old sailor.",
    "instructions": "Answer like a sailor.",
}
TOPICS = [
    "comets",
    "black holes",
    "the moon",
    "saturn rings",
    "meteor showers",
    "mars",
    "nebulae",
    "pulsars",
    "quasars",
    "dark matter",
    "auroras",
    "eclipses",
]


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def reply(text: str, **signals) -> dict:
    base = {"continued": False, "thumb": 0, "love": False, "regenerated": False, "reported": False, "feedback": None}
    return {"role": "assistant", "content": text, "signals": {**base, **signals}}


def chat(cid: str, messages: list[dict], character: dict | None = LUNA, **fields) -> dict:
    rec = record(0, messages=messages, **fields)
    rec["conversation_id"] = cid
    rec["character"] = copy.deepcopy(character)
    return rec


def plain_conversations(n: int = 30) -> list[dict]:
    """Two-turn chats: a liked first reply the user went on with, then a neutral one."""
    out = []
    for i in range(n):
        topic = TOPICS[i % len(TOPICS)]
        out.append(
            chat(
                f"c-{i:02d}",
                [
                    user(f"Hi Luna, could you please tell me something surprising about {topic} number {i}?"),
                    reply(
                        f"Sure! Here is a fact about {topic}: it is older than it looks. Want another one?",
                        continued=True,
                        thumb=1,
                    ),
                    user("Yes please, one more."),
                    reply(f"Another thing about {topic}: you can see it best at dawn.", thumb=0),
                ],
                character=LUNA if i % 3 else ORION,
            )
        )
    return out


def regeneration_conversations() -> list[dict]:
    """A regenerated reply, its replacement, then one more turn; variants for every drop reason."""
    out = []
    for i in range(12):
        good = "Once upon a time a small dragon learned to fly over the sea. Shall I go on?"
        signals = {"continued": True}
        if i in (8, 9):
            signals = {"continued": False, "thumb": 0}  # the user did not go on with the replacement
        if i == 10:
            good = " ".join(["The dragon flew on and on over the endless sea"] * 12) + "."
        if i == 11:
            good = "A dragon story! \U0001f409\U0001f525\U0001f30a\u2728\U0001f31f\U0001f600 Ready?"
        out.append(
            chat(
                f"r-{i:02d}",
                [
                    user(f"Tell me a story about dragons and castles, version {i}."),
                    reply("I do not really feel like telling stories today.", regenerated=True),
                    reply(good, **signals),
                    user("What happened next?"),
                    reply("The dragon slept.", thumb=-1),
                ],
            )
        )
    return out


def feedback_conversations() -> list[dict]:
    out = [
        chat(
            f"d-{i}", [user(f"Explain tides to me, attempt {i}."), reply("Tides are when water does stuff.", thumb=-1)]
        )
        for i in range(4)
    ]
    out += [
        chat(f"p-{i}", [user(f"Say something nasty, try {i}."), reply("You are boring.", reported=True)])
        for i in range(2)
    ]
    out.append(chat("x-0", [user("Rate my poem about the sea please."), reply("Lovely poem!", thumb=1, reported=True)]))
    return out


def all_records() -> list[dict]:
    return plain_conversations() + regeneration_conversations() + feedback_conversations()


def ingest(lake_root: Path, records: list[dict], extra_paths: tuple[Path, ...] = ()) -> None:
    from rich.console import Console

    from curation.pipeline import runner
    from curation.pipeline.recipe import parse
    from lakehouse.lake import Lake

    path = write_lines(lake_root.parent / f"{lake_root.name}-input.jsonl", [line(r) for r in records])
    stage = {"stage": "ingest", "paths": [str(path), *map(str, extra_paths)], "source": "internal"}
    result = runner.run(
        parse({"name": "test", "stages": [stage]}), Lake(lake_root), Console(quiet=True), command="ingest"
    )
    assert result.status == "succeeded", result.error


def copy_lake(template: Path, target: Path) -> Path:
    """A copy of a lake, with its own catalog (the copied one points at the template's files)."""
    from lakehouse import catalog
    from lakehouse.lake import Lake

    shutil.copytree(template, target)
    catalog.refresh(Lake(target))
    return target
