"""Recognizers for chat text that presidio lacks or handles too narrowly.

- STREET_ADDRESS: US/UK-style (`12 Oak St Apt 4`, the USPS suffix list), German/Dutch/Nordic/Finnish
  (`Hauptstraße 5`, `Mannerheimintie 5`), Romance-language and Polish (`12 rue de Rivoli`, `Calle Mayor 12`,
  `ul. Długa 5`), a separate street word after the name (`Andrássy út 12`, `Atatürk Caddesi No: 5`), town
  lines, postcodes, unit lines, named streets and P.O. boxes. Presidio has no address recognizer.
- PHONE_NUMBER: international and loosely formatted numbers (`+33 6 12 34 56 78`, `0151 2345 6789`,
  `555 123 4567 x12`) that python-phonenumbers rejects as invalid for the few regions presidio tries.
- EMAIL_ADDRESS: obfuscated addresses (`jane dot doe at gmail dot com`, `jane(at)mail(dot)com`).
- IBAN_CODE: lower- and mixed-case IBANs (presidio's pattern is upper-case only), checksum-validated.
- CREDIT_CARD: Luhn-valid numbers in typed groupings, including Mastercard's 2-series; any 12-19 digits
  after a card cue.
- US_SSN: nine digits right after "ssn" / "social security number" / "soc sec" / "my social", in any grouping.
- SOCIAL_HANDLE: `@handles` and `insta: jane_doe99`.
- URL: personal URLs (profile pages on social sites), not every URL.
- PERSON: names after cues (`my name is jake`, `call me mo`, `my sister emma`, `mr. johnson`), transcript
  speakers and e-mail display names, known first names and lists of surnames, which a small NER model
  misses in lower-case, misspelled chat.
ID_NUMBER and DATE_OF_BIRTH are identifiers.py's.

Every recognizer here is a presidio `LocalRecognizer`, so presidio's context enhancement (score boost
when a context word precedes the match) applies to them like to presidio's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from presidio_analyzer import AnalysisExplanation, LocalRecognizer, RecognizerResult

from curation.scrub.names import (
    adjacent_word,
    ambiguous_name,
    in_dictionary,
    is_first_name,
    is_last_name,
    is_surname,
    is_world_name,
    known_first_name,
    not_a_name,
    world_names,
)

Validator = Callable[[re.Match], "float | None"]


@dataclass(frozen=True)
class Rule:
    """A regex whose group `value` (or whole match) is an entity; `validate` returns a score or None."""

    name: str
    regex: re.Pattern
    score: float
    validate: Validator | None = None
    hint: Callable[[str], bool] | None = None  # a cheap test the text must pass before `regex` runs at all


def recognizer_result(
    recognizer: LocalRecognizer,
    entity: str,
    start: int,
    end: int,
    score: float,
    pattern_name: str,
    pattern: str | None = None,
) -> RecognizerResult:
    """A finding of `recognizer`, with the explanation and metadata presidio's own recognizers attach (the
    scrub report and `--explain` read the pattern name from it)."""
    name: str = recognizer.name  # type: ignore[has-type]  # presidio assigns it in a branch mypy cannot type
    return RecognizerResult(
        entity,
        start,
        end,
        score,
        # presidio's signature says `pattern: str = None`: None is its own default
        analysis_explanation=AnalysisExplanation(name, score, pattern_name=pattern_name, pattern=cast(str, pattern)),
        recognition_metadata={
            RecognizerResult.RECOGNIZER_NAME_KEY: name,
            RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: recognizer.id,
        },
    )


def _validated_matches(rule: Rule, text: str, retry: bool):
    """(match, score) for each match the rule's validator accepts. With `retry`, a rejected match is
    searched again one character further on, so that "at 5 PM at 456 Oak Avenue" (rejected from "5")
    still finds "456 Oak Avenue" inside it; without it (numbers), the tail of a rejected digit run is no
    new candidate ("5702 2981 77" of an IBAN)."""
    if rule.hint is not None and not rule.hint(text):
        return
    if not retry:
        for found in rule.regex.finditer(text):
            score = rule.validate(found) if rule.validate else rule.score
            if score is not None:
                yield found, score
        return
    position = 0
    while position <= len(text):
        match = rule.regex.search(text, position)
        if match is None:
            return
        score = rule.validate(match) if rule.validate else rule.score
        if score is None:
            position = match.start() + 1
            continue
        yield match, score
        position = max(match.end(), match.start() + 1)


class RegexRecognizer(LocalRecognizer):
    """A recognizer made of `Rule`s: regexes with optional validation and per-match scores."""

    ENTITY = ""
    CONTEXT: list[str] = []
    name: str  # set by presidio's __init__, in two branches mypy cannot type ("Cannot determine type")
    RETRY_REJECTED = False  # search a rejected match again one character on (see _validated_matches)

    def __init__(self, rules: Iterable[Rule], supported_language: str = "en"):
        self.rules = list(rules)
        super().__init__(
            supported_entities=[self.ENTITY], supported_language=supported_language, context=list(self.CONTEXT)
        )

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        for rule in self.rules:
            for match, score in _validated_matches(rule, text, self.RETRY_REJECTED):
                group = "value" if "value" in rule.regex.groupindex else 0
                start, end = match.span(group)
                if start == end:
                    continue
                results.append(
                    recognizer_result(self, self.ENTITY, start, end, score, rule.name, rule.regex.pattern[:60])
                )
        return results


# ---------------------------------------------------------------------------------------------------------
# Street addresses

# USPS Publication 28 suffixes (common ones) and their abbreviations. Those that are also everyday words
# ("park", "way", "view") only count after a capitalized street name or near an address context word.
_CLEAR_SUFFIXES = (
    "street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|highway|hwy|parkway|pkwy|terrace|terr|"
    "crescent|cres|avenida|expressway|expy|freeway|fwy|turnpike|tpke|motorway|court|ct|circle|cir|place|pl|"
    "square|sq|trail|trl|alley|aly|plaza|plz|mews|gardens|gdns|heights|hts|grove|close|crossing|xing|"
    "stravenue|causeway|cswy|pike|streets|roads|avenues|courts|circles|drives|lanes|circuit|parade|esplanade|"
    "promenade|parkways|boulevards|terraces|crescents|trails|alleys|plazas|highways|expressways"
)
# The rest of USPS Publication 28: everyday words too, so they need a capitalized name or a context word.
_AMBIGUOUS_SUFFIXES = (
    "way|ways|row|run|walk|walks|path|loop|point|points|pt|park|parks|view|views|hill|hills|ridge|ridges|"
    "green|greens|rise|wharf|quay|landing|manor|manors|meadows|meadow|creek|shore|shores|union|unions|village|"
    "villages|ville|estate|estates|common|commons|junction|junctions|center|centre|centers|bend|cove|coves|glen|"
    "glens|harbor|harbors|harbour|haven|hollow|island|islands|isle|knoll|knolls|lake|lakes|mill|mills|orchard|"
    "pass|passage|pine|pines|port|ports|ranch|spring|springs|station|summit|valley|valleys|vista|well|wells|"
    "field|fields|brook|brooks|falls|fall|forest|gate|gateway|spur|spurs|prairie|turn|strip|bypass|camp|canyon|"
    "cape|cliff|cliffs|club|corner|corners|course|crest|curve|dale|dam|divide|extension|ferry|flat|flats|ford|"
    "fords|forge|forges|fork|forks|fort|garden|groves|inlet|key|keys|land|light|lights|lock|locks|lodge|"
    "mall|mission|mount|mountain|mountains|neck|oval|overpass|plain|plains|radial|ramp|rapid|rapids|rest|river|"
    "route|shoal|shoals|skyway|squares|stream|throughway|trace|track|trafficway|tunnel|underpass|viaduct|"
    "wall|burg|burgs|bluff|bluffs|bottom|branch|bridge|bayou|beach|arcade|anex|crossroad|plateau|tarn|"
    "deviation|cruiseway|outlook|retreat|chase|approach|hub|quadrant|broadway|rue|heath|wynd|yard"
)
_DIRECTION = r"(?:n|s|e|w|ne|nw|se|sw|north|south|east|west|northeast|northwest|southeast|southwest)\.?"
_UNIT = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|flat|fl|floor|room|rm|bldg|building|#)\.?\s*#?\s*[a-z0-9][a-z0-9-]{0,5}\b)"
_ZIP_TAIL = r"(?:,?\s+[a-z][a-z .'-]{1,30}?(?:,\s*[a-z]{2,20})?,?\s+(?:\d{5}(?:-\d{4})?|[a-z]{1,2}\d[a-z\d]?\s*\d[a-z]{2})(?![\w-]))"
_WORD = r"[^\W_][\w'’.-]*"
# Words that never belong to a street name: they mean the number is a count ("5 miles down the road").
# fmt: off
_NOT_STREET_WORDS = frozenset(
    [
        "the",
        "a",
        "an",
        "my",
        "your",
        "our",
        "his",
        "her",
        "their",
        "its",
        "this",
        "that",
        "these",
        "those",
        "to",
        "of",
        "in",
        "on",
        "at",
        "for",
        "from",
        "with",
        "by",
        "down",
        "up",
        "and",
        "or",
        "but",
        "is",
        "was",
        "are",
        "were",
        "be",
        "been",
        "am",
        "i",
        "you",
        "he",
        "she",
        "we",
        "they",
        "it",
        "me",
        "him",
        "us",
        "them",
        "miles",
        "mile",
        "km",
        "blocks",
        "block",
        "minutes",
        "minute",
        "hours",
        "hour",
        "times",
        "years",
        "year",
        "days",
        "day",
        "weeks",
        "months",
        "people",
        "kids",
        "dogs",
        "cats",
        "more",
        "less",
        "than",
        "about",
        "around",
        "over",
        "under",
        "into",
        "onto",
        "off",
        "out",
        "per",
        "each",
        "every",
        "some",
        "many",
        "few",
        "all",
        "any",
        "no",
        "not",
        "only",
        "just",
        "very",
        "steps",
        "feet",
        "ft",
        "meters",
        "m",
        "yards",
        "lanes",
        "cars",
        "houses",
        "points",
        "am",
        "pm",
    ]
)
# fmt: on

_US_ADDRESS = re.compile(
    rf"(?<![\w.,/-])(?P<value>\d{{1,6}}[a-z]?(?:[-/]\d{{1,5}}[a-z]?)?,?\s+(?:{_DIRECTION}\s+)?"
    rf"(?P<name>(?:{_WORD}\s+){{0,3}}{_WORD})\s+(?P<suffix>{_CLEAR_SUFFIXES}|{_AMBIGUOUS_SUFFIXES})\b\.?"
    rf"(?:\s+{_DIRECTION}(?![a-z]))?{_UNIT}?{_ZIP_TAIL}?)",
    re.IGNORECASE,
)
# A postal code and the town after a street ("…, 75002 Paris", "…, 86068 Lebon-sur-Blot", "…, 10115 berlin").
_POSTAL_TOWN = (
    r"(?:,?\s+(?:\d{4,5}|\d{2}-\d{3})\s+(?:(?-i:[A-ZÀ-ÝÄÖÜ][\wà-ÿ'’]*(?:(?:\s|-)(?:sur|sous|en|le|la|les|de|du|des|am|an|"
    r"der|im|[A-ZÀ-ÝÄÖÜ][\wà-ÿ'’]*)){0,4})|[a-zà-ÿ][a-zà-ÿ'-]+))"
)
_GERMANIC_ADDRESS = re.compile(
    r"(?<![\w-])(?P<value>(?:(?-i:[A-ZÄÖÜ][a-zäöüß]+)\s+)?[^\W\d_][\w-]*(?:straße|strasse|str\.|weg|gasse|"
    r"allee|platz|ring|damm|ufer|straat|laan|gracht|plein|kade|dijk|steeg|singel|hof|vej|gade|gatan|vägen|veien|"
    r"gata|gränd|vei|gate|stræde|katu|tie|kuja|polku|tori|kaari|rinne|väylä|tänav|iela|gatvė)"
    r"\s+\d{1,4}\s?[a-z]?(?:/\d{1,4}[a-z]?)?\b" + _POSTAL_TOWN + "?)",
    re.IGNORECASE,
)
# The fused street word before a house number ("...straße 5", "...katu 12"): checked word by word before
# a number first (cheap), the whole pattern runs only where one occurs.
_GERMANIC_SUFFIXES = (
    "straße",
    "strasse",
    "str.",
    "weg",
    "gasse",
    "allee",
    "platz",
    "ring",
    "damm",
    "ufer",
    "straat",
    "laan",
    "gracht",
    "plein",
    "kade",
    "dijk",
    "steeg",
    "singel",
    "hof",
    "vej",
    "gade",
    "gatan",
    "vägen",
    "veien",
    "gata",
    "gränd",
    "vei",
    "gate",
    "stræde",
    "katu",
    "tie",
    "kuja",
    "polku",
    "tori",
    "kaari",
    "rinne",
    "väylä",
    "tänav",
    "iela",
    "gatvė",
)
_WORD_BEFORE_NUMBER = re.compile(r"(?<![\w.-])([^\W\d_][\w.-]*)\s+\d")


def _germanic_hint(text: str) -> bool:
    return any(m.group(1).lower().endswith(_GERMANIC_SUFFIXES) for m in _WORD_BEFORE_NUMBER.finditer(text))


_ROMANCE_STREET = (
    r"(?:rue|avenue|boulevard|bd|chemin|allée|impasse|quai|route|cours|calle|c/|avenida|avda\.?|paseo|"
    r"plaza|camino|carrer|avinguda|ronda|rambla|pasaje|travesía|glorieta|cañada|via|viale|piazza|"
    r"corso|vicolo|largo|rua|travessa|praça|alameda|strada|str\.|calea|bulevardul|bd\.|șoseaua|"
    r"ul\.|ulica|al\.|aleja|pl\.|plac|os\.|osiedle|ulitsa|ul|vulytsia|vul\.|prospekt|pr\.)"
)
_ROMANCE_NAME = r"(?:(?:de|del|la|las|los|le|les|du|des|da|do|dos|das|di|della|dei|l'|d')\s*)*[^\W\d_][\w'-]+(?:\s+[^\W\d_][\w'-]+)?"
_ROMANCE_NUMBER_FIRST = re.compile(
    rf"(?<![\w.,/-])(?P<value>\d{{1,4}}(?:\s?(?:bis|ter))?,?\s+{_ROMANCE_STREET}\s+{_ROMANCE_NAME}{_POSTAL_TOWN}?)",
    re.IGNORECASE,
)
_ROMANCE_NUMBER_LAST = re.compile(
    rf"(?<![\w-])(?P<value>{_ROMANCE_STREET}\s+{_ROMANCE_NAME},?\s+(?:n[º°o]\.?\s*)?\d{{1,4}}[a-z]?(?:/\d{{1,4}}[a-z]?)?\b"
    rf"{_POSTAL_TOWN}?)",
    re.IGNORECASE,
)
# Street words written after the name as a word of their own, with the number after them: Hungarian
# ("Andrássy út 12", "Kossuth tér 3"), Turkish ("Atatürk Caddesi No: 5"), Czech, Slovak, Slovene, Croatian,
# Russian/Ukrainian transliterations, and German/Dutch separate forms ("Berliner Straße 5").
_NAME_THEN_STREET_WORD = re.compile(
    r"(?<![\w-])(?P<value>(?-i:[A-ZÀ-ÖØ-ÞĀ-Ž][^\W\d_]*[.]?)(?:\s+(?-i:[A-ZÀ-ÖØ-ÞĀ-Ž][^\W\d_]*\.?)){0,2}\s+"
    r"(?:utca|u\.|út|útja|tér|körút|köz|sor|sokak|sokağı|sok\.|caddesi|cad\.|cd\.|bulvarı|mahallesi|mah\.|"
    r"náměstí|nám\.|třída|ulice|ulica|cesta|ulitsa|prospekt|straße|strasse|weg|allee|platz|straat|laan)"
    r",?\s+(?:no\s*[:.]?\s*)?\d{1,4}(?:\s?[/-]\s?\d{1,4})?[a-z]?\b" + _POSTAL_TOWN + "?)",
    re.IGNORECASE,
)
# Streets named by an ordinal ("on 5th Avenue", "45th Street"): no house number, still a street.
_ORDINAL_STREET = re.compile(
    r"(?<![\w.-])(?P<value>\d{1,3}(?:st|nd|rd|th)\s+(?:street|st|avenue|ave|road|rd|boulevard|blvd|drive|dr|lane|ln|"
    r"place|pl|terrace|court|ct|way)\b\.?)",
    re.IGNORECASE,
)
# Single-word thoroughfares after a house number ("555 Broadway").
_NUMBER_BROADWAY = re.compile(r"(?<![\w.,/-])(?P<value>\d{1,6}\s+(?-i:Broadway|Bowery|The Strand))\b", re.IGNORECASE)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|"
    "NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)
_CITY = r"(?-i:[A-Z][a-z]+(?:[ -](?:[A-Z][a-z]+|of|de|la))*)"
# The town line of an address: "Springfield, IL 62704", "Austin, TX", "Sydney NSW 2000" (postcodes:
# `_POSTCODE`).
_TOWN_LINE = re.compile(
    rf"(?<![\w-])(?P<value>{_CITY},\s*(?-i:{_US_STATES})(?:\s+\d{{5}}(?:-\d{{4}})?)?|"
    rf"{_CITY},?\s+(?-i:NSW|VIC|QLD|SA|TAS|ACT|NT|WA)\s+\d{{4}})(?![\w-]|[ \t]*:)",
    re.IGNORECASE,
)
_POSTCODE = re.compile(
    r"(?<![\w-])(?P<value>(?-i:(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2})|"
    r"[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d))(?![\w-])",
    re.IGNORECASE,
)
# A named street without a house number after "on", "at", "off" ("the cafe on Main Street"): part of an
# address, and where someone lives or meets as often as a landmark.
_STREET_AFTER_ON = re.compile(
    r"\b(?:on|at|off|near|along)\s+(?P<value>(?-i:[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)\s(?-i:Street|St|Avenue|Ave|Road|Rd|"
    r"Boulevard|Blvd|Lane|Ln|Drive|Dr|Place|Terrace|Crescent|Court)\b)",
    re.IGNORECASE,
)
# Indian address parts: a town and its six-digit PIN after a comma ("..., Gurugram, Haryana 122015"), and
# plot / sector / block numbers before a named place ("Plot 45, Sector 18, Gurugram").
_PIN_LINE = re.compile(
    r"(?<=, )(?P<value>(?-i:[A-Z][a-z]+(?: [A-Z][a-z]+)?)\s?-?\s?[1-9]\d{2}\s?\d{3})(?![\w-])", re.IGNORECASE
)
_PLOT_SECTOR = re.compile(
    r"(?<![\w-])(?P<value>(?:plot|h\.?\s?no\.?|flat|door|sector|block|phase)\s*(?:no\.?\s*)?[:#]?\s*\d{1,5}[a-z]?"
    r"(?:[/-]\d{1,4})?(?:,\s*(?:sector|block|phase|street|lane|road)\s*-?\s*\d{1,4}[a-z]?)*)(?=,\s*(?-i:[A-Z])[a-z])",
    re.IGNORECASE,
)
# An apartment or suite line on its own ("Apt. 4B", "Suite 200").
_UNIT_LINE = re.compile(r"(?<![\w-])(?P<value>(?:apt|apartment|suite|ste)\.?\s*#?\s*\d{1,5}[a-z]?)\b", re.IGNORECASE)
_PO_BOX = re.compile(r"(?<!\w)(?P<value>p\.?\s?o\.?\s*box\s+\d{1,8})\b", re.IGNORECASE)
_AMBIGUOUS = frozenset(_AMBIGUOUS_SUFFIXES.split("|"))
# fmt: off
_ROMANCE_TRAILING_STOP = frozenset(["in", "at", "near", "and", "or", "but", "is", "was", "with", "for", "to", "from", "on", "by", "en", "et", "y", "e", "an"])
# fmt: on


def _validate_us_address(match: re.Match) -> float | None:
    words = match.group("name").lower().split()
    if any(w.strip(".") in _NOT_STREET_WORDS for w in words):
        return None
    if words[0].isdigit():  # "5860 1897 elm place": the second number is the house number
        return None
    if match.group("suffix").lower() in _AMBIGUOUS:
        name = match.group("name").split()
        if not all(w[:1].isupper() or w[:1].isdigit() for w in name):
            return 0.3  # below the default threshold; an address context word lifts it
        return 0.5
    return 0.65


def _validate_romance_number_last(match: re.Match) -> float | None:
    """ "via DHL 3 days ago" is not Via Roma 3: English-looking street words need a capitalized name."""
    street, name = match.group("value").split(None, 2)[:2]
    if street.lower() in {"via", "route", "plaza", "avenue", "boulevard", "cours"} and not name[:1].isupper():
        return None
    return 0.6


def _validate_town_line(match: re.Match) -> float | None:
    """ "Springfield, IL 62704" is an address line; "Austin, TX" alone is a town, scored just above the
    threshold (it is where someone lives as often as where they travel)."""
    return 0.6 if re.search(r"\d", match.group("value")) else 0.45


class StreetAddressRecognizer(RegexRecognizer):
    ENTITY = "STREET_ADDRESS"
    RETRY_REJECTED = True
    CONTEXT = [
        "address",
        "live",
        "living",
        "located",
        "ship",
        "deliver",
        "delivery",
        "mail",
        "send",
        "house",
        "apartment",
        "apt",
        "moved",
        "move",
        "home",
        "street",
        "visit",
        "stay",
        "staying",
        "zip",
        "postcode",
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            [
                Rule("us_uk_address", _US_ADDRESS, 0.65, _validate_us_address),
                Rule("germanic_address", _GERMANIC_ADDRESS, 0.6, hint=_germanic_hint),
                Rule("romance_number_first", _ROMANCE_NUMBER_FIRST, 0.6),
                Rule("romance_number_last", _ROMANCE_NUMBER_LAST, 0.6, _validate_romance_number_last),
                Rule("po_box", _PO_BOX, 0.7),
                Rule("name_then_street_word", _NAME_THEN_STREET_WORD, 0.6),
                Rule("ordinal_street", _ORDINAL_STREET, 0.45),
                Rule("number_broadway", _NUMBER_BROADWAY, 0.6),
                Rule("town_line", _TOWN_LINE, 0.45, _validate_town_line),
                Rule("postcode", _POSTCODE, 0.5),
                Rule("unit_line", _UNIT_LINE, 0.45),
                Rule("street_after_on", _STREET_AFTER_ON, 0.45),
                Rule("pin_line", _PIN_LINE, 0.45),
                Rule("plot_sector", _PLOT_SECTOR, 0.5),
            ],
            supported_language,
        )

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts)
        for result in results:  # "12 rue de rivoli in" -> drop trailing stop words the name pattern took
            words = text[result.start : result.end]
            while " " in words and words.rsplit(" ", 1)[1].lower() in _ROMANCE_TRAILING_STOP:
                words = words.rsplit(" ", 1)[0]
            result.end = result.start + len(words)
            # "Also Berliner Straße 5": a capitalized English word at a sentence start is no street name
            rule = result.analysis_explanation.pattern_name if result.analysis_explanation else ""
            while (
                rule in ("germanic_address", "name_then_street_word")
                and " " in words
                and not_a_name(words.split(" ", 1)[0].lower())
            ):
                dropped = words.split(" ", 1)[0]
                if dropped.lower().rstrip(".") in {"ul", "al", "pl", "os", "str", "bd", "pr", "vul"}:
                    break
                words = words.split(" ", 1)[1]
                result.start = result.end - len(words)
        return results


# ---------------------------------------------------------------------------------------------------------
# Phone numbers

_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+/.:#$€£-])(?P<value>(?:\+|00)?\(?\d[\d().\s/-]{5,24}\d"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?)(?![\w/-]|\.\d|:\d|,\d)",
    re.IGNORECASE,
)
_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$", re.IGNORECASE)
_ISBN_SHAPE = re.compile(r"^97[89][- ]?\d{1,5}[- ]\d{1,7}[- ]\d{1,7}[- ]\d$")
_NANP = re.compile(r"^(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.-]?\d{3}[\s.-]\d{4}$")
_DATE_LIKE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}$")
_DOTTED_QUAD = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_SSN_SHAPE = re.compile(r"^\d{3}([-. ])\d{2}\1\d{4}$")
_CARD_SHAPE = re.compile(r"^\d{4}([ -])\d{4}\1\d{4}\1\d{1,4}$")


def _trim_phone(value: str) -> str:
    return value.rstrip(" .-/(")


def _validate_phone(match: re.Match) -> float | None:
    value = _EXTENSION.sub("", _trim_phone(match.group("value")))
    digits = re.sub(r"\D", "", value)
    if not 7 <= len(digits) <= 15:
        return None
    if any(shape.match(value) for shape in (_DATE_LIKE, _DOTTED_QUAD, _SSN_SHAPE, _CARD_SHAPE, _ISBN_SHAPE)):
        return None
    if value.count("(") != value.count(")"):
        return None
    groups = [g for g in re.split(r"[\s().\-/]+", value.lstrip("+")) if g]
    if sum(len(g) == 1 for g in groups) > 2 or any(len(g) > 12 for g in groups):
        return None
    if value.count("/") > 1:
        return None
    if re.search(r"\s{2,}", value):
        return 0.2  # wide spacing ("06  12  34  56  78"): a phone only behind a cue (ChatPhoneRecognizer)
    international = value.startswith(("+", "00")) and len(digits) >= 8
    if international or _NANP.match(value) or value.startswith("("):
        return 0.6
    if len(groups) >= 2 and len(digits) >= 9:
        return 0.5
    if len(groups) >= 2:
        return 0.35  # "555-0199", "1234 5678": phone-shaped, needs a context word
    # A bare digit run: order ids look the same, and nine digits is more often an SSN.
    return 0.4 if len(digits) in (10, 11) else 0.15 if len(digits) != 9 else None


# A phone cue in several languages. In a dialogue it is often a turn before the number ("can I have your
# number?" ... "Sure, it's 555-0123"), further back than presidio's six context words reach.
_PHONE_CUE = re.compile(
    r"\b(?:phone|telephone|tel|mobile|cell|cellphone|call|text|txt|sms|whatsapp|viber|signal|fax|landline|ring|line|"
    r"dial|reach|contact|hotline|téléphone|portable|handy|telefon|telefonnummer|rufnummer|telefono|teléfono|móvil|"
    r"movil|celular|cellulare|numéro|número|numer|nummer|number|tlf|tfn)\b",
    re.IGNORECASE,
)
# "number" after these words is not a phone's ("account number", "order number").
# fmt: off
_NOT_PHONE_NUMBER = frozenset(
    [
        "account",
        "order",
        "policy",
        "case",
        "ticket",
        "reference",
        "ref",
        "tracking",
        "invoice",
        "claim",
        "card",
        "routing",
        "serial",
        "confirmation",
        "transaction",
        "id",
        "member",
        "student",
        "patient",
        "passport",
        "license",
        "licence",
        "security",
        "ssn",
        "pesel",
        "nip",
        "tax",
        "model",
        "part",
        "item",
        "booking",
        "reservation",
        "flight",
        "registration",
        "vat",
        "iban",
    ]
)
# fmt: on
CUE_WINDOW = 120  # characters before a number searched for a phone cue
CUED_PHONE_SCORE = 0.55


def phone_cue_before(text: str, start: int) -> bool:
    """A phone cue word within CUE_WINDOW characters before `start` (and at most two line breaks back)."""
    window = text[max(0, start - CUE_WINDOW) : start]
    lines = window.split("\n")
    window = "\n".join(lines[-3:])
    for cue in reversed(list(_PHONE_CUE.finditer(window))):
        if cue.group().lower() != "number":
            return True
        previous = re.findall(r"[\w']+", window[: cue.start()])[-1:]
        if not previous or previous[0].lower() not in _NOT_PHONE_NUMBER:
            return True
    return False


class ChatPhoneRecognizer(RegexRecognizer):
    ENTITY = "PHONE_NUMBER"
    CONTEXT = [
        "phone",
        "number",
        "call",
        "cell",
        "mobile",
        "text",
        "txt",
        "reach",
        "tel",
        "whatsapp",
        "ring",
        "contact",
        "sms",
        "dial",
        "fax",
        "landline",
        "signal",
        "viber",
        "hmu",
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__([Rule("phone_like", _PHONE_CANDIDATE, 0.5, _validate_phone)], supported_language)

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = super().analyze(text, entities, nlp_artifacts)
        for result in results:
            result.end = result.start + len(_trim_phone(text[result.start : result.end]))
            if result.score < CUED_PHONE_SCORE and phone_cue_before(text, result.start):
                result.score = CUED_PHONE_SCORE  # national formats behind a cue: "tel 78 651 450", "668 5702"
        return results


# ---------------------------------------------------------------------------------------------------------
# Obfuscated e-mail, lower-case IBAN

_AT = r"(?:\s*[\(\[\{<]\s*at\s*[\)\]\}>]\s*|\s+at\s+|\s*\(@\)\s*|\s+@\s*|\s*@\s+)"
_DOT = r"(?:\s*[\(\[\{<]\s*dot\s*[\)\]\}>]\s*|\s+dot\s+|\.)"
_MAIL_PROVIDERS = (
    r"gmail|googlemail|yahoo|hotmail|outlook|icloud|aol|protonmail|proton|gmx|live|msn|mail|"
    r"yandex|zoho|fastmail|me|web|comcast|verizon|att|btinternet|orange|free|laposte|libero"
)
_OBFUSCATED_EMAIL = re.compile(
    rf"(?<![\w.+-])(?P<value>[a-z0-9][a-z0-9._+-]*(?:{_DOT}[a-z0-9_+-]+)*{_AT}(?P<domain>[a-z0-9-]+)"
    rf"(?:{_DOT}[a-z0-9-]+)*?(?P<lastdot>{_DOT})(?:com|net|org|edu|gov|io|co|uk|de|fr|es|it|nl|me|info|biz|us|ca|au|in|ru|cn|jp|br|pl|se|ch|at|be|"
    rf"dk|no|fi|pt|ie|nz|za|mx|ar|tv|ai|app|dev|xyz)\b)",
    re.IGNORECASE,
)


def _validate_obfuscated_email(match: re.Match) -> float | None:
    value = match.group("value").lower()
    spelled = bool(re.search(r"[\(\[\{<]\s*(?:at|dot)\s*[\)\]\}>]|\s+dot\s+|@", value))
    if spelled or re.fullmatch(_MAIL_PROVIDERS, match.group("domain").lower()):
        return 0.7
    return None  # "look at google.com" is not an address


class ObfuscatedEmailRecognizer(RegexRecognizer):
    ENTITY = "EMAIL_ADDRESS"
    CONTEXT = ["email", "mail", "e-mail", "contact", "reach", "write"]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            [Rule("obfuscated_email", _OBFUSCATED_EMAIL, 0.7, _validate_obfuscated_email)], supported_language
        )


_IBAN = re.compile(
    r"(?<![a-z0-9])(?P<value>[a-z]{2}\d{2}(?:[ ]?[a-z0-9]{4}){2,7}(?:[ ]?[a-z0-9]{1,4})?)(?![a-z0-9])", re.IGNORECASE
)


def iban_checksum_ok(value: str) -> bool:
    compact = re.sub(r"\s", "", value).upper()
    if not 15 <= len(compact) <= 34 or not compact.isascii() or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in rearranged)
    return int(number) % 97 == 1


class CaseInsensitiveIbanRecognizer(RegexRecognizer):
    ENTITY = "IBAN_CODE"
    CONTEXT = ["iban", "bank", "account", "transfer", "wire", "sepa"]

    def __init__(self, supported_language: str = "en"):
        # A wrong check digit scores 0.1: only a context word ("iban", "bank") lifts it over the threshold.
        super().__init__(
            [Rule("iban_any_case", _IBAN, 0.9, lambda m: 0.9 if iban_checksum_ok(m.group("value")) else 0.1)],
            supported_language,
        )


_CARD = re.compile(
    r"(?<![\w.,-])(?P<value>\d{4}([ .-]?)\d{4}\2\d{4}\2\d{1,7}|\d{4}([ .-]?)\d{6}\3\d{4,5}|"
    r"\d{5}([ .-]?)\d{5}\4\d{6})(?![\w-]|[.,]\d)"
)
# A card cue, then 12-19 digits in any grouping ("card: 12345 67890 123456", "visa 6011.0009.9013.9424"):
# the user named it, so the issuer prefix does not matter.
_CARD_CUES = (
    r"card|credit|debit|visa|mastercard|master\s+card|amex|american\s+express|discover|maestro|cc|"
    r"carte(?:\s+bancaire)?|cb|tarjeta|karte|kreditkarte|carta|karta|kaart|cartão"
)
_CARD_AFTER_CUE = re.compile(
    rf"\b(?:{_CARD_CUES})\b(?:[\s:#=.,-]|\b(?:number|num|no|nr|n[°º]|is|was|ending|numéro|número|nummer|numero|numer)\b)*"
    r"(?P<value>\d(?:[ .-]{0,2}\d){11,18})(?![\w-]|[.,]\d)",
    re.IGNORECASE,
)


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _validate_cued_card(match: re.Match) -> float | None:
    digits = re.sub(r"\D", "", match.group("value"))
    if not 12 <= len(digits) <= 19 or len(set(digits)) < 3:
        return None
    return 0.95 if luhn_ok(digits) else 0.45


def _validate_card(match: re.Match) -> float | None:
    digits = re.sub(r"\D", "", match.group("value"))
    if not 13 <= len(digits) <= 19 or len(set(digits)) < 3:
        return None
    if not luhn_ok(digits):
        # A mistyped or made-up number ("1234 5678 9012 3456") is still what the user meant as their card:
        # scored so that only a context word ("card", "visa") lifts it over the threshold.
        return 0.1
    # Issuer prefixes: Visa 4, Mastercard 51-55 and 2221-2720, Amex 34/37, Discover 6, Diners 30/36/38, JCB 35.
    known = digits[0] in "456" or digits[:2] in {"34", "37", "30", "36", "38", "35"} or 2221 <= int(digits[:4]) <= 2720
    return 0.9 if known else 0.5


class ChatCreditCardRecognizer(RegexRecognizer):
    """Luhn-valid card numbers in the groupings people type, including Mastercard's 2-series, which
    presidio's pattern predates."""

    ENTITY = "CREDIT_CARD"
    CONTEXT = ["card", "credit", "debit", "visa", "mastercard", "amex", "cc", "pay", "paid", "charge"]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            [
                Rule("card_number", _CARD, 0.9, _validate_card),
                Rule("card_after_cue", _CARD_AFTER_CUE, 0.95, _validate_cued_card),
            ],
            supported_language,
        )


