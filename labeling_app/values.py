"""Label values: what each task kind accepts from a form, checked and put in canonical terms.

Pairwise choices arrive as the sides the annotator saw (A, B, tie) and are stored both as seen and
mapped back to candidate indices through that annotator's side mapping, so agreement and consensus
never depend on which side a candidate happened to be shown on.
"""

from __future__ import annotations

import difflib

from labeling_app.config import ANSWERS
from lakehouse.errors import UserError

MAX_NOTE_CHARS = 5_000
MAX_REWRITE_CHARS = 400_000
STRENGTHS = (None, "strong")
CHOICES = ("A", "B", "tie")


class LabelError(UserError, ValueError):
    """A submitted value that does not fit the task (the message says what is wrong)."""


def _note(raw: dict, key: str) -> str | None:
    note = raw.get(key)
    if note is None:
        return None
    if not isinstance(note, str):
        raise LabelError(f"{key} must be text")
    note = note.strip()
    if len(note) > MAX_NOTE_CHARS:
        raise LabelError(f"{key} is longer than {MAX_NOTE_CHARS:,} characters")
    return note or None


def _only(raw: dict, allowed: set[str]) -> None:
    extra = sorted(set(raw) - allowed)
    if extra:
        raise LabelError(f"unexpected fields: {', '.join(extra)}")


def pairwise(raw: dict, sides: list[int]) -> dict:
    _only(raw, {"choice", "strength", "reason"})
    choice = raw.get("choice")
    if choice not in CHOICES:
        raise LabelError(f"choice must be one of A, B, tie, not {choice!r}")
    strength = raw.get("strength")
    if strength not in STRENGTHS:
        raise LabelError(f"strength must be empty or 'strong', not {strength!r}")
    if choice == "tie" and strength is not None:
        raise LabelError("a tie has no strength")
    preferred = None if choice == "tie" else sides[0 if choice == "A" else 1]
    return {
        "choice": choice,
        "preferred": preferred,
        "tie": choice == "tie",
        "strength": strength,
        "reason": _note(raw, "reason"),
    }


def questionnaire(raw: dict, questions: list[dict]) -> dict:
    _only(raw, {"answers", "note"})
    answers = raw.get("answers")
    if not isinstance(answers, dict):
        raise LabelError("answers must map question ids to yes, no or unsure")
    ids = [q["id"] for q in questions]
    missing = [q for q in ids if q not in answers]
    unknown = sorted(set(answers) - set(ids))
    if missing:
        raise LabelError(f"every question must be answered; missing: {', '.join(missing)}")
    if unknown:
        raise LabelError(f"unknown questions: {', '.join(unknown)}")
    bad = {q: a for q, a in answers.items() if a not in ANSWERS}
    if bad:
        raise LabelError(f"answers must be yes, no or unsure; got {bad}")
    return {"answers": {q: answers[q] for q in ids}, "note": _note(raw, "note")}


