"""Rendering a task: the character card, the conversation as chat bubbles, the candidates side by side.

Everything that comes from data is shown with `st.text` (no Markdown, no HTML), or Markdown-escaped
where a heading is wanted: a reply full of Markdown or `<script>` shows as the characters it contains.
"""

from __future__ import annotations

import re

import streamlit as st

CONTEXT_VISIBLE = 2
CONTEXT_TAIL = 10
TALL_TEXT_CHARS = 450
CANDIDATE_HEIGHT = 200
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def md_escape(text: str) -> str:
    """Backslash-escape every ASCII punctuation character: CommonMark then shows the text literally."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def character_card(payload: dict) -> None:
    """One line: the character's name and description; the instructions one click away, so the layout
    leaves room for both candidates and the choice bar on a 1366x768 screen."""
    character = payload.get("character") or {}
    name = character.get("name") or "Character"
    description = character.get("description") or ""
    extra = [(label, character[key]) for label, key in (("Instructions", "instructions"),) if character.get(key)]
    if not (description or extra) and character.get("system_prompt"):
        extra.append(("System prompt", character["system_prompt"]))
    left, right = st.columns([5, 1], vertical_alignment="center")
    left.markdown(f"**{md_escape(name)}**" + (f": {md_escape(description)}" if description else ""))
    for label, text in extra:
        with right.popover(label, icon=":material/person:", width="stretch"):
            st.text(text)


def speaker(payload: dict, role: str) -> str:
    """Who a bubble is from: the character's name for its replies, else the role."""
    name = (payload.get("character") or {}).get("name")
    if role == "assistant" and name:
        return name
    return {"user": "User", "assistant": "Assistant"}.get(role, role.capitalize())


def bubble(payload: dict, message: dict) -> None:
    with st.chat_message("user" if message["role"] == "user" else "assistant"):
        st.caption(md_escape(speaker(payload, message["role"])))
        st.text(message["content"])


def conversation(payload: dict, key: str) -> None:
    """The last CONTEXT_VISIBLE messages as chat bubbles, the earlier ones folded into an expander (its last
    CONTEXT_TAIL until asked for all), so the candidates stay on the first screen."""
    messages = [m for m in payload["prompt"] if m["role"] != "system"]
    earlier, visible = messages[:-CONTEXT_VISIBLE], messages[-CONTEXT_VISIBLE:]
    if earlier:
        with st.expander(f"Earlier messages ({len(earlier)})", key=f"earlier-{key}"):
            hidden = len(earlier) - CONTEXT_TAIL
            if hidden > 0 and not st.toggle(f"Show {hidden} more", key=f"context-{key}"):
                earlier = earlier[-CONTEXT_TAIL:]
            for message in earlier:
                bubble(payload, message)
    for message in visible:
        bubble(payload, message)


def text_box(text: str, *, key: str | None = None) -> None:
    """A reply in a box; a long one scrolls inside a box of fixed height instead of pushing the page."""
    tall = len(text) > TALL_TEXT_CHARS or text.count("\n") > 6
    with st.container(border=True, height=CANDIDATE_HEIGHT if tall else "content", key=key):
        st.text(text)


def candidates(shown: list[tuple[str, str]]) -> None:
    """Candidates side by side: (label, text) pairs in display order."""
    for column, (label, text) in zip(st.container(key="candidates").columns(len(shown)), shown, strict=True):
        with column:
            st.markdown(f"**{md_escape(label)}**")
            text_box(text, key=f"candidate-{label.lower().replace(' ', '-')}")


def item(payload: dict, key: str, shown: list[tuple[str, str]]) -> None:
    character_card(payload)
    conversation(payload, key)
    candidates(shown)