_SSN_CUE = re.compile(
    r"\b(?:ssn|ss#|ss\s?no|soc\.?\s?sec|social(?:\s+sec(?:urity)?)?)(?![a-z])\.?(?:\s+(?:number|num|no|#)(?![a-z]))?"
    r"\W{0,3}(?:is|was|=|:|#)?\W{0,3}"
    r"(?P<value>\d{3}([-. ]?)\d{2}\2\d{4})(?!\d)",
    re.IGNORECASE,
)


def _validate_ssn(match: re.Match) -> float | None:
    digits = re.sub(r"\D", "", match.group("value"))
    if digits[:3] in {"000", "666"} or digits[3:5] == "00" or digits[5:] == "0000" or len(set(digits)) == 1:
        return None
    return 0.85


class SsnCueRecognizer(RegexRecognizer):
    """An SSN right after "ssn" or "social security number", in any grouping (presidio scores a bare
    nine-digit run 0.05 and lets a phone reading win)."""

    ENTITY = "US_SSN"

    def __init__(self, supported_language: str = "en"):
        super().__init__([Rule("ssn_after_cue", _SSN_CUE, 0.85, _validate_ssn)], supported_language)


# ---------------------------------------------------------------------------------------------------------
# Social handles and personal URLs

_HANDLE = re.compile(r"(?<![\w@.])(?P<value>@[a-z0-9_](?:[a-z0-9_.]{0,28}[a-z0-9_])?)(?![\w@])", re.IGNORECASE)
_NOT_HANDLES = frozenset({"@everyone", "@here", "@channel", "@all", "@home", "@work", "@me", "@you"})
_PLATFORM_HANDLE = re.compile(
    r"\b(?:insta(?:gram)?|ig|twitter|tiktok|snap(?:chat)?|discord|telegram|reddit|twitch|threads|bluesky|"
    r"handle|username|user\s?name|gamertag|psn|xbox|steam(?:\s?id)?|kik|skype)\b(?:\s*(?:is|:|-|=|at)\s*|\s+)"
    r"(?P<value>[a-z0-9_.]{3,30}[a-z0-9_])\b",
    re.IGNORECASE,
)