def rewrite_diff(original: str, text: str) -> str:
    """A unified line diff of the rewrite against the original (empty when unchanged)."""
    lines = difflib.unified_diff(
        original.splitlines(keepends=True), text.splitlines(keepends=True), fromfile="original", tofile="rewrite", n=2
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def rewrite(raw: dict, original: str) -> dict:
    _only(raw, {"text", "note"})
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise LabelError("the rewrite must not be empty")
    if len(text) > MAX_REWRITE_CHARS:
        raise LabelError(f"the rewrite is longer than {MAX_REWRITE_CHARS:,} characters")
    text = text.replace("\r\n", "\n")
    changed = text.strip() != original.strip()
    return {
        "text": text,
        "changed": changed,
        "diff": rewrite_diff(original, text) if changed else "",
        "note": _note(raw, "note"),
    }


def rating(raw: dict, scale: dict) -> dict:
    _only(raw, {"score", "note"})
    score = raw.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not scale["min"] <= score <= scale["max"]:
        raise LabelError(f"score must be a whole number from {scale['min']} to {scale['max']}, not {score!r}")
    return {"score": score, "note": _note(raw, "note")}


CONTINUATIONS = ("random", "preferred")


def _candidate_answers(answers, questions: list[dict], sides: list[int]) -> dict[str, dict[str, str]]:
    """Answers per side seen (A, B) to the always-asked questions, keyed by candidate index."""
    if not isinstance(answers, dict) or set(answers) != {"A", "B"}:
        raise LabelError("answers must give the questions' answers for both sides, A and B")
    out = {}
    for side, given in answers.items():
        out[str(sides[0 if side == "A" else 1])] = questionnaire({"answers": given}, questions)["answers"]
    return dict(sorted(out.items()))


def _flags(flags, sides: list[int]) -> list[dict]:
    """Steerability flags: {side seen: the instruction of the card that the reply broke}."""
    if flags is None:
        return []
    if not isinstance(flags, dict) or not set(flags) <= {"A", "B"}:
        raise LabelError("flags must map a side (A or B) to the instruction the reply broke")
    out = []
    for side in sorted(flags):
        instruction = _note(flags, side)
        if instruction is None:
            raise LabelError(f"the flag on {side} must name the instruction the reply broke")
        out.append({"candidate": sides[0 if side == "A" else 1], "side": side, "instruction": instruction})
    return sorted(out, key=lambda f: f["candidate"])


def interactive_turn(raw: dict, sides: list[int], questions: list[dict], continuation: str, coin: int) -> dict:
    """One judged turn of a chat: the pairwise choice, steerability flags, an optional rewrite, the
    always-asked answers per candidate, and which reply the chat goes on with (`continued`: a candidate
    index, or "rewrite"). `coin` (0 or 1, from the turn's seed) picks the random continuation, so a
    replay of the same turn continues the same way."""
    _only(raw, {"choice", "strength", "reason", "flags", "rewrite", "answers"})
    value = pairwise({k: raw.get(k) for k in ("choice", "strength", "reason")}, sides)
    rewrite_text = raw.get("rewrite")
    if rewrite_text is not None and not isinstance(rewrite_text, str):
        raise LabelError("the rewrite must be text")
    rewrite_text = (rewrite_text or "").replace("\r\n", "\n").strip() or None
    if rewrite_text is not None and len(rewrite_text) > MAX_REWRITE_CHARS:
        raise LabelError(f"the rewrite is longer than {MAX_REWRITE_CHARS:,} characters")
    if continuation not in CONTINUATIONS:
        raise LabelError(f"continuation must be one of {', '.join(CONTINUATIONS)}, not {continuation!r}")
    continued: int | str = coin
    if continuation == "preferred":
        continued = "rewrite" if rewrite_text else (value["preferred"] if value["preferred"] is not None else coin)
    return {
        **value,
        "flags": _flags(raw.get("flags"), sides),
        "rewrite": rewrite_text,
        "answers": _candidate_answers(raw.get("answers"), questions, sides),
        "continued": continued,
    }


def interactive_finish(raw: dict) -> dict:
    """The label that closes a chat: how many turns it had (the turns carry the judgments)."""
    _only(raw, {"turns", "note"})
    turns = raw.get("turns")
    if isinstance(turns, bool) or not isinstance(turns, int) or turns < 1:
        raise LabelError("a chat is finished after at least one judged turn")
    return {"turns": turns, "note": _note(raw, "note")}


def canonical(kind: str, spec: dict, payload: dict, raw: dict, sides: list[int] | None) -> dict:
    """Check `raw` against the task and return the value to store."""
    if not isinstance(raw, dict):
        raise LabelError("a label value must be an object")
    if kind == "pairwise":
        return pairwise(raw, sides or [0, 1])
    if kind == "questionnaire":
        return questionnaire(raw, spec["questions"])
    if kind == "rewrite":
        return rewrite(raw, payload["candidates"][0]["text"])
    if kind == "rating":
        return rating(raw, spec["rating"])
    if kind == "interactive":
        return interactive_finish(raw)
    raise LabelError(f"unknown task kind {kind!r}")
