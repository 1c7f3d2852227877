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
"""Wrong passwords in a row for one name from one address before logins of that name from
there must wait. Keyed by the pair, so that no one elsewhere can keep a person out by
typing wrong passwords to their name."""
ADDRESS_THROTTLE_AFTER = 20
"""Wrong passwords in a row from one address, whatever the names, before every login from
there must wait: looser, since a whole office behind one NAT address shares it."""
THROTTLE_SECONDS = 60.0
"""The first wait; each further wrong password after a wait doubles it, up to an hour."""
MAX_WAIT = 3600.0
MAX_SESSIONS = 10_000


@dataclass
class Login:
    user: UserRow
    csrf: str
    language: str
    seen: float


class Sessions:
    """Logins by token; a token unknown or idle past ``timeout`` is no login."""

    def __init__(self, timeout: float, now: Callable[[], float] = time.monotonic) -> None:
        self.timeout = timeout
        self.now = now
        self._logins: dict[str, Login] = {}
        self.ended = Changes()
        """Moves when logins end (logged out, their user disabled): live streams look again."""

    def begin(self, user: UserRow) -> str:
        self._forget_idle()
        if len(self._logins) >= MAX_SESSIONS:  # the oldest make room
            for token in sorted(self._logins, key=lambda t: self._logins[t].seen)[:100]:
                del self._logins[token]
        token = secrets.token_urlsafe(32)
        self._logins[token] = Login(user, secrets.token_urlsafe(32), user.language, self.now())
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

    def end(self, token: str | None) -> Login | None:
        """End a login; the one ended (None: there was none)."""
        ended = self._logins.pop(token, None) if token else None
        if ended is not None:
            self.ended.bump()
        return ended

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


@dataclass(frozen=True)
class Attempt:
    """A login attempt, counted as a wrong password before its password is checked, so that
    attempts made at once are counted too; a right password starts its name and address
    afresh."""

    keys: tuple[str, ...]
    wait: float
    """Seconds to wait first (over 0: the attempt is refused unchecked and not counted)."""
    throttles_name: bool = False
    """Wrong, it makes logins of its name from its address wait."""
    throttles_address: bool = False
    """Wrong, it makes every login from its address wait."""


@dataclass
class Throttle:
    """Wrong passwords in a row per name and address (``THROTTLE_AFTER``) and per address
    (``ADDRESS_THROTTLE_AFTER``): past either, every attempt there is refused unchecked until
    the wait is over (a right password included)."""

    now: Callable[[], float] = time.monotonic
    _failures: dict[str, _Failures] = field(default_factory=dict)

    def attempt(self, name: str, address: str) -> Attempt:
        """Count a login of ``name`` from ``address`` before its password is checked, or say
        how long it must wait."""
        now = self.now()
        limits = {
            f"user:{name}@{address}": THROTTLE_AFTER,
            f"address:{address}": ADDRESS_THROTTLE_AFTER,
        }
        keys = tuple(limits)
        wait = max((f.until - now for k in keys if (f := self._failures.get(k))), default=0.0)
        if wait > 0:
            return Attempt(keys, wait)
        if len(self._failures) > 100_000:  # a flood of names: keep the throttled only
            self._failures = {k: f for k, f in self._failures.items() if f.until > now}
        reached = []
        for key, limit in limits.items():
            failures = self._failures.setdefault(key, _Failures())
            failures.count += 1
            if failures.count > limit:  # wrong again after a wait
                failures.wait = min(failures.wait * 2, MAX_WAIT)
            if failures.count >= limit:
                failures.until = now + failures.wait
            reached.append(failures.count >= limit)
        return Attempt(keys, 0.0, *reached)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: its name and address start afresh."""
        for key in attempt.keys:
            self._failures.pop(key, None)
