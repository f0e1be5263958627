"""One shard of traffic: conversations generated turn by turn, with their ground truth.

A shard's random stream is seeded from (seed, shard) only, so a shard is the same bytes whichever worker
makes it and however many workers there are. Everything shared between shards (users, characters,
topics, spam prompts) is derived from the config alone.
"""

from __future__ import annotations

import hashlib
import random
from collections import deque
from collections.abc import Iterator
from itertools import accumulate

from curation.simulator.characters import CHARACTERS, Character
from curation.simulator.clock import Clock
from curation.simulator.config import ARM_MODELS, EXPERIMENT_ID, SimulationConfig
from curation.simulator.duplicates import (
    MIN_EDITABLE_WORDS,
    ORIGINALS_KEPT,
    SPAM_PROMPTS,
    USER_STOCK_OPENERS,
    edit_words,
    pick_kind,
    rejoin,
    split_protected,
)
from curation.simulator.features import reply_features
from curation.simulator.grammar import pick
from curation.simulator.replies import STYLES, Style, build_reply
from curation.simulator.signals import (
    CONVERSATION_ENGAGEMENT_SD,
    MAX_REGENERATIONS,
    MAX_USER_TURNS,
    draw,
    probabilities,
)
from curation.simulator.topics import GENERIC, TOPICS, Topic, in_voice
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


