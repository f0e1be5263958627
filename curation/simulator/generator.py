"""One shard of traffic: conversations generated turn by turn, with their ground truth.

A shard's random stream is seeded from (seed, shard) only, so a shard is the same bytes whichever worker
makes it and however many workers there are. Everything shared between shards (users, characters,
topics, spam prompts) is derived from the config alone.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import NamedTuple

from curation.simulator.characters import CHARACTERS, Character
from curation.simulator.clock import Clock
from curation.simulator.config import SimulationConfig
from curation.simulator.duplicates import (
    MIN_EDITABLE_WORDS,
    ORIGINALS_KEPT,
    SPAM_CUM_WEIGHTS,
    SPAM_PROMPTS,
    USER_STOCK_OPENERS,
    edit_words,
    pick_kind,
    rejoin,
    split_protected,
)
from curation.simulator.features import reply_features
from curation.simulator.grammar import Rnd, pick
from curation.simulator.replies import STYLES, Decisions, build_reply
from curation.simulator.signals import (
    CONVERSATION_ENGAGEMENT_SD,
    MAX_REGENERATIONS,
    MAX_USER_TURNS,
    draw,
    probabilities,
)
from curation.simulator.topics import GENERIC, TOPIC_BY_ID, TOPICS, Topic, in_voice
from curation.simulator.user_turns import user_message
from curation.simulator.users import User, user_pool

ANONYMOUS_SHARE = 0.01
INTERNAL_TEST_MODEL_SHARE = 0.6
CHARACTER_TOPIC_SHARE = 0.65
JAILBREAK_REFUSAL_BIAS = 0.8
CHARACTER_BY_ID = {character.character_id: character for character in CHARACTERS}
# Character popularity: a mild Zipf over the cast, in list order.
_CHARACTER_CUM = tuple(accumulate((rank + 1) ** -0.6 for rank in range(len(CHARACTERS))))
_IMPROVED = {model: style.improved() for model, style in STYLES.items()}
_GOLDEN, _PLASTIC = 0.6180339887498949, 0.7548776662466927


def shard_seed(seed: int, shard: int) -> int:
    return int.from_bytes(hashlib.sha256(f"simulate:{seed}:{shard}".encode()).digest()[:8], "big")


def _round_probs(probs: dict[str, float]) -> dict[str, float]:
    return {name: int(p * 10000 + 0.5) / 10000 for name, p in probs.items()}


class Streams(NamedTuple):
    """Where a conversation's decisions come from (see `ShardGenerator._draw_user`)."""

    decide: random.Random
    cont: random.Random


@dataclass
class Dialogue:
    """The messages of one conversation, their times (seconds into the window) and what was planted."""

    messages: list[dict] = field(default_factory=list)
    seconds: list[int] = field(default_factory=list)
    pii: list[dict] = field(default_factory=list)
    mentions: list[dict] = field(default_factory=list)
    features: list[dict] = field(default_factory=list)


def truth_record(
    conversation_id: str,
    topic_id: str,
    dialogue: Dialogue,
    *,
    kind: str | None = None,
    duplicate_of: str | None = None,
    group: str | None = None,
    edit_fraction: float | None = None,
) -> dict:
    """One line of truth.jsonl.gz."""
    return {
        "conversation_id": conversation_id,
        "topic": topic_id,
        "pii": dialogue.pii,
        "character_mentions": dialogue.mentions,
        "duplicate_of": duplicate_of,
        "duplicate_kind": kind,
        "duplicate_group": group,
        "edit_fraction": edit_fraction,
        "reply_features": dialogue.features,
    }


