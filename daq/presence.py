"""Who is alive beside a journal: the agent and each run hold an advisory lock on a file next
to it for as long as they run. The kernel drops the lock when the process ends, even by
kill -9, so ``daq status`` can tell a live agent or run from one whose process died, without
writing anything."""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from types import TracebackType


class PresenceHeld(Exception):
    """Another live process holds this lock (a second agent on one journal, a run resumed
    twice at once)."""


def lock_path(journal: Path, holder: str) -> Path:
    """The lock file of ``holder`` (``agent``, ``run-ID``) beside ``journal``."""
    return journal.with_name(f"{journal.name}.{holder}.lock")


class Presence:
    """Hold the lock of ``holder`` while inside ``with``; the file stays, the lock goes."""

    def __init__(self, journal: Path, holder: str) -> None:
        self.path = lock_path(journal, holder)
        self._fd: int | None = None

    def __enter__(self) -> Presence:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise PresenceHeld(f"{self.path} is held by another process") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(self._fd)  # closing releases the lock
            self._fd = None


def alive(journal: Path, holder: str) -> bool:
    """Whether a process holds ``holder``'s lock beside ``journal`` now (read-only check:
    the file is opened for reading, never created)."""
    try:
        fd = os.open(lock_path(journal, holder), os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
