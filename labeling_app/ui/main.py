"""The app's pages and navigation: Label for everyone; Review and Admin for reviewers."""

from __future__ import annotations

import streamlit as st

from labeling_app.config import ConfigError
from labeling_app.settings import from_env
from labeling_app.store import Store
from labeling_app.ui import admin_page, label_page, review_page, session


def main() -> None:
    st.set_page_config(page_title="Flywheel labeling", page_icon=":material/label:", layout="wide")
    settings = from_env()
    try:
        user = session.current_user(settings)
    except ConfigError as exc:
        st.error(f"The annotators file is invalid: {exc}")
        return
    if user is None:
        return
    pages = {"Label": label_page.page}
    if user.is_reviewer:
        pages |= {"Review": review_page.page, "Admin": lambda store, user: admin_page.page(store, user, settings)}
    with st.sidebar:
        st.text(f"Signed in as {user.name} ({user.role})" + (" in local mode" if settings.local_mode else ""))
        if not settings.local_mode and st.button("Sign out", key="sign_out"):
            session.sign_out()
            st.rerun()
        choice = st.radio("Page", list(pages), key="page", horizontal=True)
    store = Store.for_lake(settings.lake)
    try:
        pages[choice](store, user)
    finally:
        store.close()
