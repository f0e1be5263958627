"""Rendering a task: the character card, the conversation as chat bubbles, the candidates side by side.

Everything that comes from data is shown with `st.text` (no Markdown, no HTML), or Markdown-escaped
where a heading is wanted: a reply full of Markdown or `<script>` shows as the characters it contains.
"""

from __future__ import annotations

import re

import streamlit as st

CONTEXT_TAIL = 12
TALL_TEXT_CHARS = 1_200
CANDIDATE_HEIGHT = 420
_MD_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def md_escape(text: str) -> str:
    """Backslash-escape every ASCII punctuation character: CommonMark then shows the text literally."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def character_card(payload: dict) -> None:
    character = payload.get("character") or {}
    with st.container(border=True):
        name = character.get("name")
        st.markdown(f"#### {md_escape(name)}" if name else "#### Character")
        for label, key in (("Description", "description"), ("Instructions", "instructions")):
            if character.get(key):
                st.caption(label)
                st.text(character[key])
        if not (character.get("description") or character.get("instructions")) and character.get("system_prompt"):
            st.caption("System prompt")
            st.text(character["system_prompt"])


def conversation(payload: dict, key: str) -> None:
    """The context as chat bubbles; long contexts show their last turns until asked for all."""
    messages = [m for m in payload["prompt"] if m["role"] != "system"]
    hidden = len(messages) - CONTEXT_TAIL
    if hidden > 0 and not st.toggle(f"Show {hidden} earlier messages", key=f"context-{key}"):
        messages = messages[-CONTEXT_TAIL:]
    for message in messages:
        with st.chat_message("user" if message["role"] == "user" else "assistant"):
            st.text(message["content"])


def text_box(text: str) -> None:
    with st.container(border=True, height=CANDIDATE_HEIGHT if len(text) > TALL_TEXT_CHARS else "content"):
        st.text(text)


def candidates(shown: list[tuple[str, str]]) -> None:
    """Candidates side by side: (label, text) pairs in display order."""
    for column, (label, text) in zip(st.columns(len(shown)), shown, strict=True):
        with column:
            st.markdown(f"**{md_escape(label)}**")
            text_box(text)


def item(payload: dict, key: str, shown: list[tuple[str, str]]) -> None:
    character_card(payload)
    conversation(payload, key)
    candidates(shown)
