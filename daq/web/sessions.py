"""Who is logged in: sessions kept on the server, named by a random token in an HTTP-only
cookie, ended after a time without activity; failed logins counted and throttled."""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from daq.journal import Journal, UserRow
from daq.operations import Changes

THROTTLE_AFTER = 5
"""Wrong passwords in a row (per name, and per address) before logins there must wait."""
THROTTLE_SECONDS = 60.0
"""The first wait; each further failure while throttled doubles it, up to an hour."""
MAX_SESSIONS = 10_000


@dataclass
class Login:
    user: UserRow
    csrf: str
    language: str
    seen: float
    address: str


class Sessions:
    """Logins by token; a token unknown or idle past ``timeout`` is no login."""

    def __init__(self, timeout: float, now: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.now = now
        self._logins: dict[str, Login] = {}
        self.ended = Changes()
        """Moves when logins end (logged out, their user disabled): live streams look again."""

    def begin(self, user: UserRow, address: str) -> str:
        self._forget_idle()
        if len(self._logins) >= MAX_SESSIONS:  # the oldest make room
            for token in sorted(self._logins, key=lambda t: self._logins[t].seen)[:100]:
                del self._logins[token]
        token = secrets.token_urlsafe(32)
        self._logins[token] = Login(
            user, secrets.token_urlsafe(32), user.language, self.now(), address
        )
        return token

    def find(self, token: str | None, *, touch: bool = True) -> Login | None:
        """The login of ``token``, its inactivity clock restarted (unless not ``touch``: a
        page refreshing itself is no activity of the person); None if none or idle."""
        if not token:
            return None
        login = self._logins.get(token)
        if login is None:
            return None
        if self.now() - login.seen > self.timeout:
            del self._logins[token]
            return None
        if touch:
            login.seen = self.now()
        return login

    async def lasting(self, token: str | None, journal: Journal) -> Login | None:
        """The login of ``token`` if it still lasts, looked at without restarting its
        inactivity clock (a live stream is no activity of the person); one whose user was
        disabled or whose password was reset since (from `daq users` too) ends here."""
        login = self.find(token, touch=False)
        if login is None:
            return None
        now = await journal.user(login.user.name)
        if now is None or now.disabled or now.password != login.user.password:
            self.end(token)
            return None
        return login

    def end(self, token: str | None) -> None:
        if token and self._logins.pop(token, None) is not None:
            self.ended.bump()

    def end_user(self, name: str) -> None:
        """End every login of ``name`` (disabled, or its password reset)."""
        for token in [t for t, login in self._logins.items() if login.user.name == name]:
            self.end(token)

    def _forget_idle(self) -> None:
        now = self.now()
        for token in [t for t, x in self._logins.items() if now - x.seen > self.timeout]:
            del self._logins[token]


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


@dataclass
class _Failures:
    count: int = 0
    until: float = 0.0
    wait: float = THROTTLE_SECONDS


@dataclass
class Throttle:
    """Failed logins per name and per address: after ``THROTTLE_AFTER`` in a row, every
    attempt there is refused unchecked until the wait is over (a right password included)."""

    now: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)

    def waiting(self, *keys: str) -> float:
        """Seconds until a login on ``keys`` is checked again (0: now)."""
        now = self.now()
        return max((f.until - now for k in keys if (f := self._failures.get(k))), default=0.0)

    def failed(self, *keys: str) -> bool:
        """Count a failure; True when it makes the keys throttled."""
        now, throttled = self.now(), False
        if len(self._failures) > 100_000:  # a flood of names: keep the throttled only
            self._failures = {k: f for k, f in self._failures.items() if f.until > now}
        for key in keys:
            failures = self._failures.setdefault(key, _Failures())
            failures.count += 1
            if failures.count >= THROTTLE_AFTER:
                if failures.until > now:
                    failures.wait = min(failures.wait * 2, 3600.0)
                failures.until = now + failures.wait
                throttled = True
        return throttled

    def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._failures.pop(key, None)