def _validate_handle(match: re.Match) -> float | None:
    return None if match.group("value").lower() in _NOT_HANDLES else 0.6


def _validate_platform_handle(match: re.Match) -> float | None:
    value = match.group("value")
    # A bare word after "instagram" is usually prose ("my instagram is private"); handles have
    # digits, underscores or dots.
    return 0.6 if re.search(r"[0-9_.]", value) and not value.replace(".", "").isdigit() else None


class SocialHandleRecognizer(RegexRecognizer):
    ENTITY = "SOCIAL_HANDLE"
    CONTEXT = [
        "insta",
        "instagram",
        "twitter",
        "tiktok",
        "snap",
        "follow",
        "handle",
        "dm",
        "discord",
        "ig",
        "telegram",
        "add",
        "username",
    ]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            [
                Rule("at_handle", _HANDLE, 0.6, _validate_handle),
                Rule("platform_handle", _PLATFORM_HANDLE, 0.6, _validate_platform_handle),
            ],
            supported_language,
        )


_PROFILE_URL = re.compile(
    r"(?<![\w@])(?P<value>(?:https?://)?(?:www\.|m\.)?(?:facebook|fb|instagram|twitter|x|linkedin|tiktok|github|"
    r"gitlab|youtube|reddit|twitch|pinterest|snapchat|medium|soundcloud|vimeo|onlyfans|patreon|threads|"
    r"bsky|venmo|cash|paypal|t|wa|linktr)\.(?:com|me|tv|net|app|ee|social)/(?:in/|u/|user/|@|~|\$)?"
    r"[a-z0-9_.\-$]{2,}[^\s<>\"')\]]*)",
    re.IGNORECASE,
)
_TILDE_URL = re.compile(
    r"(?<![\w@])(?P<value>(?:https?://)?[a-z0-9.-]+\.[a-z]{2,}/~[a-z0-9_.-]+[^\s<>\"')\]]*)", re.IGNORECASE
)


