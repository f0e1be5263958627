"""Word lists for the name recognizer: known first and last names, and words that are never names.

First and last names come from Faker's person providers (English-speaking and a few European locales);
"never a name" is spaCy's stop words, Faker's list of about 1,000 common English words and the chat words
below. A first name that is also an everyday word ("will", "grace", "summer") is ambiguous: it counts only
after a strong cue such as "my name is". The list was reviewed against the English words of WordNet: the
known first names that are also verbs, adjectives or adverbs there ("jet", "edit", "grant") were added
unless the name is the more common use ("bob", "nick", "julian").

`dictionary_words` is WordNet's index of English lemmas as spaCy's English models ship it (lemmatizer
lookups): the "is this capitalized word just a word?" test for sentence starts, where a small NER model
tags "Hush", "Small" or "Cook" as people.
"""

from __future__ import annotations

import importlib
import re
from functools import lru_cache
from pathlib import Path

from curation.scrub.config import DEFAULT_MODEL

GAZETTEER_LOCALES = (
    "en_US",
    "en_GB",
    "en_IE",
    "en_IN",
    "es_ES",
    "es_MX",
    "fr_FR",
    "de_DE",
    "it_IT",
    "pt_BR",
    "nl_NL",
    "pl_PL",
)
# Further Latin-script locales of Faker: their names count only capitalized and when they are no English
# word (Turkish "Can", Spanish "Luz" stay words), so that a far larger list costs no precision on English.
WORLD_LOCALES = (
    "az_AZ",
    "cs_CZ",
    "da_DK",
    "de_AT",
    "de_CH",
    "en_KE",
    "en_NG",
    "en_NZ",
    "en_PK",
    "es_AR",
    "es_CL",
    "es_CO",
    "et_EE",
    "fi_FI",
    "fr_CA",
    "fr_CH",
    "ga_IE",
    "ha_NG",
    "hr_HR",
    "hu_HU",
    "id_ID",
    "ig_NG",
    "is_IS",
    "lt_LT",
    "lv_LV",
    "nl_BE",
    "no_NO",
    "pt_PT",
    "ro_RO",
    "sk_SK",
    "sl_SI",
    "sv_SE",
    "sw",
    "tr_TR",
    "tw_GH",
    "uz_UZ",
    "vi_VN",
    "yo_NG",
    "zu_ZA",
)

