"""The page's one style sheet: a constant (no data ever goes into it) that makes an item fit a laptop screen.

Streamlit's default top padding is trimmed, and the choice bar (`st.container(key="choice_bar")` inside
the item's container) sticks to the bottom of the window, so the choices stay in reach however long the
item is. The colour of primary buttons is set by the theme (`flywheel label serve`), not here.
"""

from __future__ import annotations

CSS = """
<style>
[data-testid="stMainBlockContainer"] { padding-top: 2.5rem; padding-bottom: 1rem; }
[data-testid="stHeader"] { background: transparent; height: 2.25rem; }
.st-key-item_box { gap: 0.6rem; }
.st-key-candidates [data-testid="stVerticalBlock"] { gap: 0.25rem; }
.st-key-item_box > div:has(.st-key-choice_bar) {
  position: sticky; bottom: 0; z-index: 50;
  background: var(--st-background-color, #ffffff);
  box-shadow: 0 -6px 8px -6px rgba(0, 0, 0, 0.25);
  padding: 0.25rem 0;
}
[class*="st-key-plain_keys"] { position: absolute; left: -10000px; width: 1px; height: 1px; overflow: hidden; }
[data-testid="stChatMessage"] { padding: 0.25rem 0.5rem; gap: 0.5rem; }
[data-testid="stChatMessage"] [data-testid="stVerticalBlock"] { gap: 0.1rem; }
</style>
"""


def apply() -> None:
    import streamlit as st

    st.html(CSS)
