"""The scrubbing engine's entry points: conversations in, scrubbed conversations out.

`Scrubber.scrub` is a pure function of its input and the config: each conversation is routed to the
engine of its language (its text, else its locale: languages.py), texts are detected once per distinct
text and language (optionally in worker processes), then each conversation is resolved and replaced on
its own, with its own allow-list (the character's names) and its own consistent numbering or surrogates.
`scrub_record_batch` (arrow.py) applies it to an Arrow batch of bronze conversations.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from curation.scrub import languages
from curation.scrub.config import ScrubConfig
from curation.scrub.detect import Detection, get_detector
from curation.scrub.replace import ConversationReplacer, apply
from curation.scrub.resolve import AllowList, Finding, found_values, lift_after_cue_turn, propagate, resolve

# Below this many distinct texts per worker, a worker process costs more than it saves.
MIN_TEXTS_PER_WORKER = 2_000


@dataclass
class Conversation:
    """The texts of one conversation, in order, and who the character is (its names are not PII).

    `id` seeds the surrogates; `key` (default: `id`) names the conversation's numbering state when
    `Scrubber.scrub` is given `replacers` to carry across calls. `locale` ("fr-FR") picks the language
    when the text does not say."""

    id: str
    texts: list[str]
    character_name: str | None = None
    persona: str | None = None
    key: str | None = None
    locale: str | None = None


@dataclass
class ScrubbedConversation:
    id: str
    texts: list[str]
    entities: list[list[Finding]]
    counts: Counter = field(default_factory=Counter)
    language: str = "en"


def _detect_worker(config_json: str, texts: list[str], own_names: list[frozenset[str]]) -> list[list[Detection]]:
    return get_detector(ScrubConfig.model_validate_json(config_json)).detect(texts, own_names)


class Scrubber:
    def __init__(self, config: ScrubConfig | None = None):
        self.config = config or ScrubConfig()
        self.detector = get_detector(self.language_config(self.config.language))
        self.languages_seen: Counter = Counter()  # conversations routed to each language, over all calls

    def language_config(self, language: str) -> ScrubConfig:
        """The config of one language's engine (its NER model, its thresholds)."""
        return languages.language_config(self.config, language)

    def language_of(self, conversation: Conversation) -> str:
        return languages.route(conversation.texts, conversation.locale, self.config.languages, self.config.language)

    def detect(
        self, texts: Sequence[str], own_names: dict[str, frozenset[str]] | None = None, language: str | None = None
    ) -> dict[str, list[Detection]]:
        """Raw detections for each distinct text by the engine of `language` (default: the configured
        one); `own_names` (by text) as in `Detector.detect`."""
        config = self.language_config(language or self.config.language)
        detector = get_detector(config)
        distinct = list(dict.fromkeys(texts))
        names = [(own_names or {}).get(t, frozenset()) for t in distinct]
        workers = min(self.config.workers, max(1, len(distinct) // MIN_TEXTS_PER_WORKER))
        if workers <= 1:
            return dict(zip(distinct, detector.detect(distinct, names), strict=True))
        size = -(-len(distinct) // (workers * 4))
        parts = [distinct[i : i + size] for i in range(0, len(distinct), size)]
        name_parts = [names[i : i + size] for i in range(0, len(distinct), size)]
        # fork: the workers inherit the loaded model instead of loading it again
        context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        config_json = config.model_dump_json()
        with ProcessPoolExecutor(workers, mp_context=context) as pool:
            found = [
                d for part in pool.map(_detect_worker, [config_json] * len(parts), parts, name_parts) for d in part
            ]
        return dict(zip(distinct, found, strict=True))

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

    def allow_list(
        self, conversation: Conversation, detections: dict[str, list[Detection]], config: ScrubConfig | None = None
    ) -> AllowList:
        names = [conversation.character_name or ""]
        if conversation.persona:
            persona = conversation.persona
            names += [
                persona[f.start : f.end]
                for f in resolve(persona, detections[persona], config or self.config)
                if f.entity_type == "PERSON"
            ]
            names += [w for w in persona.split() if w[:1].isupper()]
        return AllowList(names, self.config.allow_list)

    def scrub(
        self, conversations: Iterable[Conversation], replacers: dict[str, ConversationReplacer] | None = None
    ) -> list[ScrubbedConversation]:
        """Scrub conversations. `replacers` carries numbering across calls (a conversation split over
        several batches); by default each call starts fresh."""
        conversations = list(conversations)
        replacers = {} if replacers is None else replacers
        routed = [self.language_of(c) for c in conversations]
        self.languages_seen.update(routed)
        detections: dict[str, dict[str, list[Detection]]] = {}
        for language in dict.fromkeys(routed):
            group = [c for c, lang in zip(conversations, routed, strict=True) if lang == language]
            texts = [t for c in group for t in c.texts] + [c.persona for c in group if c.persona]
            detections[language] = self.detect(texts, self._own_names(group), language)
        out = []
        for conversation, language in zip(conversations, routed, strict=True):
            config = self.language_config(language)
            allow = self.allow_list(conversation, detections[language], config)
            key = conversation.key or conversation.id
            if key not in replacers:
                replacers[key] = ConversationReplacer(conversation.id, self.config.mode, self.config.seed)
            replacer = replacers[key]
            scrubbed = ScrubbedConversation(conversation.id, [], [], language=language)
            previous = ["", *conversation.texts][: len(conversation.texts)]  # the turn before each; none for []
            found = [
                resolve(text, lift_after_cue_turn(before, detections[language][text]), config, allow)
                for before, text in zip(previous, conversation.texts, strict=True)
            ]
            values = found_values(conversation.texts, found)
            for text, findings in zip(conversation.texts, found, strict=True):
                new_text, acted = apply(text, propagate(text, findings, values), replacer)
                scrubbed.texts.append(new_text)
                scrubbed.entities.append(acted)
                scrubbed.counts.update(f.entity_type for f in acted)
            out.append(scrubbed)
        return out

    def scrub_text(self, text: str, locale: str | None = None) -> tuple[str, list[Finding]]:
        """One text as its own conversation."""
        result = self.scrub([Conversation("text", [text], locale=locale)])[0]
        return result.texts[0], result.entities[0]
