"""Driver families by the name used in the lab file; modules load only when used."""

from __future__ import annotations

import importlib
from typing import Any

from drivers.base import Driver

DRIVERS: dict[str, str] = {
    "mt_sics": "drivers.mettler_toledo:MtSicsBalance",
    "fluke_1529": "drivers.fluke_1529:Fluke1529",
    "keller_s30": "drivers.keller:KellerSeries30",
    "modbus_int16": "drivers.modbus_transmitter:ModbusTransmitter",
    "fluke_heat_source": "drivers.fluke_heat_source:FlukeHeatSource",
    "hart_classic": "drivers.hart_classic:HartClassicSource",
    "manual": "drivers.manual:ManualEntry",
    "sartorius_sbi": "drivers.sartorius:SartoriusBalance",
    "druck_pace": "drivers.druck_pace:DruckPace",
    "mensor_cpc": "drivers.mensor_cpc:MensorCpc",
    "custom_line": "drivers.custom:CustomLineDevice",
    "custom_modbus": "drivers.custom:CustomModbusDevice",
}


def driver_class(family: str) -> type[Driver[Any]]:
    try:
        module_name, class_name = DRIVERS[family].split(":")
    except KeyError:
        known = ", ".join(sorted(DRIVERS))
        raise KeyError(f"unknown driver {family!r}; known drivers: {known}") from None
    cls: type[Driver[Any]] = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, Driver)
    return cls
