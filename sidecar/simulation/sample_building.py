"""The demo building "Harbour View Office": a BuildingConfig as the extension would export it.

A four-storey office (Level 1 to Level 4) over a basement plant room, with roof plant: six levels,
31 rooms and MEP spaces, 26 pieces of equipment (2 rooftop AHUs, a cooling tower, 2 chillers, a
boiler, 4 pumps, 8 VAV boxes, 6 electricity meters, a water meter and a heat meter) and about 200
sensors (the equipment's points plus an IAQ set in every room).

Conventions, the same as ``RevitPyIoT.extension/lib/revitpyiot/extract.py`` uses:

* ``category`` is the BuiltInCategory name (``OST_MechanicalEquipment``, ``OST_DataDevices``, ...),
  never the display name, which Revit localizes.
* A space's ``level`` and an element's ``level`` / ``space`` are ``unique_id`` values of the level
  and of the room or space; optional keys are left out rather than set to nil.
* ``unique_id`` looks like Revit's ``Element.UniqueId``: the GUID of the editing episode that created
  the element, a dash, and the element id as 8 hex digits. ``element_id`` is that integer.
* Locations are metres in project coordinates: x east and y north from the south-west corner of the
  48 m x 24 m floor plate, z from Level 1 finished floor level. Sensor channels of one device are
  separate elements (nested shared families in Revit), one ``sensor`` binding each.
* Sensors carry the shared parameters the extension reads (``IoT Sensor Id``, ``IoT Quantity``...)
  next to the ``sensor`` map built from them. Units are UCUM; most sources are ``sim:`` (a few leave
  the source out, which means ``sim:`` too), the water meter is fed by ``ingest:`` requests.
  Sensors whose normal range differs from the sidecar's default limits for their quantity (supply
  air, chilled and hot water temperatures, pump pressures, plant power...) carry their own
  ``limits``.

Everything is derived from ``random.Random(seed)``, so a seed always gives the same building.
``python -m sidecar.simulation.sample_building [--output FILE] [--seed N]`` writes it as JSON (by default to
``sidecar/data/demo_building.json``, which ships with the package).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared_schemas.protocol import (
    KIND_EQUIPMENT,
    KIND_SENSOR,
    PARAM_HOST,
    PARAM_LIMIT_HIGH,
    PARAM_LIMIT_HIGH_CRITICAL,
    PARAM_LIMIT_LOW,
    PARAM_LIMIT_LOW_CRITICAL,
    PARAM_QUANTITY,
    PARAM_SENSOR_ID,
    PARAM_SOURCE,
    PARAM_UNIT,
)

BUILDING_ID = "harbour-view"
BUILDING_TITLE = "Harbour View Office"
DEMO_BUILDING_PATH = Path(__file__).resolve().parents[1] / "data" / "demo_building.json"
EXPORTED_TS = 1767603600.0  # 2026-01-05 09:00 UTC: fixed, so the file is reproducible
PLATE_X_M = 48.0
PLATE_Y_M = 24.0

Limits = dict[str, float]
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in metres

# (name, elevation in metres); Level 1 is the ground floor.
LEVELS: tuple[tuple[str, float], ...] = (
    ("Level B1", -4.2),
    ("Level 1", 0.0),
    ("Level 2", 4.0),
    ("Level 3", 7.6),
    ("Level 4", 11.2),
    ("Roof", 14.8),
)
OFFICE_LEVELS = ("Level 1", "Level 2", "Level 3", "Level 4")

# Floor plate zones (south strip, core, north strip), reused on every office level.
SOUTH_WEST: Box = (0.0, 0.0, 20.0, 10.0)
SOUTH_MIDDLE: Box = (20.0, 0.0, 30.0, 10.0)
SOUTH_EAST: Box = (30.0, 0.0, 48.0, 10.0)
CORE: Box = (20.0, 10.0, 28.0, 14.0)
NORTH_WEST: Box = (0.0, 14.0, 24.0, 24.0)
NORTH_MIDDLE: Box = (24.0, 14.0, 36.0, 24.0)
NORTH_EAST: Box = (36.0, 14.0, 48.0, 24.0)

# IAQ channels: every room gets the first three, occupied workplaces all six.
BASIC_IAQ = ("temperature", "humidity", "co2")
FULL_IAQ = BASIC_IAQ + ("voc", "pm25", "occupancy")

# level -> [(number, name, kind, box, IAQ channels)]
ROOMS: dict[str, list[tuple[str, str, str, Box, tuple[str, ...]]]] = {
    "Level B1": [
        ("B.01", "Plant Room", "space", (0.0, 0.0, 30.0, 24.0), ()),
        ("B.02", "Tank Room", "space", (30.0, 0.0, 48.0, 24.0), ()),
    ],
    "Level 1": [
        ("1.01", "Reception", "room", SOUTH_WEST, FULL_IAQ),
        ("1.02", "Meeting Room Lighthouse", "room", SOUTH_MIDDLE, FULL_IAQ),
        ("1.03", "Café", "room", SOUTH_EAST, FULL_IAQ),
        ("1.04", "Open Office North", "room", NORTH_WEST, FULL_IAQ),
        ("1.05", "Server Room", "room", NORTH_MIDDLE, BASIC_IAQ),
        ("1.06", "Post Room", "room", NORTH_EAST, BASIC_IAQ),
        ("1.R1", "Riser L1", "space", CORE, ()),
    ],
    "Level 2": [
        ("2.01", "Open Office South", "room", SOUTH_WEST, FULL_IAQ),
        ("2.02", "Meeting Room Quay", "room", SOUTH_MIDDLE, FULL_IAQ),
        ("2.03", "Open Office East", "room", SOUTH_EAST, FULL_IAQ),
        ("2.04", "Open Office North", "room", NORTH_WEST, FULL_IAQ),
        ("2.14", "Büro 2.14", "room", NORTH_MIDDLE, FULL_IAQ),
        ("2.06", "Kitchenette", "room", NORTH_EAST, BASIC_IAQ),
        ("2.R1", "Riser L2", "space", CORE, ()),
    ],
    "Level 3": [
        ("3.01", "Open Office South", "room", SOUTH_WEST, FULL_IAQ),
        ("3.02", "会议室", "room", SOUTH_MIDDLE, FULL_IAQ),
        ("3.03", "Open Office East", "room", SOUTH_EAST, FULL_IAQ),
        ("3.04", "Open Office North", "room", NORTH_WEST, FULL_IAQ),
        ("3.05", "Focus Room Ørsted", "room", NORTH_MIDDLE, FULL_IAQ),
        ("3.06", "Kitchenette", "room", NORTH_EAST, BASIC_IAQ),
        ("3.R1", "Riser L3", "space", CORE, ()),
    ],
    "Level 4": [
        ("4.01", "Boardroom", "room", SOUTH_WEST, FULL_IAQ),
        ("4.02", "Salle de réunion Étoile", "room", SOUTH_MIDDLE, FULL_IAQ),
        ("4.03", "Open Office East", "room", SOUTH_EAST, FULL_IAQ),
        ("4.04", "Open Office North", "room", NORTH_WEST, FULL_IAQ),
        ("4.05", "Director's Office", "room", NORTH_MIDDLE, FULL_IAQ),
        ("4.06", "Terrace Lounge", "room", NORTH_EAST, BASIC_IAQ),
        ("4.R1", "Riser L4", "space", CORE, ()),
    ],
    "Roof": [
        ("R.01", "Roof Plant", "space", (0.0, 0.0, 48.0, 24.0), ()),
    ],
}

# quantity -> (unit, sensor family, type, ISA-style tag letters)
IAQ_CHANNELS: dict[str, tuple[str, str, str, str]] = {
    "temperature": ("Cel", "RPI_Room Sensor - Wall", "Temperature NTC10k", "TT"),
    "humidity": ("%", "RPI_Room Sensor - Wall", "Humidity Capacitive", "MT"),
    "co2": ("ppm", "RPI_IAQ Multisensor - Ceiling", "CO2 NDIR 0-5000 ppm", "AT"),
    "voc": ("ppb", "RPI_IAQ Multisensor - Ceiling", "TVOC MOX", "AT"),
    "pm25": ("ug/m3", "RPI_IAQ Multisensor - Ceiling", "PM2.5 Optical", "AT"),
    "occupancy": ("{persons}", "RPI_People Counter - Ceiling", "Thermopile 3D", "OT"),
}
IAQ_LABELS = {"temperature": "Temperature", "humidity": "Humidity", "co2": "CO2", "voc": "TVOC",
              "pm25": "PM2.5", "occupancy": "Occupancy"}
SERVER_ROOM_LIMITS: Limits = {"low": 16.0, "high": 27.0, "low_critical": 12.0, "high_critical": 32.0}


@dataclass(frozen=True)
class Point:
    """One sensor channel of a piece of equipment."""

    key: str  # becomes "<equipment mark lower-case>.<key>", the sensor_id
    name: str
    quantity: str
    unit: str
    category: str
    family: str
    type: str
    tag: str  # ISA-style mark prefix
    offset: tuple[float, float, float]  # from the equipment's location, metres
    limits: Limits | None = None
    source: str | None = "sim:"


@dataclass(frozen=True)
class Equipment:
    mark: str
    name: str
    category: str
    family: str
    type: str
    level: str
    room: str  # room/space number
    xy: tuple[float, float]
    height_m: float  # above its level
    parameters: dict[str, Any]
    points: tuple[Point, ...]


MCD = "OST_MechanicalControlDevices"
DATA = "OST_DataDevices"
DUCT_ACC = "OST_DuctAccessory"
PIPE_ACC = "OST_PipeAccessory"


def _temp(key: str, name: str, dx: float, limits: Limits, family: str = "RPI_Temperature Sensor - Duct",
          type_name: str = "PT1000 Immersion 200 mm", source: str | None = "sim:") -> Point:
    return Point(key, name, "temperature", "Cel", MCD, family, type_name, "TT", (dx, 0.4, 0.8), limits,
                 source)


def _vibration(key: str, name: str, dx: float) -> Point:
    return Point(key, name, "vibration", "mm/s", DATA, "RPI_Vibration Sensor - Magnetic Mount",
                 "Triaxial 0-50 mm/s", "VT", (dx, -0.3, 0.6), {"high": 4.5, "high_critical": 7.1})


def _current(key: str, name: str, dx: float, high: float) -> Point:
    return Point(key, name, "current", "A", DATA, "RPI_Current Transducer - Split Core", "CT 0-100 A", "IT",
                 (dx, -0.5, 1.2), {"high": high, "high_critical": round(high * 1.3, 1)})


def _ahu(mark: str, serves: str, x: float, serial: str) -> Equipment:
    points = (
        _temp("supply_air_temp", "Supply Air Temperature", 2.5,
              {"low": 11.0, "high": 18.0, "low_critical": 7.0, "high_critical": 24.0}),
        _temp("return_air_temp", "Return Air Temperature", -2.5,
              {"low": 17.0, "high": 28.0, "low_critical": 12.0, "high_critical": 32.0}),
        _temp("mixed_air_temp", "Mixed Air Temperature", -1.0,
              {"low": 8.0, "high": 28.0, "low_critical": 3.0, "high_critical": 33.0}),
        _temp("outdoor_air_temp", "Outdoor Air Temperature", -3.2,
              {"low": -15.0, "high": 35.0, "low_critical": -25.0, "high_critical": 42.0},
              family="RPI_Temperature Sensor - Outdoor", type_name="PT1000 Shielded", source=None),
        _vibration("supply_fan_vibration", "Supply Fan Vibration", 1.2),
        _current("supply_fan_current", "Supply Fan Motor Current", 1.4, 32.0),
        Point("oa_damper_position", "Outdoor Air Damper Position", "position", "%", MCD,
              "RPI_Damper Actuator - Modulating", "24 V 0-10 V 20 Nm", "ZT", (-3.0, 0.0, 1.5),
              {"low_critical": -1.0, "high_critical": 101.0}),
        Point("filter_dp", "Filter Differential Pressure", "pressure", "Pa", MCD,
              "RPI_Differential Pressure Sensor", "0-500 Pa", "PDT", (0.2, 0.6, 1.0),
              {"high": 250.0, "high_critical": 350.0}),
    )
    return Equipment(mark, f"Air Handling Unit {mark[-2:]} ({serves})", "OST_MechanicalEquipment",
                     "M_Air Handling Unit - Rooftop", "9500 L/s Heat Recovery", "Roof", "R.01",
                     (x, 12.0), 0.0,
                     {"Manufacturer": "Nordvent", "Model": "NV-RT 95", "Serial Number": serial,
                      "Install Date": "2019-03-14", "Rated Airflow (L/s)": 9500, "Supply Fan Power (kW)": 15.0,
                      "Service Interval (months)": 3, "Is Critical": True, "Comments": f"Serves {serves}"},
                     points)


def _chiller(mark: str, x: float, serial: str) -> Equipment:
    points = (
        Point("power", "Chiller Electrical Power", "power", "kW", DATA, "RPI_Power Meter - DIN Rail",
              "3-Phase CT 400 A", "JT", (1.6, -1.0, 1.4), {"high": 160.0, "high_critical": 190.0}),
        _temp("chw_supply_temp", "Chilled Water Supply Temperature", 2.2,
              {"low": 4.5, "high": 9.0, "low_critical": 2.5, "high_critical": 12.0}),
        _temp("chw_return_temp", "Chilled Water Return Temperature", -2.2,
              {"low": 8.0, "high": 15.0, "low_critical": 5.0, "high_critical": 18.0}),
        Point("chw_flow", "Chilled Water Flow", "flow", "L/s", PIPE_ACC, "RPI_Flow Meter - Electromagnetic",
              "DN100", "FT", (2.6, 0.5, 0.5), {"low": 12.0, "high": 32.0, "low_critical": 6.0,
                                                 "high_critical": 38.0}),
        _vibration("compressor_vibration", "Compressor Vibration", 0.0),
    )
    return Equipment(mark, f"Chiller {mark[-2:]}", "OST_MechanicalEquipment",
                     "M_Chiller - Water Cooled - Screw", "650 kW", "Level B1", "B.01", (x, 6.0), 0.0,
                     {"Manufacturer": "Kältewerk", "Model": "KW-S 650", "Serial Number": serial,
                      "Install Date": "2019-02-27", "Cooling Capacity (kW)": 650.0, "Refrigerant": "R-513A",
                      "Service Interval (months)": 6, "Is Critical": True}, points)


def _pump(mark: str, name: str, x: float, y: float, duty: str, dp_kpa: float, serial: str) -> Equipment:
    dp = dp_kpa * 1000.0
    points = (
        _vibration("vibration", "Pump Vibration", 0.3),
        _current("current", "Motor Current", 0.5, 18.0),
        Point("differential_pressure", "Pump Differential Pressure", "pressure", "Pa", PIPE_ACC,
              "RPI_Differential Pressure Transmitter - Pipe", "0-400 kPa", "PDT", (0.0, 0.4, 0.7),
              {"low": round(dp * 0.7), "high": round(dp * 1.25), "low_critical": round(dp * 0.4),
               "high_critical": round(dp * 1.5)}),
    )
    return Equipment(mark, name, "OST_MechanicalEquipment", "M_Pump - Inline - Vertical",
                     f"{dp_kpa:g} kPa 7.5 kW", "Level B1", "B.01", (x, y), 0.0,
                     {"Manufacturer": "Aquaflux", "Model": "AF-IL 80", "Serial Number": serial,
                      "Install Date": "2019-02-20", "Motor Power (kW)": 7.5, "Duty/Standby": duty,
                      "Service Interval (months)": 12, "Is Critical": duty == "Duty",
                      "Offset from Host (mm)": -150}, points)


def _vav(level: str, number: str, room: str, xy: tuple[float, float], nominal_l_s: int) -> Equipment:
    floor = level.split()[-1]
    mark = f"VAV-{floor}-{number}"
    points = (
        _temp("zone_temp", "Zone Temperature", 0.0, {"low": 19.0, "high": 26.0, "low_critical": 15.0,
                                                      "high_critical": 30.0},
              family="M_Thermostat - Room", type_name="Wall Sensor"),
        Point("airflow", "Supply Airflow", "flow", "L/s", DUCT_ACC, "RPI_Airflow Sensor - Duct",
              "Pitot Cross DN250", "FT", (-0.6, 0.0, 0.0),
              {"low": round(nominal_l_s * 0.2), "high": round(nominal_l_s * 1.15),
               "high_critical": round(nominal_l_s * 1.4)}),
        Point("damper_position", "VAV Damper Position", "position", "%", MCD,
              "RPI_Damper Actuator - Modulating", "24 V 0-10 V 5 Nm", "ZT", (0.4, 0.2, 0.0),
              {"low_critical": -1.0, "high_critical": 101.0}),
    )
    return Equipment(mark, f"VAV Box {level} {number}", "OST_MechanicalEquipment",
                     "M_VAV Unit - Single Duct", f"Size 250 - {nominal_l_s} L/s", level, room, xy, 3.1,
                     {"Manufacturer": "Airtronic", "Model": "SDV-250", "Nominal Airflow (L/s)": nominal_l_s,
                      "Install Date": "2019-05-06", "Reheat": False, "Service Interval (months)": 12},
                     points)


def _electricity_meter(mark: str, name: str, level: str, room: str, xy: tuple[float, float],
                       high_kw: float) -> Equipment:
    points = (
        Point("power", "Active Power", "power", "kW", DATA, "RPI_Meter Register", "Active Power", "JT",
              (0.0, -0.2, 0.1), {"high": high_kw, "high_critical": round(high_kw * 1.25, 1)}),
        Point("energy", "Active Energy Import", "energy", "kW.h", DATA, "RPI_Meter Register",
              "Active Energy Import", "JQ", (0.0, -0.2, 0.2), None),
    )
    return Equipment(mark, name, "OST_ElectricalEquipment", "M_Energy Meter - MID 3-Phase",
                     "CT Connected 5 A", level, room, xy, 1.6,
                     {"Manufacturer": "Elmeter", "Model": "EM-340", "CT Ratio": "400/5", "MID Certified": True,
                      "Panel Name": mark.replace("EM", "DB")}, points)


def _equipment_list() -> list[Equipment]:
    equipment: list[Equipment] = [
        _ahu("AHU-01", "Level 1 and Level 2", 10.0, "NV95-19-0412"),
        _ahu("AHU-02", "Level 3 and Level 4", 34.0, "NV95-19-0413"),
        Equipment("CT-01", "Cooling Tower 01", "OST_MechanicalEquipment", "M_Cooling Tower - Open Circuit",
                  "750 kW", "Roof", "R.01", (22.0, 20.0), 0.0,
                  {"Manufacturer": "Coolstack", "Model": "OC-750", "Install Date": "2019-03-02",
                   "Fan Power (kW)": 11.0, "Is Critical": True},
                  (_temp("cw_supply_temp", "Condenser Water Supply Temperature", 1.8,
                         {"low": 20.0, "high": 32.0, "low_critical": 15.0, "high_critical": 36.0}),
                   _vibration("fan_vibration", "Fan Vibration", 0.0))),
        _chiller("CH-01", 6.0, "KW650-2019-118"),
        _chiller("CH-02", 14.0, "KW650-2019-119"),
        Equipment("B-01", "Boiler 01", "OST_MechanicalEquipment", "M_Boiler - Gas - Condensing", "400 kW",
                  "Level B1", "B.01", (24.0, 18.0), 0.0,
                  {"Manufacturer": "Thermia", "Model": "TC-400", "Install Date": "2019-02-12",
                   "Heating Capacity (kW)": 400.0, "Fuel": "Natural gas", "Is Critical": True},
                  (_temp("hw_flow_temp", "Heating Water Flow Temperature", 1.5,
                         {"low": 55.0, "high": 80.0, "low_critical": 45.0, "high_critical": 90.0}),
                   _temp("hw_return_temp", "Heating Water Return Temperature", -1.5,
                         {"low": 35.0, "high": 65.0, "low_critical": 25.0, "high_critical": 75.0}),
                   Point("system_pressure", "Heating System Pressure", "pressure", "Pa", PIPE_ACC,
                         "RPI_Pressure Transmitter - Pipe", "0-600 kPa", "PT", (0.0, 1.0, 0.6),
                         {"low": 100000.0, "high": 250000.0, "low_critical": 70000.0,
                          "high_critical": 300000.0}))),
        _pump("CHWP-01", "Chilled Water Pump 01", 5.0, 14.0, "Duty", 180.0, "AF80-19-2231"),
        _pump("CHWP-02", "Chilled Water Pump 02", 7.5, 14.0, "Standby", 180.0, "AF80-19-2232"),
        _pump("HWP-01", "Heating Water Pump 01", 27.0, 20.0, "Duty", 120.0, "AF80-19-2233"),
        _pump("CWP-01", "Condenser Water Pump 01", 10.0, 18.0, "Duty", 210.0, "AF80-19-2234"),
    ]
    nominal = (520, 760)  # L/s: south and north zones
    for level in OFFICE_LEVELS:
        floor = level.split()[-1]
        equipment.append(_vav(level, "01", f"{floor}.01", (10.0, 5.0), nominal[0]))
        equipment.append(_vav(level, "02", f"{floor}.04", (12.0, 19.0), nominal[1]))
    equipment.append(_electricity_meter("EM-MAIN", "Main Incomer Meter", "Level B1", "B.02", (44.0, 2.0), 420.0))
    equipment.append(_electricity_meter("EM-MECH", "Mechanical Services Meter", "Level B1", "B.02",
                                        (44.0, 4.0), 330.0))
    for level in OFFICE_LEVELS:
        floor = level.split()[-1]
        equipment.append(_electricity_meter(f"EM-L{floor}", f"{level} Distribution Board Meter", level,
                                            f"{floor}.R1", (21.0, 11.0), 60.0))
    equipment.append(Equipment(
        "WM-01", "Incoming Water Meter", PIPE_ACC, "M_Water Meter - Flanged", "DN50 Ultrasonic",
        "Level B1", "B.02", (40.0, 20.0), 0.5,
        {"Manufacturer": "Hydrosense", "Model": "US-50", "Utility Account": "HV-W-0042-117",
         "Pulse Value (L)": 10, "MID Certified": True},
        (Point("flow", "Water Flow", "flow", "L/s", DATA, "RPI_Meter Register", "Flow Rate", "FT", (0.0, 0.3, 0.3),
               {"high": 3.0, "high_critical": 5.0}, source="ingest:"),
         Point("volume", "Water Volume", "volume", "m3", DATA, "RPI_Meter Register", "Volume Total", "FQ",
               (0.0, 0.3, 0.4), {"low_critical": -1.0}, source="ingest:"))))
    equipment.append(Equipment(
        "HM-01", "Heating Heat Meter", PIPE_ACC, "M_Heat Meter - Ultrasonic", "DN65 qp 25",
        "Level B1", "B.01", (26.0, 14.0), 0.8,
        {"Manufacturer": "Hydrosense", "Model": "HM-65", "MID Certified": True},
        (Point("power", "Heating Power", "power", "kW", DATA, "RPI_Meter Register", "Thermal Power", "JT",
               (0.0, 0.3, 0.3), {"high": 380.0, "high_critical": 420.0}),
         Point("energy", "Heating Energy", "energy", "kW.h", DATA, "RPI_Meter Register", "Thermal Energy", "JQ",
               (0.0, 0.3, 0.4), None, source=None))))
    return equipment


class _Ids:
    """Revit-shaped element ids and unique ids: ids grow in small steps; each batch of elements
    shares the GUID of the editing episode that created it."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.next_id = 311  # low ids belong to what the project template brought along
        self.episode = self._guid()

    def _guid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def new_episode(self, jump: int) -> None:
        self.episode = self._guid()
        self.next_id += jump + self.rng.randint(0, 999)

    def take(self) -> tuple[int, str]:
        element_id = self.next_id
        self.next_id += self.rng.randint(1, 37)
        return element_id, f"{self.episode}-{element_id:08x}"


