"""Who is signed in: a token checked against the annotators file, a signed session cookie, or the local user.

Nothing but the login form is rendered without a valid token or cookie. The signed-in name is looked up in
the file on every run: an annotator removed from it is signed out at their next click, and a role change
applies at once. A reload opens a new Streamlit session; the cookie (labeling_app.signin) signs the
annotator back in without the token ever being put in the address. Signing out deletes the cookie.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from labeling_app import annotators, signin
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
    people = {a.name: a for a in annotators.load(settings.annotators_file).annotators}
    name = st.session_state.get("user_name") or _from_cookie(settings, people)
    if name is not None:
        found = people.get(name)
        if found is not None:
            st.session_state["user_name"] = found.name
            return User(found.name, found.role)
        st.session_state.pop("user_name", None)
    _login_form(settings, people)
    return None


def _from_cookie(settings: Settings, people: dict[str, annotators.Annotator]) -> str | None:
    """The name a valid session cookie signs in; never after a sign-out in this session (the browser's
    cookie is deleted then, but this session still sees the cookies it was opened with)."""
    if st.session_state.get("signed_out"):
        return None
    cookie = st.context.cookies.get(signin.COOKIE_NAME)
    if not cookie:
        return None
    secret = signin.load_secret(signin.secret_path(settings.lake))
    return signin.verify_cookie(secret, cookie, {n: a.token_sha256 for n, a in people.items()})


def write_cookie() -> None:
    """Render the pending cookie change (set after sign-in, delete after sign-out) on every run, so it
    reaches the browser whatever run the page shows."""
    script = st.session_state.get("cookie_script")
    if script:
        st.html(script, unsafe_allow_javascript=True)


def _client() -> str:
    """Who the rate limit counts against: the client's address, else this session."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    address = st.context.ip_address
    if isinstance(address, str) and address:
        return address
    ctx = get_script_run_ctx()
    return f"session-{ctx.session_id if ctx else 'unknown'}"


def _login_form(settings: Settings, people: dict[str, annotators.Annotator]) -> None:
    write_cookie()
    st.title("Flywheel labeling")
    with st.form("login", clear_on_submit=True):
        token = st.text_input("Annotator token", type="password", key="login_token")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        st.caption("Ask your reviewer for a token (`flywheel label add-annotator NAME`).")
        return
    client = _client()
    wait = signin.LIMITER.wait(client)
    if wait > 0:
        st.error(signin.wait_text(wait))
        return
    annotator = annotators.authenticate(settings.annotators_file, token)
    if annotator is None:
        signin.LIMITER.failed(client)
        st.error("Unknown token.")
        return
    signin.LIMITER.succeeded(client)
    secret = signin.load_secret(signin.secret_path(settings.lake))
    cookie = signin.make_cookie(secret, annotator.name, annotator.token_sha256)
    st.session_state.pop("signed_out", None)
    st.session_state["user_name"] = annotator.name
    st.session_state["cookie_script"] = signin.set_cookie_script(cookie, signin.SESSION_SECONDS)
    st.rerun()


def sign_out() -> None:
    st.session_state.clear()
    st.session_state["signed_out"] = True
    st.session_state["cookie_script"] = signin.set_cookie_script("", 0)
    st.query_params.clear()