class ShardGenerator:
    """Yields (traffic record, truth record) pairs for one shard."""

    def __init__(self, config: SimulationConfig, shard: int):
        self.config = config
        self.shard = shard
        self.rng = random.Random(shard_seed(config.seed, shard))
        self.rnd = self.rng.random
        self.pool = user_pool(config.conversations, config.seed)
        self.clock = Clock(config.end_date, config.days)
        self._banks: dict[tuple[str, str], tuple[dict, dict]] = {}
        self._character_records = {c.character_id: c.record() for c in CHARACTERS}
        self._originals: deque = deque(maxlen=ORIGINALS_KEPT)
        self._spam_first: dict[int, str] = {}
        self._arm_phase = (shard * _PLASTIC) % 1.0
        self._arm_draws = 0

    def __iter__(self) -> Iterator[tuple[dict, dict]]:
        first, count = self.config.shard_range(self.shard)
        for number in range(first, first + count):
            yield self.conversation(f"sim-{number:07d}")

    def banks(self, topic: Topic, character: Character) -> tuple[dict, dict]:
        """(user-voice, assistant-voice) slot banks of a topic and character (cached)."""
        key = (topic.topic_id, character.character_id)
        if key not in self._banks:
            shared = {**GENERIC, **topic.banks()}
            own = {"name": (character.name,), "fact": character.facts, "like": character.likes,
                   "dislike": (character.dislike,)}
            self._banks[key] = ({**in_voice(shared, "user"), **own}, {**in_voice(shared, "assistant"), **own})
        return self._banks[key]

    def _pick_character_topic(self) -> tuple[Character, Topic]:
        rnd = self.rnd
        u = rnd() * _CHARACTER_CUM[-1]
        character = CHARACTERS[next(i for i, c in enumerate(_CHARACTER_CUM) if u < c)]
        if rnd() < CHARACTER_TOPIC_SHARE:
            topic_id = pick(character.topics, rnd)
            return character, next(t for t in TOPICS if t.topic_id == topic_id)
        return character, pick(TOPICS, rnd)

    def _audience(self, internal: bool) -> tuple[str, User | None, str, str, dict | None]:
        """(source, user or None, model_version, app, experiment) of a new conversation."""
        rnd = self.rnd
        if internal:
            staff = self.pool.draw_staff(rnd)
            model = ARM_MODELS["test"] if rnd() < INTERNAL_TEST_MODEL_SHARE else ARM_MODELS["control"]
            return "internal", staff, model, "internal-eval", None
        if rnd() < ANONYMOUS_SHARE:
            return "user", None, ARM_MODELS["control"], "web", None
        user = self._draw_user()
        return "user", user, ARM_MODELS[user.arm], user.app, {"experiment_id": EXPERIMENT_ID, "arm": user.arm}

    def _draw_user(self) -> User:
        """A user conversation's arm from a Weyl sequence (exact arm shares), then its user by weight."""
        u = (self._arm_phase + self._arm_draws * _GOLDEN) % 1.0
        self._arm_draws += 1
        return self.pool.draw("test" if u < self.pool.test_share else "control", self.rnd)

    def _envelope(self, conversation_id: str, source: str, user: User | None, model: str, app: str,
                  experiment: dict | None, character_id: str, messages: list[dict]) -> dict:
        record = {"conversation_id": conversation_id, "source": source, "started_at": messages[0]["ts"]}
        if user is not None:
            record["user_id"] = user.user_id
        record.update({"character": self._character_records[character_id], "model_version": model,
                       "experiment": experiment, "app": app,
                       "locale": user.locale if user is not None else "en-US", "messages": messages})
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
            kind = None
        source, user, model, app, experiment = self._audience(internal)
        character, topic = self._pick_character_topic()
        first_text, refusal_bias, group, duplicate_of = None, 0.0, None, None
        if kind == "spam_prompt":
            index = int(rnd() * len(SPAM_PROMPTS))
            first_text, jailbreak = SPAM_PROMPTS[index]
            refusal_bias = JAILBREAK_REFUSAL_BIAS if jailbreak else 0.0
            group = f"spam-{index:02d}"
            duplicate_of = self._spam_first.setdefault(index, conversation_id)
            duplicate_of = None if duplicate_of == conversation_id else duplicate_of
        elif kind == "stock_opener":
            index = int(rnd() * len(USER_STOCK_OPENERS))
            first_text = USER_STOCK_OPENERS[index]
            group = f"opener-{index:02d}"
        engagement = (user.engagement if user is not None else 0.0) + self.rng.gauss(0, CONVERSATION_ENGAGEMENT_SD)
        messages, seconds, truth = self._dialogue(character, topic, STYLES[model], model, engagement,
                                                  user.locale if user is not None else "en-US",
                                                  first_text, refusal_bias)
        for message, second in zip(messages, self.clock.fit(seconds)):
            message["ts"] = self.clock.format(second)
        record = self._envelope(conversation_id, source, user, model, app, experiment, character.character_id,
                                messages)
        truth = {"conversation_id": conversation_id, "topic": topic.topic_id, **truth, "duplicate_of": duplicate_of,
                 "duplicate_kind": kind, "duplicate_group": group, "edit_fraction": None}
        truth["reply_features"] = truth.pop("reply_features")
        if kind is None and source == "user" and user is not None:
            self._originals.append((record, truth, seconds, character))
        return record, truth

    def _dialogue(self, character: Character, topic: Topic, style: Style, model: str, engagement: float,
                  locale: str, first_text: str | None, refusal_bias: float) -> tuple[list, list, dict]:
        rnd = self.rnd
        user_banks, banks = self.banks(topic, character)
        rules = character.rules
        pii_share = self.config.pii_share
        messages: list[dict] = []
        seconds: list[int] = []
        pii, mentions, features = [], [], []
        t = self.clock.draw_start(rnd)
        kind = "opener"
        for turn in range(MAX_USER_TURNS):
            index = len(messages)
            if turn == 0 and first_text is not None:
                text = first_text
            else:
                text, name_spans, pii_spans = user_message(kind, user_banks, rnd, locale=locale, pii_share=pii_share)
                for start, end in name_spans:
                    mentions.append({"turn": index, "start": start, "end": end})
                for entity_type, start, end, value in pii_spans:
                    pii.append({"turn": index, "type": entity_type, "start": start, "end": end, "value": value})
            messages.append({"role": "user", "content": text, "ts": None})
            seconds.append(t)
            reply_style, regenerations = style, 0
            while True:
                reply, name_spans = build_reply(reply_style, character, banks, rnd, first_turn=turn == 0,
                                                refusal_bias=refusal_bias if turn == 0 else 0.0)
                t += 2 + int(rnd() * 6) + len(reply) // 80
                feats = reply_features(reply, rules)
                probs = probabilities(feats, turn, engagement)
                signals = draw(feats, probs, rnd, can_continue=turn < MAX_USER_TURNS - 1,
                               can_regenerate=regenerations < MAX_REGENERATIONS)
                for start, end in name_spans:
                    mentions.append({"turn": len(messages), "start": start, "end": end})
                features.append({"turn": len(messages), **feats, "p": _round_probs(probs)})
                messages.append({"role": "assistant", "content": reply, "ts": None, "signals": signals})
                seconds.append(t)
                if not signals["regenerated"]:
                    break
                regenerations += 1
                reply_style = _IMPROVED[model]
                t += 3 + int(rnd() * 15)
            if not signals["continued"]:
                break
            kind = "pushback" if feats["refusal"] else "answer" if feats["ends_with_question"] else "followup"
            t += 8 + int(rnd() * 150)
        return messages, seconds, {"pii": pii, "character_mentions": mentions, "reply_features": features}

    def _other_user(self, user_id: str | None) -> User:
        for _ in range(8):
            user = self._draw_user()
            if user.user_id != user_id:
                return user
        return user

    def _copy(self, conversation_id: str, original: tuple, kind: str) -> tuple[dict, dict]:
        source_record, source_truth, seconds, character = original
        rnd = self.rnd
        user = self._other_user(source_record.get("user_id"))
        delay = 60 + int(rnd() * 3 * 86400)
        shifted = self.clock.fit([s + delay for s in seconds])
        messages = [{**message, "ts": self.clock.format(s)} for message, s in zip(source_record["messages"], shifted)]
        pii, mentions, features = (source_truth["pii"], source_truth["character_mentions"],
                                   source_truth["reply_features"])
        fraction = None
        if kind == "edited_copy":
            edited = self._edit(messages, pii, mentions, features, character)
            if edited is None:
                kind = "exact_copy"
            else:
                messages, pii, mentions, features, fraction = edited
        experiment = {"experiment_id": EXPERIMENT_ID, "arm": user.arm}
        record = self._envelope(conversation_id, "user", user, ARM_MODELS[user.arm], user.app, experiment,
                                character.character_id, messages)
        truth = {"conversation_id": conversation_id, "topic": source_truth["topic"], "pii": pii,
                 "character_mentions": mentions, "duplicate_of": source_record["conversation_id"],
                 "duplicate_kind": kind, "duplicate_group": source_record["conversation_id"],
                 "edit_fraction": fraction, "reply_features": features}
        return record, truth

    def _edit(self, messages: list[dict], pii: list[dict], mentions: list[dict], features: list[dict],
              character: Character):
        """Edit 1-10% of the words outside planted spans; None when the conversation is too short."""
        spans_by_turn: dict[int, list[tuple[int, int, str, int]]] = {}
        for kind, entries in (("pii", pii), ("mention", mentions)):
            for i, entry in enumerate(entries):
                spans_by_turn.setdefault(entry["turn"], []).append((entry["start"], entry["end"], kind, i))
        split = []
        for turn, message in enumerate(messages):
            spans = sorted(spans_by_turn.get(turn, []))
            split.append(split_protected(message["content"], [(s, e) for s, e, _, _ in spans]))
        edited, n_edits, editable = edit_words([segments for segments, _ in split], self.rng)
        if editable < MIN_EDITABLE_WORDS:
            return None
        new_pii = [dict(entry) for entry in pii]
        new_mentions = [dict(entry) for entry in mentions]
        new_messages = []
        for turn, (message, (_, protected), segments) in enumerate(zip(messages, split, edited)):
            content, new_spans = rejoin(segments, protected)
            for (start, end), (_, _, kind, i) in zip(new_spans, sorted(spans_by_turn.get(turn, []))):
                target = new_pii[i] if kind == "pii" else new_mentions[i]
                target["start"], target["end"] = start, end
            new_messages.append({**message, "content": content})
        new_features = [{"turn": f["turn"], **reply_features(new_messages[f["turn"]]["content"], character.rules),
                         "p": f["p"]} for f in features]
        return new_messages, new_pii, new_mentions, new_features, round(n_edits / editable, 4)
