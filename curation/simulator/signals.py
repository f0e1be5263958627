"""The signal model: engagement signals drawn from a logistic model over reply features.

`COEFFICIENTS` is the single table of the model (also written to simulation.json and docs/simulator.md).
Each signal s has logit(p_s) = sum over terms of coefficient * term value, where the terms are the reply
features of `features.py` plus three context terms: `intercept` (1), `turn` (0-based user turn index:
users tire) and `engagement` (a per-user plus per-conversation random effect, standard deviations
`USER_ENGAGEMENT_SD` and `CONVERSATION_ENGAGEMENT_SD`: the heterogeneity that makes conversation
length heavy-tailed). Thumbs are one three-way draw: p(up) = e^u / (1 + e^u + e^d), p(down) likewise.

The draws are independent given the probabilities, with three rules that the data contract implies: a
regenerated reply has continued=false (the user asked for another answer instead of writing); a reply at
the last allowed user turn has continued=false; love is false with a thumb down.
"""

from __future__ import annotations

import math

from curation.simulator.grammar import Rnd

MAX_USER_TURNS = 30
MAX_REGENERATIONS = 3
USER_ENGAGEMENT_SD = 0.5
CONVERSATION_ENGAGEMENT_SD = 0.7
FEEDBACK_SHARE = 0.3

TERMS = (
    "intercept",
    "ends_with_question",
    "emoji_some",
    "emoji_flood",
    "has_list",
    "words_100",
    "wall_of_text",
    "refusal",
    "stock_opener",
    "exclamation_density",
    "persona_break",
    "instruction_violation",
    "turn",
    "engagement",
)
TERM_DOCS = {
    "intercept": "1",
    "emoji_some": "1 to 3 emoji (a little emoji is liked; a flood is not)",
    "words_100": "reply length in hundreds of words",
    "turn": "0-based index of the user turn the reply answers",
    "engagement": "per-user + per-conversation random effect, N(0, 0.5^2) + N(0, 0.7^2)",
}

COEFFICIENTS: dict[str, dict[str, float]] = {
    "continued": {
        "intercept": 0.8,
        "ends_with_question": 0.9,
        "emoji_some": 0.15,
        "emoji_flood": -1.0,
        "has_list": -0.25,
        "words_100": -0.3,
        "wall_of_text": -0.9,
        "refusal": -1.2,
        "stock_opener": -0.35,
        "exclamation_density": -0.3,
        "persona_break": -0.7,
        "instruction_violation": -0.45,
        "turn": -0.03,
        "engagement": 1.0,
    },
    "thumb_up": {
        "intercept": -2.9,
        "ends_with_question": 0.35,
        "emoji_some": 0.2,
        "emoji_flood": -0.4,
        "has_list": 0.1,
        "wall_of_text": -0.5,
        "refusal": -1.5,
        "stock_opener": -0.3,
        "persona_break": -0.8,
        "instruction_violation": -0.4,
        "engagement": 0.5,
    },
    "thumb_down": {
        "intercept": -4.0,
        "ends_with_question": -0.2,
        "emoji_flood": 0.8,
        "wall_of_text": 0.8,
        "refusal": 2.2,
        "stock_opener": 0.5,
        "exclamation_density": 0.3,
        "persona_break": 1.4,
        "instruction_violation": 0.7,
    },
    "love": {
        "intercept": -4.2,
        "ends_with_question": 0.5,
        "emoji_some": 0.4,
        "refusal": -2.0,
        "persona_break": -1.0,
        "engagement": 0.5,
    },
    "regenerated": {
        "intercept": -3.4,
        "has_list": 0.2,
        "emoji_flood": 0.7,
        "wall_of_text": 0.9,
        "refusal": 2.3,
        "stock_opener": 0.6,
        "persona_break": 1.1,
        "instruction_violation": 0.5,
    },
    "reported": {
        "intercept": -6.5,
        "emoji_flood": 0.9,
        "refusal": 0.8,
        "persona_break": 1.8,
        "instruction_violation": 0.6,
    },
}
SIGNALS = tuple(COEFFICIENTS)
BINARY_TERMS = (
    "ends_with_question",
    "emoji_some",
    "emoji_flood",
    "has_list",
    "wall_of_text",
    "refusal",
    "stock_opener",
    "persona_break",
    "instruction_violation",
)
CONTINUOUS_TERMS = ("words_100", "exclamation_density", "turn", "engagement")
assert set(TERMS) == {"intercept", *BINARY_TERMS, *CONTINUOUS_TERMS}
assert SIGNALS == ("continued", "thumb_up", "thumb_down", "love", "regenerated", "reported")
_CONTINUOUS = tuple(tuple(COEFFICIENTS[s].get(term, 0.0) for s in SIGNALS) for term in CONTINUOUS_TERMS)
_BASE_BY_MASK: dict[int, tuple[float, ...]] = {}

