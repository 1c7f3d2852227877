"""The one retry loop of the line transports: a timeout or lost link is tried again up to
the number of retries, anything else (a protocol error, a cancellation) never is."""

from __future__ import annotations

import pytest

from daq.core.errors import ConnectionLost, InstrumentTimeout, ProtocolError
from drivers.transports.base import with_retries


def failing(errors: list[Exception], then: str = "ok") -> tuple[list[int], object]:
    calls: list[int] = []

    async def attempt() -> str:
        calls.append(len(calls))
        if errors:
            raise errors.pop(0)
        return then

    return calls, attempt


async def test_timeouts_and_lost_links_are_tried_again_up_to_the_retries() -> None:
    calls, attempt = failing([InstrumentTimeout("t"), ConnectionLost("c")])
    assert await with_retries(attempt, 2) == "ok"  # type: ignore[arg-type]
    assert len(calls) == 3


async def test_the_last_failure_is_raised_when_retries_run_out() -> None:
    calls, attempt = failing([InstrumentTimeout("first"), InstrumentTimeout("second")])
    with pytest.raises(InstrumentTimeout, match="second"):
        await with_retries(attempt, 1)  # type: ignore[arg-type]
    assert len(calls) == 2


async def test_no_retries_means_one_attempt_and_other_errors_are_never_repeated() -> None:
    calls, attempt = failing([InstrumentTimeout("once")])
    with pytest.raises(InstrumentTimeout):
        await with_retries(attempt, 0)  # type: ignore[arg-type]
    assert len(calls) == 1
    calls, attempt = failing([ProtocolError("garbled")])
    with pytest.raises(ProtocolError):
        await with_retries(attempt, 5)  # type: ignore[arg-type]
    assert len(calls) == 1