class ShardGenerator:
    """Yields (traffic record, truth record) pairs for one shard."""

    def __init__(self, config: SimulationConfig, shard: int):
        self.config = config
        self.shard = shard
        self.rng = random.Random(shard_seed(config.stream_seed, shard))
        self.rnd = self.rng.random
        self.pool = user_pool(config.conversations, config.seed, config.breadth_multiplier, config.experiment_id)
        self.arm_models = config.arm_models()
        self.clock = Clock(config.end_date, config.days)
        self._banks: dict[tuple[str, str], tuple[dict, dict]] = {}
        self._character_records = {c.character_id: c.record() for c in CHARACTERS}
        self._originals: deque = deque(maxlen=ORIGINALS_KEPT)
        self._spam_first: dict[int, str] = {}
        self._seed = shard_seed(config.stream_seed, shard)
        self._arm_phase = (shard * _PLASTIC) % 1.0
        self._arm_draws = 0
        self._arm_counts = {"control": 0, "test": 0}

    def __iter__(self) -> Iterator[tuple[dict, dict]]:
        first, count = self.config.shard_range(self.shard)
        for number in range(first, first + count):
            yield self.conversation(f"{self.config.id_prefix}{number:07d}")

    def banks(self, topic: Topic, character: Character) -> tuple[dict, dict]:
        """(user-voice, assistant-voice) slot banks of a topic and character (cached)."""
        key = (topic.topic_id, character.character_id)
        if key not in self._banks:
            shared = {**GENERIC, **topic.banks()}
            own = {
                "name": (character.name,),
                "fact": character.facts,
                "like": character.likes,
                "dislike": (character.dislike,),
            }
            self._banks[key] = ({**in_voice(shared, "user"), **own}, {**in_voice(shared, "assistant"), **own})
        return self._banks[key]

    def _pick_character_topic(self, rnd: Rnd) -> tuple[Character, Topic]:
        character = CHARACTERS[bisect.bisect_right(_CHARACTER_CUM, rnd() * _CHARACTER_CUM[-1])]
        if rnd() < CHARACTER_TOPIC_SHARE:
            return character, TOPIC_BY_ID[pick(character.topics, rnd)]
        return character, pick(TOPICS, rnd)

    def _audience(self, internal: bool) -> tuple[str, User | None, str, str, dict | None, Streams]:
        """(source, user or None, model_version, app, experiment, decision streams) of a new conversation."""
        rnd = self.rnd
        if internal:
            staff = self.pool.draw_staff(rnd)
            test, control = f"gen-{self.config.generation}", f"gen-{self.config.generation - 1}"
            model = test if rnd() < INTERNAL_TEST_MODEL_SHARE else control
            return "internal", staff, model, "internal-eval", None, Streams(self.rng, self.rng)
        if rnd() < ANONYMOUS_SHARE:
            return "user", None, self.arm_models["control"], "web", None, Streams(self.rng, self.rng)
        user, streams = self._draw_user()
        experiment = {"experiment_id": self.config.experiment_id, "arm": user.arm}
        return "user", user, self.arm_models[user.arm], user.app, experiment, streams

    def _draw_user(self) -> tuple[User, Streams]:
        """A user conversation's arm, its user and its paired decision streams.

        The arm comes from a Weyl sequence (exact arm shares). The k-th conversation of either arm in a
        shard gets the same two streams (common random numbers): `decide` draws the user (by activity
        rank, so both arms pick the same rank), the character and topic, the conversation's engagement
        and every reply's feature decisions; `cont` draws the `continued` decisions. Twin conversations
        then differ by the treatment and their words, and the planted lift shows at small sizes."""
        u = (self._arm_phase + self._arm_draws * _GOLDEN) % 1.0
        self._arm_draws += 1
        arm = "test" if u < self.pool.test_share else "control"
        k = self._arm_counts[arm]
        self._arm_counts[arm] += 1
        base = shard_seed(self._seed, k)
        streams = Streams(random.Random(base), random.Random(base + 1))
        return self.pool.draw(arm, streams.decide.random), streams

    def _envelope(
        self,
        conversation_id: str,
        source: str,
        user: User | None,
        model: str,
        app: str,
        experiment: dict | None,
        character_id: str,
        messages: list[dict],
    ) -> dict:
        record = {"conversation_id": conversation_id, "source": source, "started_at": messages[0]["ts"]}
        if user is not None:
            record["user_id"] = user.user_id
        record.update(
            {
                "character": self._character_records[character_id],
                "model_version": model,
                "experiment": experiment,
                "app": app,
                "locale": user.locale if user is not None else "en-US",
                "messages": messages,
            }
        )
        return record

    def conversation(self, conversation_id: str) -> tuple[dict, dict]:
        rnd = self.rnd
        kind = pick_kind(rnd)
        if kind in ("exact_copy", "edited_copy"):
            if self._originals:
                return self._copy(conversation_id, self._originals[int(rnd() * len(self._originals))], kind)
            kind = None
        internal = rnd() < self.config.internal_share
        if internal:
            kind = None  # planted duplicates model bots and copy-paste in user traffic
        source, user, model, app, experiment, streams = self._audience(internal)
        character, topic = self._pick_character_topic(streams.decide.random)
        first_text, refusal_bias, group, duplicate_of = None, 0.0, None, None
        if kind == "spam_prompt":
            index = bisect.bisect_right(SPAM_CUM_WEIGHTS, rnd() * SPAM_CUM_WEIGHTS[-1])
            first_text, jailbreak = SPAM_PROMPTS[index]
            refusal_bias = JAILBREAK_REFUSAL_BIAS if jailbreak else 0.0
            group = f"spam-{index:02d}"
            first = self._spam_first.setdefault(index, conversation_id)
            duplicate_of = first if first != conversation_id else None
        elif kind == "stock_opener":
            index = int(rnd() * len(USER_STOCK_OPENERS))
            first_text = USER_STOCK_OPENERS[index]
            group = f"opener-{index:02d}"
        engagement = (user.engagement if user is not None else 0.0) + streams.decide.gauss(
            0, CONVERSATION_ENGAGEMENT_SD
        )
        locale = user.locale if user is not None else "en-US"
        dialogue = self._dialogue(character, topic, model, engagement, locale, first_text, refusal_bias, streams)
        for message, second in zip(dialogue.messages, self.clock.fit(dialogue.seconds), strict=True):
            message["ts"] = self.clock.format(second)
        record = self._envelope(
            conversation_id, source, user, model, app, experiment, character.character_id, dialogue.messages
        )
        truth = truth_record(
            conversation_id, topic.topic_id, dialogue, kind=kind, duplicate_of=duplicate_of, group=group
        )
        if kind is None and source == "user" and user is not None:
            self._originals.append((record, truth, dialogue.seconds, character))
        return record, truth

    def _dialogue(
        self,
        character: Character,
        topic: Topic,
        model: str,
        engagement: float,
        locale: str,
        first_text: str | None,
        refusal_bias: float,
        streams: Streams,
    ) -> Dialogue:
        """The conversation turn by turn: it goes on while the sampled `continued` is true."""
        rnd, decide, continue_rnd = self.rnd, streams.decide.random, streams.cont.random
        user_banks, banks = self.banks(topic, character)
        rules = character.rules
        pii_share = self.config.pii_share
        d = Dialogue()
        messages = d.messages
        t = self.clock.draw_start(rnd)
        kind = "opener"
        for turn in range(MAX_USER_TURNS):
            index = len(messages)
            if turn == 0 and first_text is not None:
                text = first_text
            else:
                text, name_spans, pii_spans = user_message(kind, user_banks, rnd, locale=locale, pii_share=pii_share)
                for start, end in name_spans:
                    d.mentions.append({"turn": index, "start": start, "end": end})
                for entity_type, start, end, value in pii_spans:
                    d.pii.append({"turn": index, "type": entity_type, "start": start, "end": end, "value": value})
            messages.append({"role": "user", "content": text, "ts": None})
            d.seconds.append(t)
            reply_style, regenerations = STYLES[model], 0
            while True:
                reply, name_spans = build_reply(
                    reply_style,
                    character,
                    banks,
                    rnd,
                    Decisions.draw(decide),
                    first_turn=turn == 0,
                    refusal_bias=refusal_bias if turn == 0 else 0.0,
                )
                t += 2 + int(rnd() * 6) + len(reply) // 80
                feats = reply_features(reply, rules)
                probs = probabilities(feats, turn, engagement)
                signals = draw(
                    feats,
                    probs,
                    rnd,
                    can_continue=turn < MAX_USER_TURNS - 1,
                    can_regenerate=regenerations < MAX_REGENERATIONS,
                    continue_rnd=continue_rnd,
                )
                for start, end in name_spans:
                    d.mentions.append({"turn": len(messages), "start": start, "end": end})
                d.features.append({"turn": len(messages), **feats, "p": _round_probs(probs)})
                messages.append({"role": "assistant", "content": reply, "ts": None, "signals": signals})
                d.seconds.append(t)
                if not signals["regenerated"]:
                    break
                regenerations += 1
                reply_style = _IMPROVED[model]
                t += 3 + int(rnd() * 15)
            if not signals["continued"]:
                break
            kind = "pushback" if feats["refusal"] else "answer" if feats["ends_with_question"] else "followup"
            t += 8 + int(rnd() * 150)
        return d

    def _other_user(self, user_id: str | None) -> User:
        for _ in range(8):
            user, _ = self._draw_user()
            if user.user_id != user_id:
                return user
        return user

    def _copy(self, conversation_id: str, original: tuple, kind: str) -> tuple[dict, dict]:
        """A re-sent earlier conversation: new id, another user, later timestamps; maybe lightly edited."""
        source_record, source_truth, seconds, character = original
        user = self._other_user(source_record.get("user_id"))
        delay = 60 + int(self.rnd() * 3 * 86400)
        shifted = self.clock.fit([s + delay for s in seconds])
        dialogue = Dialogue(
            [
                {**message, "ts": self.clock.format(s)}
                for message, s in zip(source_record["messages"], shifted, strict=True)
            ],
            shifted,
            source_truth["pii"],
            source_truth["character_mentions"],
            source_truth["reply_features"],
        )
        fraction = None
        if kind == "edited_copy":
            fraction = self._edit(dialogue, character)
            if fraction is None:
                kind = "exact_copy"
        experiment = {"experiment_id": self.config.experiment_id, "arm": user.arm}
        record = self._envelope(
            conversation_id,
            "user",
            user,
            self.arm_models[user.arm],
            user.app,
            experiment,
            character.character_id,
            dialogue.messages,
        )
        source_id = source_record["conversation_id"]
        return record, truth_record(
            conversation_id,
            source_truth["topic"],
            dialogue,
            kind=kind,
            duplicate_of=source_id,
            group=source_id,
            edit_fraction=fraction,
        )

    def _edit(self, d: Dialogue, character: Character) -> float | None:
        """Edit 1-10% of the words outside planted spans, in place; returns the edit fraction, or None
        (and leaves `d` alone) when the conversation is too short to edit."""
        spans_by_turn: dict[int, list[tuple[int, int, str, int]]] = {}
        for kind, entries in (("pii", d.pii), ("mention", d.mentions)):
            for i, entry in enumerate(entries):
                spans_by_turn.setdefault(entry["turn"], []).append((entry["start"], entry["end"], kind, i))
        split = [
            split_protected(message["content"], [(s, e) for s, e, _, _ in sorted(spans_by_turn.get(turn, []))])
            for turn, message in enumerate(d.messages)
        ]
        edited, n_edits, editable = edit_words([segments for segments, _ in split], self.rng)
        if editable < MIN_EDITABLE_WORDS:
            return None
        pii = [dict(entry) for entry in d.pii]
        mentions = [dict(entry) for entry in d.mentions]
        for turn, ((_, protected), segments) in enumerate(zip(split, edited, strict=True)):
            content, new_spans = rejoin(segments, protected)
            for (start, end), (_, _, kind, i) in zip(new_spans, sorted(spans_by_turn.get(turn, [])), strict=True):
                target = pii[i] if kind == "pii" else mentions[i]
                target["start"], target["end"] = start, end
            d.messages[turn] = {**d.messages[turn], "content": content}
        d.pii, d.mentions = pii, mentions
        d.features = [
            {"turn": f["turn"], **reply_features(d.messages[f["turn"]]["content"], character.rules), "p": f["p"]}
            for f in d.features
        ]
        return round(n_edits / editable, 4)
