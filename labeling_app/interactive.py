"""Interactive labeling: an annotator chats with a character and judges two served candidates per turn.

A queue item is a character card and a scenario card (a challenge to try, e.g. test one instruction of
the persona). The queue's spec names the model pool file and the two pool models (or one model twice:
two samples), and how the chat goes on after a judged turn: `random` (the report's protocol: the next
turn's history is not biased towards the winner) or `preferred`.

Each turn's seed comes from (task, annotator, turn): it shuffles the sides, seeds the two samples and
flips the random continuation, so the same chat replays the same way. The two candidates are requested
at once through `lakehouse.serving.candidates`; both must arrive for a turn to exist (a failed request
names the model and the reason, and changes nothing in the store).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import Field

from labeling_app.config import LabelingConfig, load_config, queue_spec
from labeling_app.sources import SourceError, sql_rows
from labeling_app.store import Queue, Store, StoreError
from lakehouse import serving
from lakehouse.config import StrictModel, read_yaml, validate_model
from lakehouse.jsonl import json_line

LAKE_CHARACTERS = "characters"
MAX_TURNS = 10
CHARACTERS_SQL = """
SELECT DISTINCT character.character_id AS id, character.name AS name,
       coalesce(character.description, '') AS description, coalesce(character.instructions, '') AS instructions
FROM conversations
WHERE character IS NOT NULL AND coalesce(character.name, '') <> ''
ORDER BY id, name
"""


class Character(StrictModel):
    id: str | None = None
    name: str = Field(min_length=1)
    description: str = ""
    instructions: str = ""


class Scenario(StrictModel):
    title: str = Field(min_length=1)
    challenge: str = Field(min_length=1, description="What the annotator tries in this chat.")


class Card(StrictModel):
    character: Character
    scenario: Scenario


class InteractiveSettings(StrictModel):
    pool: Path
    models: list[str] = Field(min_length=1, max_length=2, description="two pool models, or one sampled twice")
    continuation: Literal["random", "preferred"] = "random"
    max_turns: int = Field(MAX_TURNS, ge=1, le=50)


@dataclass
class InteractiveQueue:
    queue: Queue
    added: int
    already_present: int

    def summary(self) -> str:
        spec = self.queue.spec
        present = f", {self.already_present:,} already in the queue" if self.already_present else ""
        return (
            f"queue {self.queue.name!r} (interactive, {self.queue.per_item} chats per item): {self.added:,} "
            f"character x scenario items added{present}; candidates from {' and '.join(spec['models'])} "
            f"in {spec['pool']}, continuation {spec['continuation']}"
        )


def _records(path: Path) -> list[object]:
    """The items of a YAML file (a list, or a mapping with `items`) or of a JSONL file (one per line)."""
    if not path.is_file():
        raise SourceError(f"no cards file at {path}")
    if path.suffix == ".jsonl":
        return [
            json_line(line, f"{path}:{n}", SourceError)
            for n, line in enumerate(path.open(encoding="utf-8"), 1)
            if line.strip()
        ]
    data = read_yaml(path)
    if isinstance(data, dict) and set(data) == {"items"}:
        data = data["items"]
    if not isinstance(data, list):
        raise SourceError(f"{path}: expected a list of cards (or `items:` with one)")
    return data


def load_cards(lake_root: Path, source: str, scenarios: Path | None = None) -> list[Card]:
    """Cards from a YAML/JSONL file of {character, scenario} items, or `characters`: every character in
    the lake crossed with each scenario of the `scenarios` file (a list of {title, challenge})."""
    if source == LAKE_CHARACTERS:
        if scenarios is None:
            raise SourceError("cards from the lake's characters need a scenarios file (--scenarios FILE)")
        found = [validate_model(Scenario, s, f"{scenarios}: item {i}") for i, s in enumerate(_records(scenarios))]
        characters = [Character(**row) for row in sql_rows(lake_root, CHARACTERS_SQL)]
        if not characters:
            raise SourceError("the lake has no characters (conversations with a named character)")
        return [Card(character=c, scenario=s) for c in characters for s in found]
    path = Path(source)
    cards = [validate_model(Card, record, f"{path}: item {i}") for i, record in enumerate(_records(path))]
    if scenarios is not None:
        raise SourceError("--scenarios goes with cards from the lake's characters, not with a cards file")
    return cards


def card_key(card: Card) -> str:
    return "interactive:" + hashlib.sha256(card.model_dump_json().encode()).hexdigest()[:16]


def payload(card: Card) -> dict:
    """A task's payload: the cards; `prompt` and `candidates` stay empty (the chat makes them)."""
    character = card.character.model_dump()
    return {"character": character, "scenario": card.scenario.model_dump(), "prompt": [], "candidates": []}


