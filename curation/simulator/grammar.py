"""Sentence templates with typed slots, compiled once and filled from per-(topic, character) banks.

A template such as "how do I {act} without {prob}?" is compiled to its literal runs and slot names;
filling it is one random index per slot and one `str.join`, which keeps generation at a few
microseconds per sentence (the simulator writes a million conversations in minutes).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

_SLOT = re.compile(r"\{(\w+)\}")

Banks = Mapping[str, Sequence[str]]
Rnd = Callable[[], float]  # a random.Random's bound `random` method: the one source of randomness


@dataclass(frozen=True, slots=True)
class Template:
    literals: tuple[str, ...]
    slots: tuple[str, ...]


def compile_template(text: str) -> Template:
    parts = _SLOT.split(text)
    return Template(literals=tuple(parts[0::2]), slots=tuple(parts[1::2]))


def compile_all(texts: Sequence[str]) -> tuple[Template, ...]:
    return tuple(compile_template(text) for text in texts)


def fill(template: Template, banks: Banks, rnd: Rnd) -> str:
    literals = template.literals
    out = [literals[0]]
    for i, slot in enumerate(template.slots):
        bank = banks[slot]
        out.append(bank[int(rnd() * len(bank))])
        out.append(literals[i + 1])
    return "".join(out)


def fill_tracking(
    template: Template, banks: Banks, rnd: Rnd, tracked: str, offset: int = 0
) -> tuple[str, list[tuple[int, int]]]:
    """Like `fill`, and also return the (start, end) spans, shifted by `offset`, of every `tracked` slot."""
    literals = template.literals
    out = [literals[0]]
    position = offset + len(literals[0])
    spans = []
    for i, slot in enumerate(template.slots):
        bank = banks[slot]
        value = bank[int(rnd() * len(bank))]
        if slot == tracked:
            spans.append((position, position + len(value)))
        out.append(value)
        out.append(literals[i + 1])
        position += len(value) + len(literals[i + 1])
    return "".join(out), spans


def pick(seq: Sequence, rnd: Rnd):
    return seq[int(rnd() * len(seq))]