class PersonalUrlRecognizer(RegexRecognizer):
    ENTITY = "URL"
    CONTEXT = ["profile", "follow", "page", "my", "add"]

    def __init__(self, supported_language: str = "en"):
        super().__init__(
            [Rule("profile_url", _PROFILE_URL, 0.7), Rule("tilde_url", _TILDE_URL, 0.6)], supported_language
        )


# ---------------------------------------------------------------------------------------------------------
# Names after cues

_NAME_TOKEN = r"[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*['’]?"
# A lookahead, so that "hey jake and emma" still finds "emma" after the cue "and".
_NAME_WORDS = rf"(?=(?P<value>{_NAME_TOKEN}(?:[ \t]+{_NAME_TOKEN}){{0,2}}))"
_RELATIONS = (
    r"wife|husband|son|daughter|friend|brother|sister|mom|mum|mother|dad|father|boss|girlfriend|"
    r"boyfriend|gf|bf|partner|cousin|uncle|aunt|auntie|neighbou?r|coworker|co-worker|roommate|teacher|"
    r"kid|baby|fianc[eé]e?|grandma|grandpa|grandmother|grandfather|niece|nephew|bestie|bff|ex|crush|"
    r"manager|doctor|therapist|landlord|colleague|classmate|buddy|pal|bro|sis|stepmom|stepdad|stepson|"
    r"stepdaughter"
)
_RELATION_ADJECTIVES = (
    r"(?:(?:best|older|younger|little|big|baby|twin|new|old|late|dear|favou?rite|step|ex|"
    r"oldest|youngest|eldest)[ \t]+)?"
)
# The user says what their (or someone's) name is: any word that is not a common word is the name.
_DECLARED_CUE = re.compile(
    r"\b(?:my\s+name\s*(?:is|'s|’s|s)|my\s+names|name\s*(?:is|:|=)|call\s+me|i\s+go\s+by|they\s+call\s+me|"
    r"known\s+as|spell(?:ed)?\s+(?:it\s+)?as|(?:" + _RELATIONS + r")(?:'s|’s)\s+name\s+is|"
    r"(?:" + _RELATIONS + r")\s+(?:is\s+called|is\s+named|named|called))\s*:?\s*" + _NAME_WORDS,
    re.IGNORECASE,
)
# Someone is introduced by a relation or a sign-off: known first names or capitalized words.
_RELATION_CUE = re.compile(
    r"\b(?:(?:my|your|our|his|her|their|ur)\s+"
    + _RELATION_ADJECTIVES
    + r"(?:"
    + _RELATIONS
    + r")|regards,?|cheers,|xoxo,?|love,|sincerely,?|"
    r"thanks,|best,|-{1,2}|—)\s*" + _NAME_WORDS,
    re.IGNORECASE,
)
# "my best friend is Lily", "his boss was Frank": a known first name or a capitalized word.
_RELATION_IS_CUE = re.compile(
    r"\b(?:my|your|our|his|her|their|ur)\s+" + _RELATION_ADJECTIVES + r"(?:" + _RELATIONS + r")\s+(?:is|was)"
    r"\s+" + _NAME_WORDS,
    re.IGNORECASE,
)
# A title before a surname ("mr. johnson", "Dr Patel"): known names or capitalized words.
_TITLE_CUE = re.compile(
    r"\b(?:mr|mrs|ms|mx|miss|dr|prof|professor|doctor|sir|madam|mme|mlle|monsieur|madame|herr|frau|"
    r"sr|sra|srta|señor|señora|sig|sig\.ra|signor|signora|dott|dott\.ssa|pan|pani|mevrouw|meneer)\.?\s+" + _NAME_WORDS,
    re.IGNORECASE,
)
# Weak cues ("i'm", "hey", "with"): only known first names that are not also everyday words.
_WEAK_CUE = re.compile(
    r"\b(?:i'm|i’m|im|i\s+am|this\s+is|it's|it’s|its|hi|hey|hello|heya|hiya|yo|dear|thanks|thank\s+you|thx|ty|"
    r"bye|with|and|told|tell|ask|asked|met|meet|love|miss|named|called|from|by|to|for|at|like|about|"
    r"when|but|because|cuz|saw|see|call|text|texted|ask|visit|visited)\s+" + _NAME_WORDS,
    re.IGNORECASE,
)


