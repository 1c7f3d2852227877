"""Build drivers for the instruments of a lab file."""

from __future__ import annotations

from typing import Any

from daq.config import InstrumentConfig
from daq.core.clock import Clock
from daq.core.prompts import Prompter
from drivers.base import Driver
from drivers.registry import driver_class
from drivers.transports.operator import OperatorLink
from drivers.transports.settings import (
    ManualConnection,
    ModbusRtuConnection,
    ModbusTcpConnection,
    open_line_transport,
    open_modbus_transport,
)


def build_driver(
    instrument: InstrumentConfig, clock: Clock, prompter: Prompter
) -> Driver[Any, Any]:
    """A driver on a (not yet opened) transport; the first exchange opens the link.

    ``prompter`` reaches the operator for instruments read by hand.
    """
    cls = driver_class(instrument.driver)
    settings = cls.Settings.model_validate(instrument.settings)
    connection = instrument.connection
    transport: Any
    if isinstance(connection, ManualConnection):
        transport = OperatorLink(instrument.id, prompter, connection.answer_timeout)
    elif isinstance(connection, ModbusTcpConnection | ModbusRtuConnection):
        transport = open_modbus_transport(instrument.id, connection)
    else:
        transport = open_line_transport(instrument.id, connection)
    return cls(instrument.id, transport, settings, clock)
