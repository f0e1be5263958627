"""A/B metrics: built in (breadth, depth, guardrails) and defined by the user in SQL.

A metric is sum(numerator) / sum(denominator) over the exposed users of an arm, both SQL expressions
evaluated on one conversation row (the `conversations` view's columns plus the per-conversation counts in
CONVERSATION_COLUMNS) and summed per user. A denominator of `users` makes a mean per exposed user
(breadth); anything else a ratio metric (depth: user turns per conversation), whose interval comes from the
delta method clustered by user. `direction` says which way is good: guardrails are `decrease` metrics.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator

from lakehouse.config import FrozenStrictModel
from lakehouse.errors import UserError

# Per-conversation counts the metric expressions can use, beside the `conversations` view's columns.
CONVERSATION_COLUMNS = {
    "user_turns": "len(list_filter(messages, lambda m: m.role = 'user'))",
    "replies": "len(list_filter(messages, lambda m: m.role = 'assistant'))",
    "thumbs_up": "len(list_filter(messages, lambda m: m.signals.thumb = 1))",
    "thumbs_down": "len(list_filter(messages, lambda m: m.signals.thumb = -1))",
    "loves": "len(list_filter(messages, lambda m: coalesce(m.signals.love, false)))",
    "reports": "len(list_filter(messages, lambda m: coalesce(m.signals.reported, false)))",
    "regenerations": "len(list_filter(messages, lambda m: coalesce(m.signals.regenerated, false)))",
}
NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
FORBIDDEN = re.compile(r";|--|/\*", re.S)


class MetricError(UserError):
    """A metric definition or selection that cannot be used."""


class Metric(FrozenStrictModel):
    """One metric: sum(numerator) / sum(denominator) per arm, over exposed users."""

    name: str
    numerator: str = Field(description="SQL over one conversation row, summed per user.")
    denominator: str = Field("users", description="`users` (mean per exposed user) or SQL like the numerator.")
    direction: Literal["increase", "decrease"] = "increase"
    guardrail: bool = False
    description: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not NAME.match(value):
            raise ValueError(f"metric name {value!r} must be lower-case letters, digits and _ (at most 40)")
        return value

    @field_validator("numerator", "denominator")
    @classmethod
    def _expression(cls, value: str) -> str:
        if not value.strip() or FORBIDDEN.search(value):
            raise ValueError(f"metric expression {value!r} must be one SQL expression (no ';' or comments)")
        return value

    @property
    def per_user(self) -> bool:
        return self.denominator.strip() == "users"


BUILTIN = {
    m.name: m
    for m in (
        Metric(name="breadth", numerator="1", description="conversations per exposed user in the window"),
        Metric(name="depth", numerator="user_turns", denominator="1", description="user turns per conversation"),
        Metric(
            name="thumb_down_rate",
            numerator="thumbs_down",
            denominator="replies",
            direction="decrease",
            guardrail=True,
            description="thumbs down per assistant reply",
        ),
        Metric(
            name="report_rate",
            numerator="reports",
            denominator="replies",
            direction="decrease",
            guardrail=True,
            description="reports per assistant reply",
        ),
        Metric(
            name="regenerate_rate",
            numerator="regenerations",
            denominator="replies",
            direction="decrease",
            guardrail=True,
            description="regenerations per assistant reply",
        ),
    )
}
DEFAULT_METRICS = tuple(BUILTIN)


def parse_flag(text: str) -> Metric:
    """`NAME=NUMERATOR[/DENOMINATOR][:decrease]` from `--metric`, e.g. `love_rate=loves/replies` or
    `ios_share=CASE WHEN app = 'ios' THEN 1 ELSE 0 END/1`. The last `/` outside parentheses and quotes
    splits numerator from denominator; without one the metric is per exposed user."""
    name, sep, rest = text.partition("=")
    if not sep:
        raise MetricError(f"--metric {text!r}: expected NAME=NUMERATOR[/DENOMINATOR][:decrease]")
    direction = "increase"
    if rest.endswith((":decrease", ":increase")):
        rest, _, direction = rest.rpartition(":")
    numerator, denominator = _split_ratio(rest)
    try:
        return Metric(name=name.strip(), numerator=numerator, denominator=denominator, direction=direction)
    except ValueError as exc:
        raise MetricError(f"--metric {text!r}: {exc}") from None


def _split_ratio(text: str) -> tuple[str, str]:
    depth, quoted, split = 0, False, -1
    for i, ch in enumerate(text):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == "/":
            split = i
    if split < 0:
        return text.strip(), "users"
    return text[:split].strip(), text[split + 1 :].strip()


def resolve(selected: list[str] | None, defined: list[Metric]) -> list[Metric]:
    """The metrics to report: the names in `selected` (built in or defined), default all built in plus
    the defined ones."""
    known = {**BUILTIN, **{m.name: m for m in defined}}
    if not selected:
        return [*BUILTIN.values(), *[m for m in defined if m.name not in BUILTIN]]
    names = [n.strip() for item in selected for n in item.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise MetricError(f"unknown metric(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return [known[n] for n in dict.fromkeys(names)]