# Cues that can only introduce a person ("tell Crystal", "I'm Hope"): a capitalized first name that is also
# an everyday word counts after them.
_PERSON_CUE = re.compile(
    r"\b(?:i'm|i’m|im|i\s+am|hi|hey|hello|heya|hiya|dear|thanks|thank\s+you|bye|tell|told|ask|asked|met|meet|"
    r"text|texted)\s+" + _NAME_WORDS,
    re.IGNORECASE,
)


def _first_accepted(word: str, level: str, dictionary: frozenset[str]) -> bool:
    bare = word.strip("'’-").lower()
    if len(bare) < 2:
        return False
    if level == "declared" and known_first_name(bare):
        return True  # "call me April", "my name is Will"
    if not_a_name(bare):
        return False
    known = is_first_name(bare) and not ambiguous_name(bare)
    if level == "declared":
        return True
    if level == "relation is":  # "my dad is rich": only a name that is no everyday word, or a capitalized one
        return known or word[:1].isupper()
    if level == "relation":
        return known or known_first_name(bare) or word[:1].isupper()
    if level == "title":
        return known or is_last_name(bare) or word[:1].isupper()
    if level == "person":  # "met Olu", "I'm Tamsin", "tell Crystal": capitalized, a name or no English word
        return (
            known
            or word[:1].isupper()
            and not word.isupper()
            and (known_first_name(bare) or not in_dictionary(bare, dictionary))
        )
    return known