def check_settings(settings: InteractiveSettings) -> serving.ModelPool:
    pool = serving.load_pool(settings.pool)
    for name in settings.models:
        pool.get(name)
    return pool


def create_queue(
    lake_root: Path,
    *,
    source: str,
    settings: InteractiveSettings,
    scenarios: Path | None = None,
    per_item: int = 1,
    name: str | None = None,
    config: LabelingConfig | None = None,
    created_by: str = "cli",
) -> InteractiveQueue:
    """A queue of character x scenario chats; the pool and its models are checked before anything is written."""
    settings = settings.model_copy(update={"pool": settings.pool.expanduser().resolve()})
    check_settings(settings)
    cards = load_cards(lake_root, source, scenarios)
    if not cards:
        raise SourceError(f"{source} gave no cards")
    spec = {**queue_spec(config or load_config(), "interactive"), **settings.model_dump(mode="json")}
    name = name or f"interactive-{hashlib.sha256(source.encode()).hexdigest()[:6]}"
    with Store.for_lake(lake_root) as store:
        if name in {q.name for q in store.queues()}:
            raise StoreError(f"a queue named {name!r} already exists")
        queue = store.create_queue(name, "interactive", per_item, source, spec, created_by)
        added, present = store.add_tasks(queue.queue_id, [(card_key(c), payload(c)) for c in cards])
        return InteractiveQueue(store.queue(queue.queue_id), added, present)


# -- turns ------------------------------------------------------------------------------------------------


def turn_seed(task_id: int, annotator: str, turn: int) -> int:
    """The turn's seed: bit 0 flips the random continuation, bit 1 the sides; the rest seeds the samples."""
    digest = hashlib.sha256(f"interactive:{task_id}:{annotator}:{turn}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def sides(seed: int) -> list[int]:
    """Which candidate is shown as 1 (A) and which as 2 (B)."""
    return [1, 0] if (seed >> 1) & 1 else [0, 1]


def continued_text(turn: dict) -> str:
    label = turn["label"]
    if label["continued"] == "rewrite":
        return label["rewrite"]
    return turn["candidates"][int(label["continued"])]["text"]


def chat_so_far(turns: list[dict]) -> list[dict]:
    """The conversation after the labeled turns: the last one's context plus the reply it went on with."""
    labeled = [t for t in turns if t["label"] is not None]
    if not labeled:
        return []
    last = labeled[-1]
    return [*last["context"], {"role": "assistant", "content": continued_text(last)}]


class TurnFailed(serving.ServingError):
    """A candidate did not arrive; the message names each failed model and why."""


def request_candidates(spec: dict, character: dict, context: list[dict], seed: int) -> tuple[list[dict], float]:
    """Both candidates for `context`, requested at once; (candidates in pool order, wall seconds)."""
    pool = serving.load_pool(spec["pool"])
    names = list(spec["models"]) * (2 // len(spec["models"]))
    started = time.perf_counter()
    replies = serving.candidates(pool, names, context, character, seeds=[seed, seed + 1])
    seconds = time.perf_counter() - started
    failed = [str(r) for r in replies if isinstance(r, serving.ServingError)]
    if failed:
        raise TurnFailed("; ".join(failed))
    out = []
    for reply in replies:
        assert isinstance(reply, serving.Reply)
        model = pool.get(reply.model)
        out.append(
            {
                "model": reply.model,
                "model_id": model.model,
                "endpoint": model.endpoint,
                "text": reply.text,
                "seconds": round(reply.seconds, 4),
                "finish_reason": reply.finish_reason,
                "completion_tokens": reply.completion_tokens,
            }
        )
    return out, seconds


def new_turn(store: Store, queue: Queue, task_id: int, annotator: str, message: str) -> dict:
    """Send the user's message: request both candidates and store the turn (nothing is stored on failure)."""
    task = store.task(task_id)
    turns = store.turns(task_id=task_id, annotator=annotator)
    if turns and turns[-1]["label"] is None:
        raise StoreError("judge the open turn before sending another message")
    number = len(turns)
    if number >= int(queue.spec.get("max_turns", MAX_TURNS)):
        raise StoreError(f"this chat has its {number} turns: finish it")
    context = [*chat_so_far(turns), {"role": "user", "content": message}]
    seed = turn_seed(task_id, annotator, number)
    candidates, seconds = request_candidates(queue.spec, task.payload["character"], context, seed)
    return store.add_turn(task_id, annotator, number, context, candidates, sides(seed), seed, round(seconds, 4))
