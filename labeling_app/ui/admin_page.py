"""The admin screen (reviewers): create a queue from SQL, a preset or a release; see who can sign in."""

from __future__ import annotations

import streamlit as st

from labeling_app import annotators, sources
from labeling_app.config import KINDS, ConfigError, load_config
from labeling_app.queues import create_queue
from labeling_app.settings import Settings
from labeling_app.store import Store, StoreError
from labeling_app.ui import render
from labeling_app.ui.session import User


def page(store: Store, user: User, settings: Settings) -> None:
    st.subheader("Create a queue")
    with st.form("create_queue"):
        name = st.text_input("Name (optional)", max_chars=120, key="admin_name")
        # interactive queues need a model pool and cards: `flywheel label queue interactive`
        kind = st.selectbox("Kind", [k for k in KINDS if k != "interactive"], key="admin_kind")
        source = st.text_area(
            "Source",
            placeholder="SELECT * FROM samples WHERE thumb = -1 LIMIT 200",
            key="admin_source",
            help="SQL over the catalog (read-only), a preset, or a release directory such as releases/prefs/v1.",
        )
        left, right = st.columns(2)
        per_item = left.number_input("Annotators per item", min_value=1, max_value=50, value=3)
        limit = right.number_input("At most this many items (0: all)", min_value=0, value=0)
        submitted = st.form_submit_button("Create queue", type="primary")
    st.caption("Presets: " + "; ".join(f"`{render.md_escape(k)}`: {v}" for k, v in sources.PRESETS.items()))
    if submitted:
        if not source.strip():
            st.error("Give a source.")
        else:
            try:
                with st.spinner("Reading the source..."):
                    created = create_queue(
                        settings.lake,
                        kind=kind,
                        source=source,
                        per_item=int(per_item),
                        name=name.strip() or None,
                        config=load_config(settings.config_path),
                        created_by=user.name,
                        limit=int(limit) or None,
                    )
            except (ConfigError, sources.SourceError, StoreError) as exc:
                st.error(render.md_escape(str(exc)))
            else:
                st.success(render.md_escape(created.summary()))
    st.subheader("Annotators")
    people = annotators.load(settings.annotators_file).annotators
    if people:
        st.dataframe([{"name": a.name, "role": a.role, "created": a.created_at} for a in people], hide_index=True)
    else:
        st.caption("Nobody yet.")
    st.caption("Add one with `flywheel label add-annotator NAME --role annotator|reviewer`: it prints the token once.")
