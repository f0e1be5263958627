"""The app's pages and navigation: Label for everyone; Review and Admin for reviewers.

Reviewers signed in with a token land on Review (their work), annotators and local mode on Label.
"""

from __future__ import annotations

import streamlit as st

from labeling_app.config import ConfigError
from labeling_app.settings import from_env
from labeling_app.store import Store
from labeling_app.ui import admin_page, label_page, review_page, session, style


def main() -> None:
    st.set_page_config(page_title="Flywheel labeling", page_icon=":material/label:", layout="wide")
    settings = from_env()
    style.apply()
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
    landing = "Review" if user.is_reviewer and not settings.local_mode else "Label"
    with st.sidebar:
        session.write_cookie()
        st.text(f"Signed in as {user.name} ({user.role})" + (" in local mode" if settings.local_mode else ""))
        if not settings.local_mode and st.button("Sign out", key="sign_out", icon=":material/logout:"):
            session.sign_out()
            st.rerun()
        choice = st.radio("Page", list(pages), index=list(pages).index(landing), key="page", horizontal=True)
    store = Store.for_lake(settings.lake)
    try:
        pages[choice](store, user)
    finally:
        store.close()