def _initials(key: str) -> str:
    """``supply_air_temp`` -> ``SAT``: the short point code used in sensor marks."""
    return "".join(part[0] for part in key.split("_")).upper()


def _round3(values: Sequence[float]) -> list[float]:
    return [round(float(v), 3) for v in values]


def _sensor_parameters(sensor_id: str, quantity: str, unit: str, source: str | None, host: str | None,
                       limits: Limits | None) -> dict[str, Any]:
    params: dict[str, Any] = {PARAM_SENSOR_ID: sensor_id, PARAM_QUANTITY: quantity, PARAM_UNIT: unit}
    if source is not None:
        params[PARAM_SOURCE] = source
    if host is not None:
        params[PARAM_HOST] = host
    for key, name in (("low", PARAM_LIMIT_LOW), ("high", PARAM_LIMIT_HIGH),
                      ("low_critical", PARAM_LIMIT_LOW_CRITICAL), ("high_critical", PARAM_LIMIT_HIGH_CRITICAL)):
        if limits and key in limits:
            params[name] = float(limits[key])
    return params


def _sensor_element(ids: _Ids, *, sensor_id: str, name: str, quantity: str, unit: str, category: str,
                    family: str, type_name: str, mark: str, level_uid: str, space_uid: str,
                    location: Sequence[float], source: str | None, host: str | None,
                    limits: Limits | None, extra: dict[str, Any]) -> dict[str, Any]:
    element_id, unique_id = ids.take()
    sensor: dict[str, Any] = {"sensor_id": sensor_id, "quantity": quantity, "unit": unit}
    if source is not None:
        sensor["source"] = source
    if host is not None:
        sensor["host"] = host
    if limits:
        sensor["limits"] = {key: float(value) for key, value in limits.items()}
    parameters = _sensor_parameters(sensor_id, quantity, unit, source, host, limits)
    parameters.update(extra)
    return {"unique_id": unique_id, "element_id": element_id, "kind": KIND_SENSOR, "category": category,
            "family": family, "type": type_name, "name": name, "mark": mark, "level": level_uid,
            "space": space_uid, "location": _round3(location), "parameters": parameters, "sensor": sensor}


