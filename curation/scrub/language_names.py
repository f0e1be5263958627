"""PERSON recognizers for non-English chat: cue words and name lists of one language (languages.py
holds the words; this module the presidio recognizers, imported only where presidio runs)."""

from __future__ import annotations

import re

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult
from presidio_analyzer.predefined_recognizers import SpacyRecognizer

from curation.scrub.languages import (
    CHAT_WORDS,
    CUE_SCORES,
    NAME_TOKEN,
    ambiguous_names,
    cue_patterns,
    first_names,
    is_word,
    known_first_names,
    last_names,
    place_names,
    stop_words,
)
from curation.scrub.names import adjacent_word, at_sentence_start
from curation.scrub.recognizers import recognizer_result


def _capitalized(word: str) -> bool:
    return word[:1].isupper() and not (word.isupper() and len(word) > 1)


class _PersonRecognizer(LocalRecognizer):
    """Shared plumbing: one language's word lists and a RecognizerResult maker."""

    name: str  # set by presidio's __init__, in two branches mypy cannot type ("Cannot determine type")

    def __init__(self, language: str):
        super().__init__(supported_entities=["PERSON"], supported_language=language)
        self.language = language
        self.first = first_names(language)
        self.last = last_names(language)
        self.ambiguous = ambiguous_names(language)

    def load(self) -> None:
        pass

    def _result(self, start: int, end: int, score: float, pattern: str) -> RecognizerResult:
        return recognizer_result(self, "PERSON", start, end, score, pattern)

    def _known_first(self, word: str) -> bool:
        return word.lower() in self.first

    def _name_word(self, word: str) -> bool:
        """A word that can continue a name: a known name, or capitalized and no common word."""
        lower = word.lower()
        return (
            lower in self.last
            or lower in self.first
            or lower in self.ambiguous
            or (_capitalized(word) and not is_word(self.language, lower))
        )


class CueNameRecognizer(_PersonRecognizer):
    """PERSON after a language's cue words ("je m'appelle", "ma sœur", "Frau", "ich heiße")."""

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        for regex, level in cue_patterns(self.language):
            for match in regex.finditer(text):
                length = self._span(match.group("value"), level)
                if length:
                    start = match.start("value")
                    results.append(self._result(start, start + length, CUE_SCORES[level], level))
        return results

    def _accepts_first(self, word: str, level: str) -> bool:
        lower = word.strip("'’-").lower()
        if len(lower) < 2:
            return False
        if level == "declared":
            return lower not in stop_words(self.language) and lower not in CHAT_WORDS.get(self.language, ())
        if level in ("relation", "title"):
            return (
                self._known_first(word)
                or lower in self.last
                or _capitalized(word)
                and (lower in self.ambiguous or not is_word(self.language, lower))
            )
        return self._known_first(word) and (_capitalized(word) or not is_word(self.language, lower))

    def _span(self, value: str, level: str) -> int:
        words = value.split()
        if not self._accepts_first(words[0], level):
            return 0
        end = offset = len(words[0])
        for word in words[1:]:
            position = value.index(word, offset)
            if not self._name_word(word):
                break
            end = offset = position + len(word)
        return end


# fmt: off
_ARTICLES = {
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "den",
            "dem",
            "des",
            "ein",
            "eine",
            "einen",
            "einem",
            "einer",
            "eines",
            "kein",
            "keine",
            "keinen",
            "keinem",
            "keiner",
            "mein",
            "meine",
            "meinen",
            "meinem",
            "meiner",
            "dein",
            "deine",
            "sein",
            "seine",
            "ihr",
            "ihre",
            "unser",
            "unsere",
            "euer",
            "eure",
            "dieser",
            "diese",
            "dieses",
            "diesen",
            "diesem",
            "jeder",
            "jede",
            "jedes",
            "jeden",
            "jedem",
            "beim",
            "vom",
            "zum",
            "zur",
            "im",
            "am",
            "ins",
            "ans",
            "welche",
            "welcher",
            "welches",
            "viele",
            "alle",
            "zwei",
            "drei",
            "vier",
            "fünf",
            "sechs",
            "sieben",
            "acht",
            "neun",
            "zehn",
            "elf",
            "zwölf",
            "einige",
            "mehrere",
            "wenige",
            "beide",
            "beiden",
            "andere",
            "anderen",
            "weitere",
            "weiteren",
            "manche",
            "solche",
        ]
    ),
}
# fmt: on
_NAME_TOKEN_RE = re.compile(r"(?<![\w-])" + NAME_TOKEN)  # a whole word ("sten" in "38sten" is none; "d'Anne" has one)


