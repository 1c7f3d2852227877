"""Line transport over VISA (pyvisa, pyvisa-py backend by default).

pyvisa blocks, so every call runs on a thread pool of its own; the event loop never waits on
an instrument.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pyvisa
from pyvisa import constants

from daq.core.errors import ConnectionLost, InstrumentTimeout, ProtocolError
from drivers.transports.base import Backoff, port_lock, trace_log, with_retries

T = TypeVar("T")

_pool = ThreadPoolExecutor(max_workers=32, thread_name_prefix="visa")
_managers: dict[str, Any] = {}
_managers_lock = threading.Lock()

_PARITY = {
    "N": constants.Parity.none,
    "E": constants.Parity.even,
    "O": constants.Parity.odd,
    "M": constants.Parity.mark,
    "S": constants.Parity.space,
}
_STOPBITS = {
    1: constants.StopBits.one,
    1.5: constants.StopBits.one_and_a_half,
    2: constants.StopBits.two,
}


def _resource_manager(backend: str) -> Any:
    with _managers_lock:
        if backend not in _managers:
            _managers[backend] = pyvisa.ResourceManager(backend)
        return _managers[backend]


class VisaTransport:
    """Commands and reply lines through a VISA resource (TCPIP SOCKET, INSTR, ASRL...)."""

    def __init__(
        self,
        name: str,
        resource: str,
        *,
        backend: str = "@py",
        read_termination: str = "\n",
        write_termination: str = "\n",
        timeout: float = 1.0,
        retries: int = 1,
        baudrate: int = 9600,
        bytesize: int = 8,
        parity: str = "N",
        stopbits: float = 1,
        trace: bool = False,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.resource = resource
        self._backend = backend
        self._options: dict[str, Any] = {
            "read_termination": read_termination,
            "write_termination": write_termination,
            "timeout": int(timeout * 1000),
        }
        if resource.upper().startswith("ASRL"):
            self._options |= {
                "baud_rate": baudrate,
                "data_bits": bytesize,
                "parity": _PARITY[parity],
                "stop_bits": _STOPBITS[stopbits],
            }
        self.timeout = timeout
        self.retries = retries
        self._trace = trace
        self._lock = port_lock(resource)
        self._backoff = backoff or Backoff()
        self._instrument: Any = None

    @property
    def is_open(self) -> bool:
        return self._instrument is not None

    async def _call(self, function: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(_pool, function, *args)

    def _open_blocking(self) -> Any:
        return _resource_manager(self._backend).open_resource(self.resource, **self._options)

    async def open(self) -> None:
        if self._instrument is not None:
            return
        self._backoff.check()
        try:
            self._instrument = await self._call(self._open_blocking)
        except (pyvisa.Error, OSError, ValueError) as exc:
            reason = f"cannot open {self.name} ({self.resource}): {exc}"
            self._backoff.failed(reason)
            raise ConnectionLost(reason) from exc
        self._backoff.succeeded()

    async def close(self) -> None:
        instrument, self._instrument = self._instrument, None
        if instrument is not None:
            with contextlib.suppress(pyvisa.Error, OSError):
                await self._call(instrument.close)

    async def write(self, command: str) -> None:
        async with self._lock:
            await self._exchange(command, lines=0)

    async def read_line(self) -> str:
        async with self._lock:
            return (await self._exchange(None, lines=1))[0]

    async def query(
        self, command: str, *, retries: int | None = None, timeout: float | None = None
    ) -> str:
        async def exchange() -> str:
            async with self._lock:
                return (await self._exchange(command, lines=1, timeout=timeout))[0]

        return await with_retries(exchange, self.retries if retries is None else retries)

    async def query_lines(self, command: str, count: int) -> list[str]:
        async with self._lock:
            return await self._exchange(command, lines=count)

    def _exchange_blocking(self, command: str | None, lines: int, timeout: float) -> list[str]:
        instrument = self._instrument
        instrument.timeout = int(timeout * 1000)
        if command is not None:
            if self._trace:
                trace_log.debug("%s > %r", self.name, command)
            instrument.write(command)
        replies = [instrument.read() for _ in range(lines)]
        if self._trace:
            for reply in replies:
                trace_log.debug("%s < %r", self.name, reply)
        return [reply.rstrip("\r\n") for reply in replies]

    async def _exchange(
        self, command: str | None, lines: int, timeout: float | None = None
    ) -> list[str]:
        await self.open()
        timeout = timeout or self.timeout
        call = asyncio.ensure_future(self._call(self._exchange_blocking, command, lines, timeout))
        try:
            return await asyncio.shield(call)
        except asyncio.CancelledError:
            # the exchange runs on in its thread: the port is free only once it has finished,
            # and closed if it failed (a late reply must not wait for the next exchange)
            try:
                await call
            except Exception:  # whatever failed, the link starts afresh
                await self.close()
            raise
        except pyvisa.VisaIOError as exc:
            await self.close()
            if exc.error_code == constants.StatusCode.error_timeout:
                raise InstrumentTimeout(f"{self.name}: no reply within {timeout:g} s") from exc
            raise ConnectionLost(f"{self.name}: {exc.description}") from exc
        except UnicodeDecodeError as exc:
            await self.close()
            raise ProtocolError(f"{self.name}: garbled reply ({exc.object!r})") from exc
        except (OSError, EOFError) as exc:
            await self.close()
            raise ConnectionLost(f"{self.name}: {exc}") from exc
