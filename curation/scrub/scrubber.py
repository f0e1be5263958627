"""The scrubbing engine's entry points: conversations in, scrubbed conversations out.

`Scrubber.scrub` is a pure function of its input and the config: texts are detected once per distinct
text (optionally in worker processes), then each conversation is resolved and replaced on its own, with
its own allow-list (the character's names) and its own consistent numbering or surrogates.
`scrub_record_batch` (arrow.py) applies it to an Arrow batch of bronze conversations.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from curation.scrub.config import ScrubConfig
from curation.scrub.engine import Detection, get_detector
from curation.scrub.replace import ConversationReplacer, apply
from curation.scrub.resolve import AllowList, Finding, found_values, lift_after_cue_turn, propagate, resolve

# Below this many distinct texts per worker, a worker process costs more than it saves.
MIN_TEXTS_PER_WORKER = 2_000


@dataclass
class Conversation:
    """The texts of one conversation, in order, and who the character is (its names are not PII).

    `id` seeds the surrogates; `key` (default: `id`) names the conversation's numbering state when
    `Scrubber.scrub` is given `replacers` to carry across calls."""

    id: str
    texts: list[str]
    character_name: str | None = None
    persona: str | None = None
    key: str | None = None


@dataclass
class ScrubbedConversation:
    id: str
    texts: list[str]
    entities: list[list[Finding]]
    counts: Counter = field(default_factory=Counter)


def _detect_worker(config_json: str, texts: list[str], own_names: list[frozenset[str]]) -> list[list[Detection]]:
    return get_detector(ScrubConfig.model_validate_json(config_json)).detect(texts, own_names)


class Scrubber:
    def __init__(self, config: ScrubConfig | None = None):
        self.config = config or ScrubConfig()
        self.detector = get_detector(self.config)

    def detect(self, texts: Sequence[str], own_names: dict[str, frozenset[str]] | None = None
               ) -> dict[str, list[Detection]]:
        """Raw detections for each distinct text; `own_names` (by text) as in `Detector.detect`."""
        distinct = list(dict.fromkeys(texts))
        names = [(own_names or {}).get(t, frozenset()) for t in distinct]
        workers = min(self.config.workers, max(1, len(distinct) // MIN_TEXTS_PER_WORKER))
        if workers <= 1:
            return dict(zip(distinct, self.detector.detect(distinct, names)))
        size = -(-len(distinct) // (workers * 4))
        parts = [distinct[i:i + size] for i in range(0, len(distinct), size)]
        name_parts = [names[i:i + size] for i in range(0, len(distinct), size)]
        # fork: the workers inherit the loaded model instead of loading it again
        context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        config_json = self.config.model_dump_json()
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            found = [d for part in pool.map(_detect_worker, [config_json] * len(parts), parts, name_parts) for d in part]
        return dict(zip(distinct, found))

    def _own_names(self, conversations: list[Conversation]) -> dict[str, frozenset[str]]:
        """For each text, the name words allowed in every conversation it occurs in: the character's name
        and the persona's capitalized words, a subset of each conversation's `allow_list` (so the NER model
        need not run for them)."""
        own: dict[str, frozenset[str]] = {}
        for conversation in conversations:
            persona = [w for w in (conversation.persona or "").split() if w[:1].isupper()]
            words = frozenset(AllowList([conversation.character_name or "", *persona]).words)
            for text in conversation.texts:
                own[text] = own[text] & words if text in own else words
        return own

    def allow_list(self, conversation: Conversation, detections: dict[str, list[Detection]]) -> AllowList:
        names = [conversation.character_name or ""]
        if conversation.persona:
            persona = conversation.persona
            names += [persona[f.start:f.end] for f in resolve(persona, detections[persona], self.config)
                      if f.entity_type == "PERSON"]
            names += [w for w in persona.split() if w[:1].isupper()]
        return AllowList(names, self.config.allow_list)

    def scrub(self, conversations: Iterable[Conversation],
              replacers: dict[str, ConversationReplacer] | None = None) -> list[ScrubbedConversation]:
        """Scrub conversations. `replacers` carries numbering across calls (a conversation split over
        several batches); by default each call starts fresh."""
        conversations = list(conversations)
        replacers = {} if replacers is None else replacers
        texts = [t for c in conversations for t in c.texts]
        texts += [c.persona for c in conversations if c.persona]
        detections = self.detect(texts, self._own_names(conversations))
        out = []
        for conversation in conversations:
            allow = self.allow_list(conversation, detections)
            key = conversation.key or conversation.id
            if key not in replacers:
                replacers[key] = ConversationReplacer(conversation.id, self.config.mode, self.config.seed)
            replacer = replacers[key]
            scrubbed = ScrubbedConversation(conversation.id, [], [])
            previous = [""] + conversation.texts[:-1]  # a question in one turn, the number in the next
            found = [resolve(text, lift_after_cue_turn(before, detections[text]), self.config, allow)
                     for before, text in zip(previous, conversation.texts)]
            values = found_values(conversation.texts, found)
            for text, findings in zip(conversation.texts, found):
                new_text, acted = apply(text, propagate(text, findings, values), replacer)
                scrubbed.texts.append(new_text)
                scrubbed.entities.append(acted)
                scrubbed.counts.update(f.entity_type for f in acted)
            out.append(scrubbed)
        return out

    def scrub_text(self, text: str) -> tuple[str, list[Finding]]:
        """One text as its own conversation."""
        result = self.scrub([Conversation("text", [text])])[0]
        return result.texts[0], result.entities[0]
