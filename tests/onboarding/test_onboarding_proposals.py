"""From an empty model to bound sensors: a point list, proposals, and the bound BuildingConfig."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_onboarding_cli import run_sidecar

from shared_schemas.validation import validate_record
from sidecar.onboarding.discovery import DiscoveredPoint, write_point_list
from sidecar.onboarding.evaluation import vendor_points
from sidecar.onboarding.proposals import bind, propose
from sidecar.simulation.sample_building import build_demo_building as sample_building


def _empty_model() -> dict[str, Any]:
    """The demo building as a model before onboarding: equipment and rooms, no sensors."""
    building = sample_building()
    building["elements"] = [e for e in building["elements"] if e["kind"] == "equipment"]
    return building


def _bms_points() -> tuple[list[DiscoveredPoint], dict[str, str]]:
    """The demo building's points as a Metasys BMS would list them, with where each belongs."""
    full = sample_building()
    units = {e["sensor"]["sensor_id"]: e["sensor"]["unit"] for e in full["elements"] if "sensor" in e}
    points, truth = [], {}
    for i, vp in enumerate(p for p in vendor_points(full) if p.style == "metasys"):
        points.append(DiscoveredPoint(vp.name, "", units[vp.sensor_id], "analog-input", 20.0,
                                      f"bacnet://{100 + i // 50}/analog-input:{i}", str(100 + i // 50)))
        truth[vp.name] = vp.truth
    return points, truth


def test_propose_and_bind() -> None:
    model = _empty_model()
    points, truth = _bms_points()
    proposals = propose(points, model)
    assert len(proposals) == len(points) == 212
    right = sum(p.element == truth[p.name] for p in proposals)
    assert right / len(proposals) >= 0.95
    by_name = {p.name: p for p in proposals}
    sat = next(p for p in proposals if p.name.endswith("AHU-01.SA-T"))
    assert (sat.brick_class, sat.quantity, sat.unit, sat.element_kind) == (
        "Supply_Air_Temperature_Sensor", "temperature", "Cel", "equipment")
    assert by_name[sat.name].element_label == "AHU-01"
    assert len({p.sensor_id for p in proposals}) == len(proposals)

    bound = bind(model, proposals, min_confidence=0.5)
    validate_record("BuildingConfig", bound)
    sensors = [e for e in bound["elements"] if e["kind"] == "sensor"]
    assert len(sensors) >= 0.95 * len(points)
    sat_element = next(e for e in sensors if e["name"] == sat.name)
    assert sat_element["sensor"]["host"] == truth[sat.name]
    assert sat_element["sensor"]["source"] == sat.source
    assert sat_element["parameters"]["IoT Quantity"] == "temperature"
    assert sat_element["parameters"]["Brick Class"] == "Supply_Air_Temperature_Sensor"
    room = next(e for e in sensors if e["name"].endswith("RM-2.14.CO2"))
    assert room["space"] == truth[room["name"]] and "host" not in room["sensor"]
    assert bind(model, proposals, min_confidence=1.01)["elements"] == model["elements"]


def test_cli_file_to_bound_building(tmp_path: Path) -> None:
    model = tmp_path / "EMPTY.json"
    model.write_text(json.dumps(_empty_model()), encoding="utf-8")
    points, _truth = _bms_points()
    write_point_list(points, tmp_path / "bms")
    out, bound = tmp_path / "points", tmp_path / "BOUND.json"
    done = run_sidecar("discover", "file", str(tmp_path / "bms.csv"), "--output", str(out), "--building", str(model),
                       "--bind", str(bound))
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "points.proposals.json").read_text(encoding="utf-8"))["proposals"]
    assert len(rows) == 212 and {"brick_class", "quantity", "unit", "element", "confidence"} <= set(rows[0])
    assert (tmp_path / "points.proposals.csv").read_text(encoding="utf-8").startswith("name,")
    building = json.loads(bound.read_text(encoding="utf-8"))
    validate_record("BuildingConfig", building)
    assert sum(e["kind"] == "sensor" for e in building["elements"]) >= 190
    done = run_sidecar("brick", "export", str(bound), "--output", str(tmp_path / "MODEL.ttl"))
    assert done.returncode == 0 and "points" in done.stderr
