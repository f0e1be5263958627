"""Small synthetic releases of every type, with a preference signal a tiny model can learn.

Used by the GPU check, the benchmark and the tests, so that the training loop can be exercised on any
machine without the curation pipeline. The signal mirrors what the traffic simulator plants: a good
reply is short, on topic and hands the turn back with a question; a bad one is a wall of text or an emoji
flood. Splits are made by topic, as the release builders do, so held-out pairs come from unseen topics.
"""

from __future__ import annotations

import random

import pyarrow as pa

from lakehouse.lake import Lake
from lakehouse.releases import Release, ReleaseWriter

MESSAGE = pa.struct([("role", pa.string()), ("content", pa.string())])
MESSAGES = pa.list_(MESSAGE)
PROVENANCE_FIELDS = [
    pa.field("sample_id", pa.string()),
    pa.field("source", pa.string()),
    pa.field("conversation_id", pa.string()),
    pa.field("turn", pa.int32()),
    pa.field("topic_cluster", pa.int32()),
    pa.field("dedup_cluster", pa.string()),
    pa.field("model_version", pa.string()),
]
SCHEMAS = {
    "sft": pa.schema([pa.field("messages", MESSAGES), *PROVENANCE_FIELDS]),
    "preference": pa.schema(
        [pa.field("prompt", MESSAGES), pa.field("chosen", MESSAGES), pa.field("rejected", MESSAGES), *PROVENANCE_FIELDS]
    ),
    "unpaired": pa.schema(
        [
            pa.field("prompt", MESSAGES),
            pa.field("completion", MESSAGES),
            pa.field("label", pa.bool_()),
            *PROVENANCE_FIELDS,
        ]
    ),
    "prompt": pa.schema([pa.field("prompt", MESSAGES), *PROVENANCE_FIELDS]),
}

CHARACTERS = [
    ("Captain Mira", "a cheerful starship pilot who loves a good story"),
    ("Professor Quill", "a patient historian with a dry sense of humour"),
    ("Chef Basil", "an enthusiastic cook who thinks every problem has a recipe"),
    ("Luna", "a calm night-sky guide who speaks softly"),
]
TOPICS = {
    "cooking": ["soup", "bread", "pasta", "spices", "breakfast"],
    "travel": ["trains", "mountains", "old cities", "packing", "maps"],
    "music": ["jazz", "guitars", "choirs", "playlists", "concerts"],
    "space": ["comets", "the moon", "rockets", "stars", "planets"],
    "gardening": ["tomatoes", "roses", "compost", "seeds", "bees"],
    "books": ["novels", "poems", "libraries", "mysteries", "comics"],
    "sports": ["running", "chess", "swimming", "football", "climbing"],
    "games": ["puzzles", "card games", "board games", "riddles", "quests"],
}
OPENERS = [
    "I want to talk about {x}.",
    "What do you think of {x}?",
    "Tell me something about {x}.",
    "I had a long day and keep thinking about {x}.",
    "Do you like {x}?",
]
GOOD = [
    "Oh, {x} is a lovely subject. {fact} What got you curious about {x}?",
    "I like {x} a lot. {fact} Which part of {x} do you enjoy most?",
    "Good pick. {fact} Have you tried {x} yourself lately?",
    "{fact} That is my favourite thing about {x}. What about you?",
]
FACTS = [
    "People have enjoyed {x} for a very long time.",
    "There is always something new to learn about {x}.",
    "Small details make {x} more fun.",
    "Friends often share stories about {x}.",
]
FILLER = [
    "{x} is something that many people think about in many different ways and there are a lot of",
    "things to say about {x} because it has a long history and plenty of variety and also",
    "when you consider {x} from every angle you notice that it connects to many other topics and",
    "so it is worth saying again that {x} matters to a lot of people for a lot of reasons and",
]
EMOJI = "\U0001f600\U0001f389\U0001f525\u2728\U0001f680\U0001f60d\U0001f44d\U0001f308"


def _good(rng: random.Random, x: str) -> str:
    return rng.choice(GOOD).format(x=x, fact=rng.choice(FACTS).format(x=x))


