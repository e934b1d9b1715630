"""The demo building: a realistic, valid, self-consistent BuildingConfig."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import msgpack
import pytest
from revitpyiot.transport import msgpack_codec

from shared_schemas.protocol import KIND_EQUIPMENT, KIND_SENSOR, QUANTITY_UNITS, SOURCE_SCHEMES
from shared_schemas.validation import validate_record, validate_request
from sidecar.simulation import sample_building
from sidecar.simulation.sample_building import build_demo_building, demo_building_json, load_demo_building

ROOT = Path(__file__).resolve().parents[2]
REVIT_UNIQUE_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-([0-9a-f]{8})$")
REVIT_CATEGORIES = {
    "OST_MechanicalEquipment", "OST_ElectricalEquipment", "OST_PipeAccessory", "OST_DuctAccessory",
    "OST_DataDevices", "OST_MechanicalControlDevices", "OST_DuctTerminal", "OST_PlumbingFixtures",
}


@pytest.fixture(scope="module")
def building() -> dict[str, Any]:
    return build_demo_building()


def _equipment(building: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in building["elements"] if e["kind"] == KIND_EQUIPMENT]


def _sensors(building: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in building["elements"] if e["kind"] == KIND_SENSOR]


def test_it_validates_as_a_record_and_as_a_configure_request(building: dict[str, Any]) -> None:
    validate_record("BuildingConfig", building)
    validate_request({"v": 1, "type": "configure", "id": "t-1", "ts": 1767603600.0, "token": "t",
                      "body": building})
    assert building["building_id"] == "harbour-view"
    assert building["model"]["title"] == "Harbour View Office"


def test_it_has_the_size_of_a_real_office(building: dict[str, Any]) -> None:
    levels_with_rooms = {s["level"] for s in building["spaces"] if s["kind"] == "room"}
    assert len(building["levels"]) >= 3 and len(levels_with_rooms) == 4
    assert len(building["spaces"]) >= 20
    assert len(_equipment(building)) >= 20
    assert len(_sensors(building)) >= 100
    marks = Counter(e["mark"].split("-")[0] for e in _equipment(building))
    assert marks["AHU"] == 2 and marks["CH"] == 2 and marks["VAV"] >= 8 and marks["EM"] >= 1 and marks["WM"] >= 1
    assert marks["CHWP"] + marks["HWP"] + marks["CWP"] >= 3


def test_equipment_carries_the_expected_points(building: dict[str, Any]) -> None:
    sensors = _sensors(building)
    by_host: dict[str, list[str]] = {}
    for sensor in sensors:
        host = sensor["sensor"].get("host")
        if host:
            by_host.setdefault(host, []).append(sensor["sensor"]["sensor_id"].split(".", 1)[1])
    equipment = {e["mark"]: e for e in _equipment(building)}
    for ahu in ("AHU-01", "AHU-02"):
        assert {"supply_air_temp", "return_air_temp", "mixed_air_temp", "supply_fan_vibration",
                "supply_fan_current", "oa_damper_position", "filter_dp"} <= set(by_host[equipment[ahu]["unique_id"]])
    for chiller in ("CH-01", "CH-02"):
        assert {"power", "chw_supply_temp", "chw_return_temp", "chw_flow"} <= set(
            by_host[equipment[chiller]["unique_id"]])
    for mark, item in equipment.items():
        assert by_host.get(item["unique_id"]), f"{mark} has no sensors"
        if mark.startswith(("CHWP", "HWP", "CWP")):
            assert {"vibration", "current", "differential_pressure"} <= set(by_host[item["unique_id"]])
        if mark.startswith("VAV"):
            assert {"zone_temp", "airflow", "damper_position"} <= set(by_host[item["unique_id"]])
        if mark.startswith("EM"):
            assert {"power", "energy"} <= set(by_host[item["unique_id"]])


def test_every_room_has_iaq_sensors(building: dict[str, Any]) -> None:
    quantities_by_space: dict[str, set[str]] = {}
    for sensor in _sensors(building):
        if "host" not in sensor["sensor"]:
            quantities_by_space.setdefault(sensor["space"], set()).add(sensor["sensor"]["quantity"])
    rooms = [s for s in building["spaces"] if s["kind"] == "room"]
    for room in rooms:
        assert {"temperature", "humidity", "co2"} <= quantities_by_space.get(room["unique_id"], set()), room
    all_quantities = set().union(*quantities_by_space.values())
    assert {"voc", "pm25", "occupancy"} <= all_quantities


def test_ids_are_unique_and_shaped_like_revit(building: dict[str, Any]) -> None:
    records = building["levels"] + building["spaces"] + building["elements"]
    unique_ids = [r["unique_id"] for r in records]
    assert len(unique_ids) == len(set(unique_ids))
    for record in building["spaces"] + building["elements"]:
        match = REVIT_UNIQUE_ID.match(record["unique_id"])
        assert match, record["unique_id"]
        assert int(match.group(1), 16) == record["element_id"]
        assert type(record["element_id"]) is int
    element_ids = [r["element_id"] for r in building["spaces"] + building["elements"]]
    assert len(element_ids) == len(set(element_ids))
    sensor_ids = [s["sensor"]["sensor_id"] for s in _sensors(building)]
    assert len(sensor_ids) == len(set(sensor_ids))


def test_references_resolve(building: dict[str, Any]) -> None:
    levels = {lv["unique_id"] for lv in building["levels"]}
    spaces = {s["unique_id"]: s for s in building["spaces"]}
    equipment = {e["unique_id"] for e in _equipment(building)}
    for space in building["spaces"]:
        assert space["level"] in levels
    for element in building["elements"]:
        assert element["level"] in levels
        assert spaces[element["space"]]["level"] == element["level"]
    for sensor in _sensors(building):
        host = sensor["sensor"].get("host")
        assert host is None or host in equipment
        assert sensor["parameters"]["IoT Sensor Id"] == sensor["sensor"]["sensor_id"]
        assert sensor["parameters"].get("IoT Host") == host


def test_every_sensor_has_quantity_unit_and_a_known_source(building: dict[str, Any]) -> None:
    sensors = _sensors(building)
    sources = Counter(s["sensor"].get("source", "sim:") for s in sensors)
    for sensor in sensors:
        binding = sensor["sensor"]
        assert binding["quantity"] and binding["unit"]
        if binding["quantity"] in QUANTITY_UNITS:
            assert binding["unit"] == QUANTITY_UNITS[binding["quantity"]], binding
        assert binding.get("source", "sim:").split(":", 1)[0] in SOURCE_SCHEMES
    assert sources["sim:"] >= 0.9 * len(sensors)
    assert any("source" not in s["sensor"] for s in sensors), "some sensors rely on the sim: default"


def test_limits_are_present_on_some_sensors_and_ordered(building: dict[str, Any]) -> None:
    with_limits = [s["sensor"]["limits"] for s in _sensors(building) if "limits" in s["sensor"]]
    assert 20 <= len(with_limits) < len(_sensors(building))
    for limits in with_limits:
        ordered = [limits[k] for k in ("low_critical", "low", "high", "high_critical") if k in limits]
        assert ordered == sorted(ordered), limits


def test_locations_are_inside_the_floor_plate_and_their_room(building: dict[str, Any]) -> None:
    boxes = {number: box for rooms in sample_building.ROOMS.values() for number, _n, _k, box, _c in rooms}
    spaces = {s["unique_id"]: s for s in building["spaces"]}
    elevation = {lv["unique_id"]: lv["elevation_m"] for lv in building["levels"]}
    for element in building["elements"]:
        x, y, z = element["location"]
        assert 0.0 <= x <= sample_building.PLATE_X_M and 0.0 <= y <= sample_building.PLATE_Y_M, element["mark"]
        x0, y0, x1, y1 = boxes[spaces[element["space"]]["number"]]
        assert x0 <= x <= x1 and y0 <= y <= y1, element["mark"]
        assert elevation[element["level"]] <= z <= elevation[element["level"]] + 4.0, element["mark"]


def test_it_looks_like_a_revit_export(building: dict[str, Any]) -> None:
    assert {e["category"] for e in building["elements"]} <= REVIT_CATEGORIES
    assert all(e["category"].startswith("OST_") for e in building["elements"])
    names = {s["name"] for s in building["spaces"]}
    assert {"Büro 2.14", "会议室"} <= names
    assert all(e.get("family") and e.get("type") and e.get("mark") for e in building["elements"])
    elevations = [lv["elevation_m"] for lv in building["levels"]]
    assert elevations == sorted(elevations)


def test_it_is_deterministic_per_seed() -> None:
    assert build_demo_building(7) == build_demo_building(7)
    other = build_demo_building(8)
    assert other != build_demo_building(7)
    assert len(other["elements"]) == len(build_demo_building(7)["elements"])
    validate_record("BuildingConfig", other)


def test_it_round_trips_through_json_and_msgpack(building: dict[str, Any]) -> None:
    assert json.loads(json.dumps(building, ensure_ascii=False)) == building
    packed = msgpack.packb(building)
    assert msgpack.unpackb(packed) == building
    assert bytes(msgpack_codec.packb(building)) == packed
    assert msgpack_codec.unpackb(packed) == building


def test_the_shipped_file_is_up_to_date(building: dict[str, Any]) -> None:
    shipped = ROOT / "sidecar" / "data" / "demo_building.json"
    assert shipped.read_text(encoding="utf-8") == demo_building_json(7), \
        "run: python -m sidecar.simulation.sample_building"
    assert load_demo_building() == building


def test_the_command_line_writes_the_building(tmp_path: Path) -> None:
    output = tmp_path / "nested" / "building.json"
    done = subprocess.run([sys.executable, "-m", "sidecar.simulation.sample_building", "--output", str(output)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert "sensors" in done.stdout
    assert output.read_text(encoding="utf-8") == demo_building_json(7)
    other = tmp_path / "seed3.json"
    done = subprocess.run([sys.executable, "-m", "sidecar.simulation.sample_building", "--seed", "3", "--output", str(other)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert load_demo_building(other) == build_demo_building(3)