def surname_follows(first: str, following: str, dictionary: frozenset[str]) -> bool:
    """An everyday-word first name is a name when a surname that is no English word follows ("jordan
    espinoza"; not "cook rice")."""
    first, following = first.lower(), following.lower()
    return (
        ambiguous_name(first)
        and not not_a_name(first)
        and is_surname(following)
        and not not_a_name(following)
        and not in_dictionary(following, dictionary)
    )


def _name_span(value: str, level: str, dictionary: frozenset[str]) -> int:
    """How many characters of `value` (the words after a cue) are a name; 0 when none is."""
    words = value.split()
    if not (
        _first_accepted(words[0], level, dictionary)
        or len(words) > 1
        and surname_follows(words[0], words[1], dictionary)
    ):
        return 0
    first_capitalized = words[0][:1].isupper()
    end = offset = len(words[0])
    for word in words[1:]:
        position = value.index(word, offset)
        lower = word.lower()
        if not_a_name(lower) or not (is_last_name(lower) or (first_capitalized and word[:1].isupper())):
            break
        end = offset = position + len(word)
    return end


_CAPITALIZED_NAME = r"(?-i:[A-Z\u00c0-\u024f][^\W\d_]*(?:['’-][^\W\d_]+)*)"
# A transcript's speaker: a line that starts (after an optional "[10:18 AM]") with a name and a colon,
# optionally with a role in parentheses ("Carol Green (Designer):").
_SPEAKER = re.compile(
    rf"(?m)^[ \t>*-]*(?P<time>\[?\(?\d{{1,2}}[:.]\d{{2}}(?:[:.]\d{{2}})?(?:[ \t]?[ap]\.?m\.?)?\]?\)?[ \t]*[-–]?[ \t]*)?"
    rf"(?P<value>{_CAPITALIZED_NAME}(?:[ \t]{_CAPITALIZED_NAME}){{0,2}})(?:[ \t]*\([^)\n]{{1,40}}\))?[ \t]*:[ \t]",
    re.IGNORECASE,
)
# A display name before an address: "To: Pepper Potts <pepper.potts@x.com>", "Carol Green (carol@x.com)".
_DISPLAY_NAME = re.compile(
    rf"(?P<value>{_CAPITALIZED_NAME}(?:[ \t]{_CAPITALIZED_NAME}){{0,3}})[ \t]*[<(\[][ \t]*(?:mailto:)?[\w.+-]+@",
    re.IGNORECASE,
)