def build_demo_building(seed: int = 7) -> dict[str, Any]:
    """The Harbour View Office as a BuildingConfig (a plain dict, JSON- and msgpack-ready)."""
    rng = random.Random(seed)
    ids = _Ids(rng)
    project_guid = str(uuid.UUID(int=rng.getrandbits(128), version=4))

    levels: list[dict[str, Any]] = []
    level_uid: dict[str, str] = {}
    elevation: dict[str, float] = {}
    for name, elevation_m in LEVELS:
        element_id, unique_id = ids.take()
        levels.append({"unique_id": unique_id, "name": name, "elevation_m": elevation_m})
        level_uid[name], elevation[name] = unique_id, elevation_m
        ids.next_id += rng.randint(1500, 9000)  # levels are made far apart in a real model

    ids.new_episode(180_000)
    spaces: list[dict[str, Any]] = []
    space_uid: dict[str, str] = {}
    room_boxes: dict[str, Box] = {}
    room_level: dict[str, str] = {}
    for level, rooms in ROOMS.items():
        for number, room_name, kind, box, _channels in rooms:
            element_id, unique_id = ids.take()
            spaces.append({"unique_id": unique_id, "element_id": element_id, "name": room_name,
                           "number": number, "level": level_uid[level], "kind": kind})
            space_uid[number], room_boxes[number], room_level[number] = unique_id, box, level

    ids.new_episode(95_000)
    elements: list[dict[str, Any]] = []
    sensor_batches: list[dict[str, Any]] = []
    for item in _equipment_list():
        element_id, unique_id = ids.take()
        z = elevation[item.level] + item.height_m
        elements.append({"unique_id": unique_id, "element_id": element_id, "kind": KIND_EQUIPMENT,
                         "category": item.category, "family": item.family, "type": item.type,
                         "name": item.name, "mark": item.mark, "level": level_uid[item.level],
                         "space": space_uid[item.room], "location": _round3((item.xy[0], item.xy[1], z)),
                         "parameters": dict(item.parameters)})
        for point in item.points:
            sensor_batches.append({
                "sensor_id": f"{item.mark.lower()}.{point.key}", "name": f"{item.mark} {point.name}",
                "quantity": point.quantity, "unit": point.unit, "category": point.category,
                "family": point.family, "type_name": point.type,
                "mark": f"{point.tag}-{item.mark.replace('-', '')}-{_initials(point.key)}",
                "level_uid": level_uid[item.level], "space_uid": space_uid[item.room],
                "location": (item.xy[0] + point.offset[0], item.xy[1] + point.offset[1],
                             z + point.offset[2] + rng.uniform(0.0, 0.05)),
                "source": point.source, "host": unique_id, "limits": point.limits,
                "extra": {"Description": point.name}})

    ids.new_episode(40_000)  # sensors were placed in a later session
    for batch in sensor_batches:
        elements.append(_sensor_element(ids, **batch))
    for level, rooms in ROOMS.items():
        for number, room_name, _kind, box, channels in rooms:
            x0, y0, x1, y1 = box
            cx = rng.uniform(x0 + 0.35 * (x1 - x0), x0 + 0.65 * (x1 - x0))
            cy = rng.uniform(y0 + 0.35 * (y1 - y0), y0 + 0.65 * (y1 - y0))
            for quantity in channels:
                unit, family, type_name, tag = IAQ_CHANNELS[quantity]
                on_wall = family.endswith("Wall")
                location = (cx, y0 + 0.1 if on_wall else cy, elevation[level] + (1.5 if on_wall else 2.7))
                limits = SERVER_ROOM_LIMITS if (room_name == "Server Room" and quantity == "temperature") else None
                slug = number.replace(".", "-").lower()
                elements.append(_sensor_element(
                    ids, sensor_id=f"room-{slug}.{quantity}", name=f"{room_name} {IAQ_LABELS[quantity]}",
                    quantity=quantity, unit=unit, category=DATA, family=family, type_name=type_name,
                    mark=f"{tag}-{number}" + ("" if tag in ("TT", "MT", "OT") else f"-{quantity.upper()}"),
                    level_uid=level_uid[level], space_uid=space_uid[number], location=location,
                    source="sim:", host=None, limits=limits,
                    extra={"Room Number": number, "Mounting Height (mm)": 1500 if on_wall else 2700}))

    return {
        "building_id": BUILDING_ID,
        "model": {"title": BUILDING_TITLE, "path": "C:\\Projects\\HVO\\HVO-ARC-MEP-Central.rvt",
                  "revit_version": "2025", "project_guid": project_guid},
        "exported_ts": EXPORTED_TS,
        "levels": levels,
        "spaces": spaces,
        "elements": elements,
    }


