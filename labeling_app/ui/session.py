"""Who is signed in: a token checked against the annotators file, or the single local user.

Nothing but the login form is rendered without a valid token. The signed-in name is looked up in the file
on every run: an annotator removed from it is signed out at their next click, and a role change applies
at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from labeling_app import annotators
from labeling_app.settings import Settings


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_reviewer(self) -> bool:
        return self.role == "reviewer"


def current_user(settings: Settings) -> User | None:
    """The signed-in user, or None after rendering the login form."""
    if settings.local_mode:
        return User(annotators.LOCAL_USER, "reviewer")
    name = st.session_state.get("user_name")
    if name is not None:
        found = next((a for a in annotators.load(settings.annotators_file).annotators if a.name == name), None)
        if found is not None:
            return User(found.name, found.role)
        st.session_state.pop("user_name", None)
    _login_form(settings)
    return None


def _login_form(settings: Settings) -> None:
    st.title("Flywheel labeling")
    with st.form("login", clear_on_submit=True):
        token = st.text_input("Annotator token", type="password", key="login_token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        st.caption("Ask your reviewer for a token (`flywheel label add-annotator NAME`).")
        return
    annotator = annotators.authenticate(settings.annotators_file, token)
    if annotator is None:
        st.error("Unknown token.")
        return
    st.session_state["user_name"] = annotator.name
    st.rerun()


def sign_out() -> None:
    st.session_state.clear()
    st.query_params.clear()