def _speaker_name(match: re.Match, dictionary: frozenset[str]) -> bool:
    """A speaker label is a name, not a field label ("Email:", "Diagnosis:", "Bio:"): its first word is a
    known name, or after a timestamp ("[10:18 AM] Olu:") no English word."""
    first = match.group("value").split()[0].lower()
    if not_a_name(first):
        return False
    known = known_first_name(first) or is_last_name(first) or is_world_name(first)
    return known or bool(match.group("time")) and not in_dictionary(first, dictionary)


def _display_name(match: re.Match, dictionary: frozenset[str]) -> bool:
    """A display name before an address: some word is a known name, or no word is an English word
    ("Support Team <support@x.com>" is not a person)."""
    words = [w.lower() for w in match.group("value").split()]
    if not_a_name(words[0]):
        return False
    return any(known_first_name(w) or is_last_name(w) or is_world_name(w) for w in words) or not any(
        in_dictionary(w, dictionary) for w in words
    )


class NameCueRecognizer(LocalRecognizer):
    """PERSON after a cue, for lower-case and misspelled chat where a small NER model misses names;
    transcript speakers and e-mail display names (`_SPEAKER`, `_DISPLAY_NAME`)."""

    name: str  # set by presidio's __init__, in two branches mypy cannot type ("Cannot determine type")

    CUES = (
        (_DECLARED_CUE, "declared", 0.8),
        (_RELATION_CUE, "relation", 0.7),
        (_RELATION_IS_CUE, "relation is", 0.7),
        (_TITLE_CUE, "title", 0.7),
        (_PERSON_CUE, "person", 0.6),
        (_WEAK_CUE, "weak", 0.6),
    )

    def __init__(self, supported_language: str = "en", dictionary: frozenset[str] = frozenset()):
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language)
        self.dictionary = dictionary

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        for regex, level, score in self.CUES:
            for match in regex.finditer(text):
                start = match.start("value")
                length = _name_span(match.group("value"), level, self.dictionary)
                if length:
                    results.append(self._result(start, start + length, score, level))
        for regex, accept, level in ((_SPEAKER, _speaker_name, "speaker"), (_DISPLAY_NAME, _display_name, "display")):
            if level == "display" and "@" not in text or level == "speaker" and ":" not in text:
                continue
            for match in regex.finditer(text):
                if accept(match, self.dictionary):
                    results.append(self._result(match.start("value"), match.end("value"), 0.7, level))
        return results

    def _result(self, start: int, end: int, score: float, level: str) -> RecognizerResult:
        return recognizer_result(self, "PERSON", start, end, score, level)


