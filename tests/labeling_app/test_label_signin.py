"""Session cookies and the sign-in rate limit (labeling_app.signin): the logic, with a clock we control."""

from __future__ import annotations

import pytest

from labeling_app import signin


def test_a_session_cookie_signs_in_only_its_annotator_until_it_expires():
    secret = b"s" * 32
    tokens = {"ana": "a" * 64, "bob": "b" * 64}
    cookie = signin.make_cookie(secret, "ana", tokens["ana"], now=1000.0)
    assert "fwl_" not in cookie and tokens["ana"] not in cookie, "neither the token nor its hash is in it"
    assert signin.verify_cookie(secret, cookie, tokens, now=1001.0) == "ana"
    expires = signin.cookie_expiry(cookie)
    assert expires == 1000 + signin.SESSION_SECONDS
    assert signin.verify_cookie(secret, cookie, tokens, now=expires) is None, "expired"
    forged = cookie.replace("ana:", "bob:", 1)
    assert signin.verify_cookie(secret, forged, tokens, now=1001.0) is None, "another name breaks the MAC"
    stretched = f"ana:{expires + 10_000}:{cookie.rsplit(':', 1)[1]}"
    assert signin.verify_cookie(secret, stretched, tokens, now=1001.0) is None, "a later expiry breaks the MAC"
    assert signin.verify_cookie(b"t" * 32, cookie, tokens, now=1001.0) is None, "another lake's secret"
    assert signin.verify_cookie(secret, cookie, {**tokens, "ana": "c" * 64}, now=1001.0) is None, "new token"
    assert signin.verify_cookie(secret, cookie, {"bob": tokens["bob"]}, now=1001.0) is None, "removed"
    for bad in ("", "ana", "ana:x:y", "a:b:c:d", None):
        assert signin.verify_cookie(secret, bad, tokens, now=1001.0) is None


def test_the_secret_is_created_once_and_private(tmp_path):
    path = signin.secret_path(tmp_path)
    first = signin.load_secret(path)
    assert len(first) == 32 and signin.load_secret(path) == first
    assert path.stat().st_mode & 0o777 == 0o600


def test_the_cookie_script_refuses_anything_but_a_cookie_value():
    assert "Max-Age=0" in signin.set_cookie_script("", 0)
    with pytest.raises(ValueError):
        signin.set_cookie_script('x"; alert(1); "', 10)


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_failure_doubles_the_wait_of_that_client_only():
    clock = Clock()
    limiter = signin.SignInLimiter(base_delay=1.0, max_delay=8.0, clock=clock)
    waits = []
    for _ in range(6):
        limiter.failed("x")
        waits.append(limiter.wait("x"))
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert limiter.wait("y") == 0, "another client is not slowed down"
    clock.now = 8.0
    assert limiter.wait("x") == 0
    limiter.succeeded("x")
    limiter.failed("x")
    assert limiter.wait("x") == 1.0, "a success starts the count again"


def test_the_global_cap_stops_many_clients_guessing_at_once():
    clock = Clock()
    limiter = signin.SignInLimiter(global_max=5, global_window=60.0, clock=clock)
    for i in range(5):
        assert limiter.wait(f"client-{i}") == 0
        limiter.failed(f"client-{i}")
    assert limiter.wait("fresh-client") == 60.0
    clock.now = 60.0
    assert limiter.wait("fresh-client") == 0
