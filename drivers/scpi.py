"""SCPI exchanges for instruments that refuse silently (reference §4.1).

Hart/Fluke SCPI instruments answer a refused command or query with nothing: the reason waits
in the error queue. So every setting is followed by ``SYST:ERR?``, and a query that times out
is followed by the queue, to tell a refusal from a silent instrument.
"""

from __future__ import annotations

import re

from daq.core.errors import InstrumentReportedError, InstrumentTimeout, ProtocolError
from drivers.base import Identity
from drivers.transports.base import LineTransport

ERROR_QUEUE_DEPTH = 10
"""Entries an IEEE 488.2 error queue holds (one more reports the overflow)."""

_ERROR = re.compile(r'([+-]?\d+),"([^"]*)"', re.ASCII)

ErrorEntry = tuple[int, str]


def parse_idn(text: str) -> Identity:
    """``*IDN?`` reply: manufacturer, model, serial, firmware."""
    fields = [field.strip() for field in text.split(",")]
    if len(fields) != 4 or not all(fields[:3]):
        raise ProtocolError(f"identity {text!r} is not 'manufacturer,model,serial,firmware'")
    return Identity(*fields)


def parse_error(text: str) -> ErrorEntry:
    """``SYST:ERR?`` reply ``<code>,"<text>"``; code 0 means the queue is empty."""
    match = _ERROR.fullmatch(text.strip())
    if match is None:
        raise ProtocolError(f"error queue reply {text!r} is not '<code>,\"<text>\"'")
    return int(match[1]), match[2]


def entries(errors: list[ErrorEntry]) -> str:
    """Error entries as the instrument wrote them, for messages."""
    return "; ".join(f'{code},"{text}"' for code, text in errors)


class ScpiSession:
    """Queries and settings on one instrument, with refusals read from its error queue.

    With ``echo``, replies repeat the query's header (``:SENS:PRES 1013.25``, as the Druck
    PACE does); the header is checked and stripped.
    """

    def __init__(self, name: str, transport: LineTransport, *, echo: bool = False) -> None:
        self.name = name
        self.transport = transport
        self.echo = echo
        self.error_query = ":SYST:ERR?" if echo else "SYST:ERR?"

    async def _ask(self, command: str) -> str:
        return self._answer(command, await self.transport.query(command, retries=0))

    def _answer(self, command: str, reply: str) -> str:
        if not self.echo:
            return reply
        header, _, value = reply.partition(" ")
        expected = command.split(" ", 1)[0].removesuffix("?")
        if header.upper() != expected.upper():
            raise ProtocolError(f"{self.name}: reply {reply!r} does not answer {command!r}")
        return value

    def refused(self, command: str, errors: list[ErrorEntry]) -> InstrumentReportedError:
        return InstrumentReportedError(
            f"{self.name}: {command!r} refused: {entries(errors)}", errors[0][0]
        )

    async def query(self, command: str) -> str:
        """A query sent once; on silence the error queue says whether it was refused.

        Not repeated after a timeout: a refused query would only be refused again.
        """
        try:
            reply = await self.transport.query(command, retries=0)
        except InstrumentTimeout:
            errors = await self.errors()
            if errors:
                raise self.refused(command, errors) from None
            raise
        return self._answer(command, reply)

    async def command(self, command: str) -> None:
        """A setting (no reply), then the error queue to learn whether it was taken."""
        await self.transport.write(command)
        errors = await self.errors()
        if errors:
            raise self.refused(command, errors)

    async def errors(self) -> list[ErrorEntry]:
        """Drain the error queue, oldest first (at most its depth plus an overflow entry)."""
        found: list[ErrorEntry] = []
        for _ in range(ERROR_QUEUE_DEPTH + 1):
            code, text = parse_error(await self._ask(self.error_query))
            if code == 0:
                break
            found.append((code, text))
        return found

    async def identify(self) -> Identity:
        return parse_idn(await self.query("*IDN?"))