_WORD_TOKEN = re.compile(r"(?<![\w@#/.])[^\W\d_][\w'’-]*[^\W\d_](?![\w@])")


# Verbs whose subject is a person: a capitalized everyday-word first name before one is a name ("Grace
# called me", "Summer says hi"; not "summer is here").
# fmt: off
_SPEAKER_VERBS = frozenset(
    [
        "said",
        "says",
        "told",
        "tells",
        "texted",
        "texts",
        "called",
        "asked",
        "asks",
        "replied",
        "replies",
        "messaged",
        "emailed",
        "dmed",
        "promised",
        "invited",
        "thinks",
        "thought",
        "wants",
        "wanted",
        "knows",
        "knew",
        "loves",
        "hates",
        "laughed",
        "cried",
        "smiled",
        "admitted",
        "apologized",
        "apologised",
        "insisted",
        "mentioned",
        "explained",
        "yelled",
        "shouted",
        "whispered",
    ]
)
# fmt: on


# A list of capitalized words joined by commas and "and" (in several languages): "Nowak, Kowalczyk and
# Wiśniewski". When every word of it is a known surname or name that is no English word, each is a person.
_CAPITALIZED_WORD = r"(?-i:[A-Z\u00c0-\u024f][^\W\d_]+(?:['’-][^\W\d_]+)*)"
_NAME_LIST = re.compile(
    rf"{_CAPITALIZED_WORD}(?:\s*(?:,|;|&|\band\b|\bund\b|\bet\b|\by\b|\bi\b|\be\b)\s*"
    rf"{_CAPITALIZED_WORD}){{1,}}",
    re.IGNORECASE,
)


def _listed_name(word: str, dictionary: frozenset[str]) -> bool:
    lower = word.lower()
    return (
        len(lower) > 2
        and not not_a_name(lower)
        and not in_dictionary(lower, dictionary)
        and (is_last_name(lower) or is_world_name(lower))
    )


class KnownNameRecognizer(LocalRecognizer):
    """PERSON for known first names without a cue, extended by a following surname. A first name that is
    also an everyday word counts before a surname that is no English word or, capitalized, before a verb
    only people do (`_SPEAKER_VERBS`).

    A small NER model misses capitalized names in chat ("Thanks Jake!", tagged NORP or nothing). A
    capitalized known first name scores 0.65, a lower-case one 0.55 (on 5,000 real hh-rlhf and persona-chat
    messages, lower-case known first names occur 9 times, most of them real names).
    """

    name: str  # set by presidio's __init__, in two branches mypy cannot type ("Cannot determine type")

    CAPITALIZED, LOWER = 0.65, 0.55

    def __init__(self, supported_language: str = "en", dictionary: frozenset[str] = frozenset()):
        super().__init__(supported_entities=["PERSON"], supported_language=supported_language)
        self.dictionary = dictionary
        world_names()  # loaded with the engine, not on the first message

    def load(self) -> None:
        pass

    def analyze(self, text: str, entities, nlp_artifacts=None) -> list[RecognizerResult]:
        results = []
        words = list(_WORD_TOKEN.finditer(text))
        skip_until = -1
        for i, match in enumerate(words):
            if match.start() < skip_until:
                continue
            word = match.group()
            lower = word.lower()
            if word.isupper() and len(word) > 1:
                continue
            following = adjacent_word(text, words, i)
            full_name = following is not None and surname_follows(word, following.group(), self.dictionary)
            speaker = (
                word[:1].isupper()
                and following is not None
                and known_first_name(lower)
                and following.group().lower() in _SPEAKER_VERBS
            )
            world = word[:1].isupper() and not word.isupper() and is_world_name(lower)
            if not (is_first_name(lower) and not ambiguous_name(lower) or full_name or speaker or world):
                continue
            capitalized = word[:1].isupper()
            end = match.end()
            if following is not None:
                next_word = following.group()
                if not not_a_name(next_word.lower()) and (
                    is_last_name(next_word.lower())
                    or capitalized
                    and next_word[:1].isupper()
                    or capitalized
                    and is_world_name(next_word.lower())
                ):
                    end = following.end()
            skip_until = end
            score = self.CAPITALIZED if capitalized else self.LOWER
            results.append(self._result(match.start(), end, score, "known_first_name"))
        for run in _NAME_LIST.finditer(text):
            words = list(re.finditer(_CAPITALIZED_WORD, run.group()))
            if all(_listed_name(w.group(), self.dictionary) for w in words):
                results += [
                    self._result(run.start() + w.start(), run.start() + w.end(), self.CAPITALIZED, "name_list")
                    for w in words
                ]
        return results

    def _result(self, start: int, end: int, score: float, pattern: str) -> RecognizerResult:
        return recognizer_result(self, "PERSON", start, end, score, pattern)