NEGATIVE_FEEDBACK = (
    ("refusal", ("refused for no reason", "why won't it just answer", "too preachy")),
    ("persona_break", ("broke character", "it said it was an AI")),
    ("wall_of_text", ("way too long", "too much text")),
    ("emoji_flood", ("too many emojis", "emoji overload")),
    ("instruction_violation", ("ignored the character's rules", "didn't follow instructions")),
    ("stock_opener", ("sounds canned", "same boring opener")),
    ("has_list", ("stop making lists",)),
)
GENERIC_NEGATIVE = ("not helpful", "boring", "didn't get my question", "meh")
POSITIVE_FEEDBACK = {
    True: ("loved that it asked me back", "felt like a real conversation"),
    False: ("great answer", "so helpful", "very in character", "made me smile", "exactly what I needed"),
}


def binary_mask(features: dict) -> int:
    """The binary terms of a reply as a bit mask (bit i = BINARY_TERMS[i])."""
    emoji = features["emoji_count"]
    return (
        features["ends_with_question"]
        | (0 < emoji < 4) << 1
        | features["emoji_flood"] << 2
        | features["has_list"] << 3
        | features["wall_of_text"] << 4
        | features["refusal"] << 5
        | features["stock_opener"] << 6
        | features["persona_break"] << 7
        | features["instruction_violation"] << 8
    )


def _base(mask: int) -> tuple[float, ...]:
    """Intercept plus the coefficients of the active binary terms, per signal (cached by mask)."""
    base = _BASE_BY_MASK.get(mask)
    if base is None:
        active = [term for bit, term in enumerate(BINARY_TERMS) if mask >> bit & 1]
        base = tuple(
            COEFFICIENTS[s].get("intercept", 0.0) + sum(COEFFICIENTS[s].get(t, 0.0) for t in active) for s in SIGNALS
        )
        _BASE_BY_MASK[mask] = base
    return base


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def probabilities(features: dict, turn: int, engagement: float) -> dict[str, float]:
    """p(signal) of one reply: the logistic model of COEFFICIENTS over its features and context."""
    values = (features["words"] / 100, features["exclamation_density"], turn, engagement)
    z = list(_base(binary_mask(features)))
    for value, column in zip(values, _CONTINUOUS, strict=True):
        if value:
            z = [a + value * b for a, b in zip(z, column, strict=True)]
    continued, up, down, love, regenerated, reported = z
    up, down = math.exp(up), math.exp(down)
    return {
        "continued": _sigmoid(continued),
        "thumb_up": up / (1 + up + down),
        "thumb_down": down / (1 + up + down),
        "love": _sigmoid(love),
        "regenerated": _sigmoid(regenerated),
        "reported": _sigmoid(reported),
    }


def _feedback(thumb: int, features: dict, rnd: Rnd) -> str | None:
    if thumb == 0 or rnd() >= FEEDBACK_SHARE:
        return None
    if thumb > 0:
        options = POSITIVE_FEEDBACK[bool(features["ends_with_question"])]
    else:
        options = next((texts for feature, texts in NEGATIVE_FEEDBACK if features[feature]), GENERIC_NEGATIVE)
    return options[int(rnd() * len(options))]


def draw(
    features: dict, probs: dict[str, float], rnd: Rnd, *, can_continue: bool, can_regenerate: bool, continue_rnd: Rnd
) -> dict:
    """The `signals` object of one assistant message. `continue_rnd` draws the `continued` decisions
    (a stream of its own, so that paired conversations of the two arms can share it)."""
    regenerated = can_regenerate and rnd() < probs["regenerated"]
    continued = not regenerated and can_continue and continue_rnd() < probs["continued"]
    u = rnd()
    thumb = 1 if u < probs["thumb_up"] else -1 if u < probs["thumb_up"] + probs["thumb_down"] else 0
    love = thumb != -1 and rnd() < probs["love"]
    reported = rnd() < probs["reported"]
    return {
        "continued": continued,
        "thumb": thumb,
        "love": love,
        "regenerated": regenerated,
        "reported": reported,
        "feedback": _feedback(thumb, features, rnd),
    }


def model_table() -> dict:
    """The documented model, for simulation.json."""
    return {
        "terms": {term: TERM_DOCS.get(term, "reply feature, see features") for term in TERMS},
        "coefficients": COEFFICIENTS,
        "thumb": "three-way softmax of thumb_up, thumb_down and a zero logit for no thumb",
        "rules": [
            "regenerated => continued=false (the replacement is the next assistant message)",
            f"continued=false at user turn {MAX_USER_TURNS}",
            f"at most {MAX_REGENERATIONS} regenerations in a row",
            "love=false when thumb=-1",
        ],
    }