def demo_building_json(seed: int = 7) -> str:
    """The demo building as the UTF-8 JSON text stored in ``sidecar/data/demo_building.json``."""
    return json.dumps(build_demo_building(seed), ensure_ascii=False, indent=1) + "\n"


def load_demo_building(path: Path | None = None) -> dict[str, Any]:
    """The shipped demo building (or the BuildingConfig JSON at ``path``)."""
    with open(path or DEMO_BUILDING_PATH, encoding="utf-8") as handle:
        loaded: dict[str, Any] = json.load(handle)
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sidecar.simulation.sample_building",
                                     description="Write the demo building (a BuildingConfig) as JSON.")
    parser.add_argument("--output", type=Path, default=DEMO_BUILDING_PATH,
                        help=f"file to write, '-' for stdout (default: {DEMO_BUILDING_PATH})")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    args = parser.parse_args(argv)
    text = demo_building_json(args.seed)
    if str(args.output) == "-":
        sys.stdout.write(text)
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8", newline="\n")
    building = json.loads(text)
    sensors = sum(1 for e in building["elements"] if e["kind"] == KIND_SENSOR)
    print(f"wrote {args.output}: {len(building['levels'])} levels, {len(building['spaces'])} spaces, "
          f"{len(building['elements']) - sensors} equipment, {sensors} sensors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