# Words that follow "i'm", "call me", "hey" in chat and are not names.
# fmt: off
CHAT_WORDS = frozenset(
    [
        "lol",
        "lmao",
        "lmfao",
        "rofl",
        "haha",
        "hahaha",
        "hehe",
        "heh",
        "omg",
        "omfg",
        "wtf",
        "btw",
        "tbh",
        "idk",
        "imo",
        "imho",
        "ikr",
        "smh",
        "pls",
        "plz",
        "thx",
        "ty",
        "np",
        "ok",
        "okay",
        "okey",
        "yeah",
        "yea",
        "yep",
        "yup",
        "nope",
        "nah",
        "yes",
        "no",
        "hi",
        "hey",
        "hello",
        "heya",
        "hiya",
        "yo",
        "sup",
        "bro",
        "bruh",
        "dude",
        "man",
        "girl",
        "guys",
        "gal",
        "sir",
        "maam",
        "ma'am",
        "mate",
        "buddy",
        "babe",
        "baby",
        "honey",
        "sweetie",
        "darling",
        "dear",
        "love",
        "hun",
        "bestie",
        "fam",
        "folks",
        "everyone",
        "everybody",
        "somebody",
        "anybody",
        "nobody",
        "friend",
        "friends",
        "sis",
        "bro",
        "boss",
        "chief",
        "king",
        "queen",
        "tired",
        "bored",
        "sorry",
        "fine",
        "good",
        "great",
        "ok",
        "sure",
        "ready",
        "hungry",
        "happy",
        "sad",
        "excited",
        "crazy",
        "later",
        "back",
        "anytime",
        "whenever",
        "tomorrow",
        "tonight",
        "today",
        "yesterday",
        "soon",
        "now",
        "asap",
        "maybe",
        "probably",
        "definitely",
        "totally",
        "literally",
        "actually",
        "really",
        "honestly",
        "basically",
        "seriously",
        "kinda",
        "sorta",
        "gonna",
        "wanna",
        "gotta",
        "lemme",
        "dunno",
        "ain't",
        "isn't",
        "aren't",
        "wasn't",
        "don't",
        "doesn't",
        "didn't",
        "can't",
        "couldn't",
        "won't",
        "wouldn't",
        "shouldn't",
        "i'd",
        "i'll",
        "i've",
        "you're",
        "we're",
        "they're",
        "it's",
        "that's",
        "here",
        "there",
        "home",
        "done",
        "going",
        "trying",
        "looking",
        "feeling",
        "thinking",
        "wondering",
        "asking",
        "curious",
        "new",
        "old",
        "glad",
        "lucky",
        "busy",
        "free",
        "single",
        "married",
        "alone",
        "lonely",
        "stressed",
        "worried",
        "scared",
        "afraid",
        "angry",
        "mad",
        "upset",
        "confused",
        "lost",
        "stuck",
        "sick",
        "ill",
        "hurt",
        "broke",
        "late",
        "early",
        "sleepy",
        "awake",
        "alive",
        "fine",
        "cool",
        "nice",
        "sweet",
        "funny",
        "weird",
        "stupid",
        "dumb",
        "smart",
        "interested",
        "sure",
        "certain",
        "right",
        "wrong",
        "serious",
        "joking",
        "kidding",
        "just",
        "also",
        "still",
        "even",
        "always",
        "never",
        "ever",
        "almost",
        "pretty",
        "quite",
        "rather",
        "too",
        "very",
        "so",
        "such",
        "what",
        "who",
        "whom",
        "whose",
        "which",
        "where",
        "when",
        "why",
        "how",
        "whatever",
        "whoever",
        "mom",
        "dad",
        "mum",
        "mother",
        "father",
        "sister",
        "brother",
        "son",
        "daughter",
        "wife",
        "husband",
        "grandma",
        "grandpa",
        "aunt",
        "uncle",
        "cousin",
        "assistant",
        "bot",
        "ai",
        "chatbot",
        "robot",
        "human",
        "person",
        "user",
        "someone",
        "something",
        "anything",
        "nothing",
        "everything",
        "mr",
        "mrs",
        "ms",
        "miss",
        "dr",
        "prof",
        "sir",
        "madam",
        "lady",
        "gentleman",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
        "english",
        "spanish",
        "french",
        "german",
        "italian",
        "american",
        "british",
        "canadian",
    ]
)
# fmt: on

# First names that are also common words: only a strong cue makes them names.
# fmt: off
AMBIGUOUS_FIRST_NAMES = frozenset(
    [
        "will",
        "may",
        "june",
        "april",
        "august",
        "hope",
        "grace",
        "joy",
        "faith",
        "rose",
        "lily",
        "violet",
        "daisy",
        "summer",
        "autumn",
        "dawn",
        "sky",
        "bill",
        "mark",
        "pat",
        "sue",
        "art",
        "jack",
        "max",
        "guy",
        "rich",
        "frank",
        "earnest",
        "chase",
        "hunter",
        "page",
        "lane",
        "reed",
        "rob",
        "ray",
        "carol",
        "don",
        "dean",
        "drew",
        "gene",
        "glen",
        "hazel",
        "holly",
        "ivy",
        "jade",
        "ruby",
        "amber",
        "crystal",
        "penny",
        "sandy",
        "misty",
        "stormy",
        "river",
        "rocky",
        "buddy",
        "king",
        "prince",
        "duke",
        "major",
        "miles",
        "norm",
        "sterling",
        "wade",
        "cliff",
        "dale",
        "heather",
        "iris",
        "jasmine",
        "olive",
        "pearl",
        "ginger",
        "honey",
        "candy",
        "cherry",
        "brandy",
        "destiny",
        "harmony",
        "melody",
        "serenity",
        "trinity",
        "unique",
        "precious",
        "charity",
        "patience",
        "mercy",
        "constance",
        "virginia",
        "georgia",
        "carolina",
        "dakota",
        "paris",
        "london",
        "jordan",
        "austin",
        "dallas",
        "houston",
        "phoenix",
        "sydney",
        "chelsea",
        "victoria",
        "florence",
        "madison",
        "brooklyn",
        "india",
        "china",
        "asia",
        "africa",
        "eve",
        "adam",
        "abel",
        "job",
        "noel",
        "christian",
        "bishop",
        "baker",
        "cook",
        "hunter",
        "fisher",
        "mason",
        "carter",
        "porter",
        "taylor",
        "tanner",
        "archer",
        "angel",
        "star",
        "storm",
        "rain",
        "snow",
        "sunny",
        "sage",
        "fern",
        "willow",
        "forest",
        "ash",
        "autumn",
        "winter",
        "spring",
        "mae",
        "ken",
        "ben",
        "jan",
        "jean",
        "gay",
        "dick",
        "peter",
        "willy",
        "wiley",
        "hank",
        "harry",
        "bud",
        "sonny",
        "junior",
        "young",
        "harm",
        "till",
        "harsh",
        "forum",
        "pace",
        "chance",
        "case",
        "gray",
        "grey",
        "lee",
        "long",
        "rich",
        "rusty",
        "dusty",
        "tip",
        "ante",
        "cord",
        "coral",
        "curt",
        "ebony",
        "edit",
        "feline",
        "grant",
        "grit",
        "hardy",
        "jet",
        "kick",
        "lance",
        "mar",
        "marine",
        "maxi",
        "peer",
        "pierce",
        "raven",
        "roan",
        "sole",
        "urban",
        "veer",
        "wolf",
    ]
)
# fmt: on
# Set phrases whose words look like names ("Mamma mia!"): a PERSON inside one is not a person.
NAME_IDIOMS = (
    "mamma mia",
    "mama mia",
    "by jove",
    "by george",
    "for pete's sake",
    "bob's your uncle",
    "jack of all trades",
    "peeping tom",
    "doubting thomas",
    "nosy parker",
    "smart alec",
)