class ListNameRecognizer(_PersonRecognizer):
    """PERSON from the name lists: a known first name (extended by a following name word), and for a
    language without NER (the stricter default) a capitalized known surname or everyday-word first name
    in mid-sentence with no article before it."""

    CAPITALIZED, LOWER, STRICT = 0.65, 0.55, 0.4

    def __init__(self, language: str, strict: bool):
        super().__init__(language)
        self.strict = strict
        self.articles = _ARTICLES.get(language, frozenset())

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        words = list(_NAME_TOKEN_RE.finditer(text))
        skip_until = -1
        for i, match in enumerate(words):
            if match.start() < skip_until:
                continue
            word, lower = match.group(), match.group().lower()
            if word.isupper() and len(word) > 1:
                continue
            following = adjacent_word(text, words, i)
            score = self._score(text, words, i, word, lower, following.group() if following is not None else "")
            if score is None:
                continue
            end = match.end()
            if following is not None and _capitalized(word) and self._name_word(following.group()):
                end = following.end()
            skip_until = end
            results.append(self._result(match.start(), end, score, "name_list"))
        return results

    def _score(
        self, text: str, words: list[re.Match[str]], i: int, word: str, lower: str, following: str
    ) -> float | None:
        """`following` is the adjacent next word, "" when there is none."""
        if lower in self.first:
            return self.CAPITALIZED if _capitalized(word) else self.LOWER
        if lower in self.ambiguous and following and _capitalized(word) and following.lower() in self.last:
            return self.CAPITALIZED  # "Rose Dubois", "Mark Weber"
        if not (self.strict and _capitalized(word) and (lower in self.last or lower in self.ambiguous)):
            return None
        if at_sentence_start(text, words[i].start()):
            return None
        return None if _article_before(text, words[i].start(), self.articles) else self.STRICT


def _article_before(text: str, start: int, articles: frozenset[str]) -> bool:
    """An article up to two adjectives before `start` in the same clause ("der entscheidende Sieg")."""
    clause = re.split(r"[.,;:!?()\"„“]", text[:start])[-1].lower().split()[-3:]
    return any(w in articles for w in clause)


class PlaceListRecognizer(LocalRecognizer):
    """LOCATION for a language without NER: towns, countries and regions of the language's Faker
    address lists, capitalized, up to three words ("Frankfurt am Main"). A town after an article is a
    noun ("das Essen"); countries take articles ("die Schweiz")."""

    name: str  # set by presidio's __init__, in two branches mypy cannot type ("Cannot determine type")

    SCORE = 0.6

    def __init__(self, language: str):
        super().__init__(supported_entities=["LOCATION"], supported_language=language)
        self.towns, self.regions = place_names(language)
        self.articles = _ARTICLES.get(language, frozenset())

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        words = list(_NAME_TOKEN_RE.finditer(text))
        skip_until = -1
        for i, match in enumerate(words):
            if match.start() < skip_until or not _capitalized(match.group()):
                continue
            for n in (3, 2, 1):
                if i + n > len(words):
                    continue
                start, end = match.start(), words[i + n - 1].end()
                name = text[start:end].lower()
                town = name in self.towns and not _article_before(text, start, self.articles)
                if town or name in self.regions:
                    results.append(
                        RecognizerResult(
                            "LOCATION",
                            start,
                            end,
                            self.SCORE,
                            analysis_explanation=AnalysisExplanation(self.name, self.SCORE, pattern_name="place_list"),
                            recognition_metadata={
                                RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            },
                        )
                    )
                    skip_until = end
                    break
        return results


_INVERTED_PRONOUN = re.compile(r"-(?:vous|tu|moi|toi|nous|il|elle|ils|elles|on|je|lui|les|la|le|y|en)\b", re.IGNORECASE)


class LanguageNerRecognizer(SpacyRecognizer):
    """presidio's spaCy recognizer for a non-English model, without its commonest false names: a
    sentence-initial word of the language tagged PERSON ("Pouvez-vous", "Joignez votre adresse"), unless
    it is a known first name ("Claire est là"), and a verb before an inverted pronoun ("Voulez-vous")."""

    def __init__(self, language: str, entities):
        super().__init__(supported_language=language, supported_entities=list(entities))

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        return [r for r in super().analyze(text, entities, nlp_artifacts) if not self._verb_or_word(text, r)]

    def _verb_or_word(self, text: str, result: RecognizerResult) -> bool:
        if result.entity_type != "PERSON":
            return False
        if _INVERTED_PRONOUN.match(text, result.end):
            return True
        words = [w.lower() for w in _NAME_TOKEN_RE.findall(text[result.start : result.end])]
        return (
            at_sentence_start(text, result.start)
            and bool(words)
            and all(is_word(self.supported_language, w) for w in words)
            and not any(w in known_first_names(self.supported_language) for w in words)
        )