def _bad(rng: random.Random, x: str) -> str:
    if rng.random() < 0.5:
        words = " ".join(rng.choice(FILLER).format(x=x) for _ in range(9))
        return words[0].upper() + words[1:] + " that is all."
    flood = "".join(rng.choice(EMOJI) for _ in range(rng.randint(5, 9)))
    return f"{x.capitalize()} {flood} so great {flood}!!!"


def _sample(rng: random.Random, i: int, kind: str) -> dict:
    name, description = CHARACTERS[i % len(CHARACTERS)]
    topic_index = rng.randrange(len(TOPICS))
    x = rng.choice(list(TOPICS.values())[topic_index])
    prompt = [
        {"role": "system", "content": f"You are {name}. {description.capitalize()}."},
        {"role": "user", "content": rng.choice(OPENERS).format(x=x)},
    ]
    if rng.random() < 0.3:  # a second turn: the context holds an earlier exchange
        follow_up = rng.choice(list(TOPICS.values())[topic_index])
        prompt += [
            {"role": "assistant", "content": _good(rng, x)},
            {"role": "user", "content": rng.choice(OPENERS).format(x=follow_up)},
        ]
    return {
        "x": x,
        "prompt": prompt,
        "good": _good(rng, x),
        "bad": _bad(rng, x),
        "sample_id": f"syn-{kind}-{i:05d}:{len(prompt) - 1}",
        "source": "internal" if rng.random() < 0.3 else "user",
        "conversation_id": f"syn-{kind}-{i:05d}",
        "turn": len(prompt) - 1,
        "topic_cluster": topic_index,
        "dedup_cluster": f"{kind}-{i:05d}",
        "model_version": "gen-0",
    }


def split_of(topic_cluster: int) -> str:
    """Whole topics go to one split, as the release builders split by cluster."""
    return {0: "test", 1: "validation"}.get(topic_cluster % 4, "train")


def _row(kind: str, s: dict, rng: random.Random) -> dict:
    reply = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
    provenance = {f.name: s[f.name] for f in PROVENANCE_FIELDS}
    if kind == "sft":
        return {"messages": s["prompt"] + reply(s["good"]), **provenance}
    if kind == "preference":
        return {"prompt": s["prompt"], "chosen": reply(s["good"]), "rejected": reply(s["bad"]), **provenance}
    if kind == "unpaired":
        label = rng.random() < 0.5
        return {
            "prompt": s["prompt"],
            "completion": reply(s["good"] if label else s["bad"]),
            "label": label,
            **provenance,
        }
    return {"prompt": s["prompt"], **provenance}


def write_release(lake: Lake, name: str, kind: str, rows: int, seed: int) -> Release:
    """One synthetic release of `kind` with `rows` rows, split by topic; deterministic in `seed`."""
    rng = random.Random(f"{seed}:{kind}")
    samples = [_sample(rng, i, kind) for i in range(rows)]
    by_split: dict[str, list[dict]] = {}
    for s in samples:
        by_split.setdefault(split_of(s["topic_cluster"]), []).append(_row(kind, s, rng))
    writer = ReleaseWriter(lake, name, kind)
    for split in sorted(by_split):
        writer.write_split(split, pa.Table.from_pylist(by_split[split], schema=SCHEMAS[kind]))
    writer.finalize(
        parents={"synthetic": {"seed": seed, "rows": rows}},
        recipe={"generator": "train.synthetic", "kind": kind, "rows": rows, "seed": seed},
        split_method="topic_cluster",
        dropped={},
        description="Synthetic conversations with a learnable preference signal (train.synthetic).",
    )
    return writer.publish()


def write_all(lake: Lake, rows: int = 200, seed: int = 7, prefix: str = "demo") -> dict[str, Release]:
    """One release per type: `<prefix>-sft`, `-preference`, `-unpaired`, `-prompts`."""
    names = {"sft": "sft", "preference": "preference", "unpaired": "unpaired", "prompt": "prompts"}
    return {kind: write_release(lake, f"{prefix}-{suffix}", kind, rows, seed) for kind, suffix in names.items()}
