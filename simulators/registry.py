"""Simulator families by driver name; modules load only when used."""

from __future__ import annotations

import importlib

from simulators.base import SimulatedInstrument

SIMULATORS: dict[str, str] = {
    "mt_sics": "simulators.mettler_toledo:MtSicsSimulator",
    "fluke_1529": "simulators.fluke_1529:Fluke1529Simulator",
    "keller_s30": "simulators.keller:KellerSeries30Simulator",
    "modbus_int16": "simulators.modbus_transmitter:ModbusTransmitterSimulator",
    "fluke_heat_source": "simulators.fluke_heat_source:FlukeHeatSourceSimulator",
    "hart_classic": "simulators.hart_classic:HartClassicSimulator",
    "manual": "simulators.manual:ManualSimulator",
    "sartorius_sbi": "simulators.sartorius:SartoriusSimulator",
    "druck_pace": "simulators.druck_pace:DruckPaceSimulator",
    "mensor_cpc": "simulators.mensor_cpc:MensorCpcSimulator",
    "custom_line": "simulators.custom:CustomLineSimulator",
    "custom_modbus": "simulators.custom:CustomModbusSimulator",
}


def simulator_class(family: str) -> type[SimulatedInstrument]:
    module_name, class_name = SIMULATORS[family].split(":")
    cls: type[SimulatedInstrument] = getattr(importlib.import_module(module_name), class_name)
    assert issubclass(cls, SimulatedInstrument)
    return cls
