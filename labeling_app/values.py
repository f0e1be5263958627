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
    raise LabelError(f"unknown task kind {kind!r}")