@lru_cache(maxsize=1)
def _common_words() -> frozenset[str]:
    from faker.providers.lorem.en_US import Provider as Lorem
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) | frozenset(Lorem.word_list) | CHAT_WORDS


@lru_cache(maxsize=1)
def trivial_words() -> frozenset[str]:
    """Stop words and chat words: capitalized, they are sentence starts, not names."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS) | CHAT_WORDS


def _provider(locale: str):
    return importlib.import_module(f"faker.providers.person.{locale}").Provider


@lru_cache(maxsize=1)
def first_names() -> frozenset[str]:
    names: set[str] = set()
    for locale in GAZETTEER_LOCALES:
        provider = _provider(locale)
        for attribute in ("first_names", "first_names_male", "first_names_female"):
            names.update(n.lower() for n in getattr(provider, attribute, ()) if n.isalpha())
    return frozenset(names - _common_words())


# Where Faker's person providers keep surnames (pl_PL: male and unisex lists, its `last_names` is a stub).
_LAST_NAME_ATTRIBUTES = (
    "last_names",
    "last_names_male",
    "last_names_female",
    "male_last_names",
    "female_last_names",
    "unisex_last_names",
)


@lru_cache(maxsize=1)
def last_names() -> frozenset[str]:
    names: set[str] = set()
    for locale in GAZETTEER_LOCALES:
        provider = _provider(locale)
        for attribute in _LAST_NAME_ATTRIBUTES:
            names.update(n.lower() for n in getattr(provider, attribute, ()) if n.replace("-", "").isalpha())
    # Slavic surnames change ending with gender; pl_PL lists only the male form ("kowalski" -> "kowalska").
    names.update(n[:-1] + "a" for n in list(names) if n.endswith(("ski", "cki", "dzki")))
    return frozenset(names - _common_words())


# Locales in other scripts whose Faker provider also lists romanized names ("Haruto Tanaka", "Li Wei").
ROMANIZED_LOCALES = ("ja_JP", "zh_CN", "zh_TW")


def _locale_names(locales, attributes) -> set[str]:
    names: set[str] = set()
    for locale in locales:
        provider = _provider(locale)
        for attribute in attributes:
            values = getattr(provider, attribute, ())
            if isinstance(values, (dict, list, tuple, set, frozenset)):  # some locales hold a property
                names.update(n.lower() for n in values if isinstance(n, str) and n.replace("-", "").isalpha())
    return names


@lru_cache(maxsize=1)
def world_names() -> frozenset[str]:
    """First and last names of WORLD_LOCALES and the romanized names of ROMANIZED_LOCALES (lower case)
    that are no English word: capitalized, a name ("Łukasz", "Zoltán", "Nguyễn", "Björk", "Haruto")."""
    names = _locale_names(
        WORLD_LOCALES, ("first_names", "first_names_male", "first_names_female", *_LAST_NAME_ATTRIBUTES)
    )
    names |= _locale_names(
        ROMANIZED_LOCALES,
        ("first_romanized_names", "first_romanized_names_female", "first_romanized_names_male", "last_romanized_names"),
    )
    names = {n for n in names if len(n) > 2}
    return frozenset(names - _common_words() - dictionary_words(DEFAULT_MODEL) - trivial_words())


def is_world_name(word: str) -> bool:
    return word in world_names()


def not_a_name(word: str) -> bool:
    """True for stop words, common English words and chat words (lower-case input)."""
    return word in _common_words() or not any(c.isalpha() for c in word)


def is_first_name(word: str) -> bool:
    return word in first_names()


def is_last_name(word: str) -> bool:
    return word in last_names() or word in first_names()


def is_surname(word: str) -> bool:
    """In the surname lists proper (not a first name used as a surname)."""
    return word in last_names()


def ambiguous_name(word: str) -> bool:
    return word in AMBIGUOUS_FIRST_NAMES


def known_first_name(word: str) -> bool:
    """A first name of the lists, everyday-word ones ("grace", "april") included (lower-case input)."""
    return word in first_names() or word in AMBIGUOUS_FIRST_NAMES


def in_dictionary(word: str, dictionary: frozenset[str]) -> bool:
    """`word` (lower case) or its singular ("cramps", "bookmarks") is an English word."""
    if word in dictionary:
        return True
    singulars: tuple[str, ...] = (word[:-3] + "y",) if word.endswith("ies") else ()
    singulars += (word[:-2],) if word.endswith("es") else ()
    singulars += (word[:-1],) if word.endswith("s") and not word.endswith("ss") else ()
    return any(s in dictionary for s in singulars)


@lru_cache(maxsize=4)
def dictionary_words(model: str) -> frozenset[str]:
    """Lower-case English words (WordNet nouns, verbs, adjectives, adverbs) from the lemmatizer lookups
    of the spaCy model package `model`; empty when the model ships none (the rules using it then rely on
    the stop and common words alone)."""
    import spacy
    from spacy.lookups import Lookups

    root = spacy.util.get_package_path(model) if spacy.util.is_package(model) else Path(model)
    found = sorted(root.glob("**/lemmatizer/lookups")) if root.exists() else []
    if not found:
        return frozenset()
    index = Lookups().from_disk(found[0]).get_table("lemma_index", {})
    words: set[str] = set()
    for part_of_speech in ("noun", "verb", "adj", "adv"):
        words.update(w for w in index.get(part_of_speech, ()) if w.isalpha())
    return frozenset(words)


SENTENCE_END = ".!?…\n"
# Abbreviations whose full stop ends no sentence ("Dear Mr. Smith"): the next word is no sentence start.
# fmt: off
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "mx",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "sra",
        "srta",
        "messrs",
        "mme",
        "mlle",
        "sig",
        "dott",
        "sen",
        "rep",
        "gen",
        "capt",
        "col",
        "lt",
        "sgt",
        "rev",
        "fr",
        "hr",
        "herr",
    ]
)
# fmt: on
_CONTRACTION = re.compile(r"(?:n['’]t|['’](?:s|m|ll|re|ve|d))$")


def at_sentence_start(text: str, position: int) -> bool:
    """Only spaces, quotes and emoji between `position` and the text's start or a sentence's end."""
    i = position
    while i > 0 and not text[i - 1].isalnum() and text[i - 1] not in SENTENCE_END:
        i -= 1
    if i > 0 and text[i - 1] == ".":
        before = re.search(r"(\w+)\.$", text[max(0, i - 12) : i])
        if before and before.group(1).lower() in _ABBREVIATIONS:
            return False
    return i == 0 or text[i - 1] in SENTENCE_END


def adjacent_word(text: str, words: list[re.Match[str]], i: int) -> re.Match[str] | None:
    """The word after `words[i]` when only one space or tab separates them (a name's surname), else None."""
    if i + 1 >= len(words):
        return None
    following = words[i + 1]
    return following if text[words[i].end() : following.start()] in (" ", "\t") else None


def contraction_base(word: str) -> str:
    """`word` in lower case without a contraction or possessive ending ("I'm" -> "i", "Don't" -> "do",
    "Luna's" -> "luna")."""
    return _CONTRACTION.sub("", word.lower())
