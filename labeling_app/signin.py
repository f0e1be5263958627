"""Staying signed in and slowing down token guessing: signed session cookies and a sign-in rate limiter.

A reload opens a new Streamlit session, which forgets who was signed in. The app therefore keeps a cookie
`name:expires:mac`, where the MAC is an HMAC-SHA256 under a per-lake secret over the name, the expiry and
the sha256 of the annotator's current token: the cookie names nobody else, cannot be stretched past its
expiry, and dies when the token is replaced or the annotator removed. The token itself never leaves the
sign-in form (not in the cookie, not in the address).

Tokens carry 256 bits, so guessing one is hopeless; the limiter keeps it that way for a weak deployment
(a token pasted into a chat) and keeps a script from hammering the annotators file: each client waits
`base * 2**(failures - 1)` seconds after a failure, and all clients together get `global_max` failures per
`global_window` seconds.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

COOKIE_NAME = "flywheel_label_session"
SESSION_SECONDS = 12 * 3600
SECRET_FILE = "session.key"


def secret_path(lake_root: Path) -> Path:
    return Path(lake_root) / "labels" / SECRET_FILE


def load_secret(path: Path) -> bytes:
    """The lake's session secret, created once (owner-only) by whichever process gets there first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    text = path.read_text().strip()
    if len(text) != 64:
        time.sleep(0.05)  # another process is still writing it
        text = path.read_text().strip()
    return bytes.fromhex(text)


def _mac(secret: bytes, name: str, expires: int, token_sha256: str) -> str:
    return hmac.new(secret, f"{name}:{expires}:{token_sha256}".encode(), hashlib.sha256).hexdigest()


def make_cookie(secret: bytes, name: str, token_sha256: str, *, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + SESSION_SECONDS)
    return f"{name}:{expires}:{_mac(secret, name, expires, token_sha256)}"


def cookie_expiry(cookie: str) -> int:
    return int(cookie.split(":")[1])


def verify_cookie(secret: bytes, cookie: str | None, tokens: dict[str, str], *, now: float | None = None) -> str | None:
    """The annotator this cookie signs in (`tokens` maps name to token sha256), or None: bad MAC,
    expired, malformed, or an annotator whose token changed or who was removed."""
    if not cookie or cookie.count(":") != 2:
        return None
    name, expires_text, mac = cookie.split(":")
    if not expires_text.isdigit() or name not in tokens:
        return None
    expires = int(expires_text)
    if not hmac.compare_digest(mac, _mac(secret, name, expires, tokens[name])):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return name


def set_cookie_script(value: str, max_age: int) -> str:
    """The script that stores (max_age > 0) or deletes (0) the session cookie; `value` is ours, never data."""
    if any(c in value for c in "\"';\\<> "):
        raise ValueError("a session cookie holds only name, digits and hex")
    return f'<script>document.cookie = "{COOKIE_NAME}={value}; Max-Age={max_age}; Path=/; SameSite=Strict";</script>'


class SignInLimiter:
    """Exponential backoff per client and a global cap on failed sign-ins; thread-safe, one per process."""

    def __init__(
        self,
        *,
        base_delay: float = 1.0,
        max_delay: float = 300.0,
        global_max: int = 30,
        global_window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.base_delay, self.max_delay = base_delay, max_delay
        self.global_max, self.global_window = global_max, global_window
        self.clock = clock
        self._clients: dict[str, tuple[int, float]] = {}  # client -> (failures, time of the last one)
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self, client: str) -> float:
        """Seconds this client must wait before its next attempt (0: go ahead)."""
        with self._lock:
            now = self.clock()
            while self._recent and self._recent[0] <= now - self.global_window:
                self._recent.popleft()
            waits = [0.0]
            if len(self._recent) >= self.global_max:
                waits.append(self._recent[0] + self.global_window - now)
            failures, last = self._clients.get(client, (0, 0.0))
            if failures:
                waits.append(last + min(self.max_delay, self.base_delay * 2 ** (failures - 1)) - now)
            return max(waits)

    def failed(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            failures, _ = self._clients.get(client, (0, 0.0))
            self._clients[client] = (failures + 1, now)
            self._recent.append(now)

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)


def wait_text(seconds: float) -> str:
    return f"Too many sign-in attempts: try again in {math.ceil(seconds)} s."


LIMITER = SignInLimiter()
