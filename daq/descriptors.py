"""The open-file limit raised to what the lab's instruments need.

Each instrument holds a descriptor for its link (and, simulated in the same process, the
simulator's listening socket and its side of the link); the usual soft limit of 1,024
stops an agent of a few hundred simulated instruments. The soft limit may be raised up to
the hard limit without privileges, so the agent does that at start.
"""

from __future__ import annotations

import resource
from dataclasses import dataclass

PER_INSTRUMENT = 4
"""Descriptors one instrument may take: its link, and when simulated in-process the
simulator's listening socket and its end of the link (a pty takes two)."""

SPARE = 256
"""The journal and its write-ahead log, sinks, the console and what libraries open."""


@dataclass(frozen=True)
class OpenFiles:
    needed: int
    limit: int

    @property
    def short(self) -> bool:
        return self.limit < self.needed

    def advice(self) -> str:
        return (
            f"the open-file limit is {self.limit}, below the {self.needed} descriptors this "
            "lab's instruments may need; raise the hard limit (ulimit -Hn, LimitNOFILE= in a "
            "systemd unit, --ulimit nofile= for a container) or some instruments will fail "
            "to connect"
        )


def raise_open_files(instruments: int) -> OpenFiles:
    """Raise the soft open-file limit to what ``instruments`` need, as far as the hard limit
    allows; never lower it."""
    needed = SPARE + PER_INSTRUMENT * instruments
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return OpenFiles(needed, needed if soft == resource.RLIM_INFINITY else soft)
    raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
    resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
    return OpenFiles(needed, raised)
