"""VISA ``TCPIP::host::port::SOCKET`` resources on the event loop: the same bytes as pyvisa-py
sends, with no thread hop and no ``select()`` limit, so one agent holds thousands."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from daq.core.clock import SteppedClock
from daq.descriptors import raise_open_files
from drivers.transports.settings import VisaConnection, open_line_transport
from drivers.transports.stream import StreamTransport
from drivers.transports.visa import VisaTransport
from simulators.fluke_1529 import Fluke1529SimSettings, Fluke1529Simulator
from simulators.servers import TcpLineServer


def visa(resource: str, **options: str) -> VisaConnection:
    return VisaConnection(type="visa", resource=resource, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("connection", "kind"),
    [
        (visa("TCPIP::192.0.2.7::5025::SOCKET"), StreamTransport),
        (visa("tcpip0::bench-readout.lab::5025::socket"), StreamTransport),
        (visa("TCPIP::192.0.2.7::5025::SOCKET", backend="@ivi"), VisaTransport),
        (visa("TCPIP::192.0.2.7::inst0::INSTR"), VisaTransport),
        (visa("ASRL/dev/ttyUSB0::INSTR"), VisaTransport),
    ],
)
async def test_only_raw_sockets_on_the_default_backend_leave_pyvisa(
    connection: VisaConnection, kind: type
) -> None:
    assert type(open_line_transport("readout", connection)) is kind


async def test_more_than_a_thousand_socket_readouts_in_one_process() -> None:
    """pyvisa-py waits with select(), which refuses any descriptor above 1,024; 1,200
    readouts and their simulator's 1,200 ends take descriptors well past it."""
    count = 1200
    assert not raise_open_files(count).short, "this machine's hard open-file limit is too low"
    server = await TcpLineServer(
        Fluke1529Simulator(Fluke1529SimSettings(seed=1, noise=0.0), SteppedClock())
    ).start()
    resource = f"TCPIP::127.0.0.1::{server.port}::SOCKET"
    transports = [
        open_line_transport(f"readout-{n}", visa(resource, read_termination="\n"))
        for n in range(count)
    ]
    try:
        # a few hundred at a time: the listening socket's backlog takes no more at once
        replies: list[str] = []
        for first in range(0, count, 200):
            batch = transports[first : first + 200]
            replies += await asyncio.gather(*(t.query("*IDN?") for t in batch))
        highest = max(int(fd) for fd in os.listdir("/proc/self/fd"))
        assert highest > 1024
        assert len(replies) == count and all(r.startswith("HART,1529") for r in replies)
        late = await transports[-1].query("*IDN?")  # the one on the highest descriptor
        assert late == replies[-1]
    finally:
        await asyncio.gather(*(t.close() for t in transports))
        await server.stop()


def _limits_after(soft: int, hard: int, instruments: int) -> list[str]:
    code = (
        "import resource\n"
        "from daq.descriptors import raise_open_files\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard}))\n"
        f"files = raise_open_files({instruments})\n"
        "print(files.limit, files.short, resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
        "print(files.advice())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.splitlines()


def test_the_soft_open_file_limit_is_raised_to_what_the_instruments_need() -> None:
    figures, _ = _limits_after(512, 8192, 1000)
    assert figures == "4256 False 4256"  # 256 spare + 4 per instrument


def test_the_soft_limit_is_never_lowered() -> None:
    figures, _ = _limits_after(6000, 8192, 10)
    assert figures == "6000 False 6000"


def test_a_hard_limit_too_low_is_said_with_what_to_do() -> None:
    figures, advice = _limits_after(256, 1024, 1000)
    assert figures == "1024 True 1024"
    assert "limit is 1024, below the 4256 descriptors" in advice
    assert "LimitNOFILE=" in advice
