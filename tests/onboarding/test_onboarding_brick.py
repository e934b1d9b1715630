"""Brick out and in: the demo building as a Brick 1.4 model, SHACL-valid, and back."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from rdflib import URIRef
from rdflib.namespace import RDF
from test_onboarding_cli import run_sidecar

from shared_schemas.validation import validate_record
from sidecar.onboarding.brick import BRICK, REF, export_graph, import_turtle, point_class, validate
from sidecar.simulation.sample_building import build_demo_building as sample_building


@pytest.fixture(scope="module")
def building() -> dict[str, Any]:
    return sample_building()


def _node(graph: Any, unique_id: str) -> URIRef:
    return next(s for s in graph.subjects() if str(s).endswith(unique_id))


def _by_mark(building: dict[str, Any], mark: str) -> dict[str, Any]:
    return next(e for e in building["elements"] if e.get("mark") == mark and e["kind"] == "equipment")


def test_export_has_the_building_and_its_relations(building: dict[str, Any]) -> None:
    g = export_graph(building)
    assert len(list(g.subjects(RDF.type, BRICK.AHU))) == 2
    assert len(list(g.subjects(RDF.type, BRICK.VAV))) == 8
    assert len(list(g.subjects(RDF.type, BRICK.Floor))) == 6
    assert len(list(g.subjects(RDF.type, BRICK.Room))) + len(list(g.subjects(RDF.type, BRICK.Space))) == 31
    ahu1 = _node(g, _by_mark(building, "AHU-01")["unique_id"])
    fed = {str(g.value(v, URIRef("https://revitpyiot.invalid/schema/brick#mark"))) for v in g.objects(ahu1, BRICK.feeds)}
    assert fed == {"VAV-1-01", "VAV-1-02", "VAV-2-01", "VAV-2-02"}     # "Serves Level 1 and Level 2"
    vav = _by_mark(building, "VAV-3-02")
    assert (_node(g, vav["unique_id"]), BRICK.feeds, _node(g, vav["space"])) in g
    sat = next(e for e in building["elements"] if e.get("sensor", {}).get("sensor_id") == "ahu-01.supply_air_temp")
    point = _node(g, sat["unique_id"])
    assert (point, RDF.type, BRICK.Supply_Air_Temperature_Sensor) in g
    assert (point, BRICK.isPointOf, ahu1) in g
    assert str(g.value(point, BRICK.hasUnit)).endswith("DEG_C")
    ref = g.value(point, REF.hasExternalReference)
    assert str(g.value(ref, REF.hasTimeseriesId)) == "ahu-01.supply_air_temp"
    assert str(g.value(ref, REF.storedAt)) == "sim:"
    room_temperatures = {point_class(e) for e in building["elements"]
                         if "sensor" in e and e["sensor"]["sensor_id"].startswith("room-")
                         and e["sensor"]["quantity"] == "temperature"}
    assert room_temperatures == {"Zone_Air_Temperature_Sensor"}
    classes = {point_class(e) for e in building["elements"] if "sensor" in e}
    assert {"Zone_Air_Temperature_Sensor", "CO2_Sensor", "Leaving_Chilled_Water_Temperature_Sensor",
            "Damper_Position_Sensor", "Electric_Power_Sensor", "Energy_Sensor"} <= classes


@pytest.mark.timeout(600)
def test_export_conforms_to_brick_shapes_and_a_broken_model_does_not(building: dict[str, Any]) -> None:
    g = export_graph(building)
    conforms, report = validate(g)
    assert conforms, report
    point = next(iter(g.subjects(RDF.type, BRICK.CO2_Sensor)))
    g.add((point, BRICK.hasLocation, next(iter(g.subjects(RDF.type, BRICK.AHU)))))   # a location that is not one
    conforms, report = validate(g)
    assert not conforms and str(point) in report and "hasLocation" in report


def test_export_then_import_gives_back_the_building(tmp_path: Path) -> None:
    model = tmp_path / "MODEL.ttl"
    back = tmp_path / "BACK.json"
    source = Path(__file__).resolve().parents[2] / "sidecar" / "data" / "demo_building.json"
    done = run_sidecar("brick", "export", str(source), "--output", str(model))
    assert done.returncode == 0, done.stderr
    done = run_sidecar("brick", "import", str(model), "--output", str(back))
    assert done.returncode == 0, done.stderr
    original = json.loads(source.read_text(encoding="utf-8"))
    imported = json.loads(back.read_text(encoding="utf-8"))

    def bindings(b: dict[str, Any]) -> dict[str, Any]:
        return {e["unique_id"]: e["sensor"] for e in b["elements"] if "sensor" in e}

    assert bindings(imported) == bindings(original) and len(bindings(imported)) == 212
    assert imported == original           # everything else too, through the rpi: properties
    validate_record("BuildingConfig", imported)


FOREIGN = """
@prefix brick: <https://brickschema.org/schema/Brick#> .
@prefix ref: <https://brickschema.org/schema/Brick/ref#> .
@prefix unit: <http://qudt.org/vocab/unit/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix : <urn:example:campus/> .
:bldg a brick:Building ; rdfs:label "Campus Library" ; brick:hasPart :f1 .
:f1 a brick:Floor ; rdfs:label "Floor 1" ; brick:hasPart :r101 .
:r101 a brick:Room ; rdfs:label "101 Reading Room" .
:ahu1 a brick:AHU ; rdfs:label "AHU 1" ; brick:hasLocation :r101 .
:sat a brick:Supply_Air_Temperature_Sensor ; brick:isPointOf :ahu1 ; brick:hasUnit unit:DEG_C ;
    ref:hasExternalReference [ a ref:TimeseriesReference ; ref:hasTimeseriesId "ahu1-sat" ;
                               ref:storedAt "bacnet://1201/analog-input:3" ] .
:co2 a brick:CO2_Sensor ; brick:isPointOf :r101 ; brick:hasLocation :r101 ; brick:hasUnit unit:PPM ;
    ref:hasExternalReference [ a ref:TimeseriesReference ; ref:hasTimeseriesId "r101-co2" ;
                               ref:storedAt "mqtt:///campus/r101/co2" ] .
:sp a brick:Zone_Air_Temperature_Setpoint ; brick:isPointOf :ahu1 .
"""


def test_import_binds_points_of_a_model_made_elsewhere() -> None:
    b = import_turtle(FOREIGN, "campus")
    validate_record("BuildingConfig", b)
    assert b["building_id"] == "campus" and b["model"]["title"] == "Campus Library"
    assert [s["number"] for s in b["spaces"]] == ["101"] and b["levels"][0]["name"] == "Floor 1"
    sensors = {e["sensor"]["sensor_id"]: e for e in b["elements"] if "sensor" in e}
    assert set(sensors) == {"ahu1-sat", "r101-co2"}            # the setpoint has no data: not bound
    sat = sensors["ahu1-sat"]["sensor"]
    assert sat == {"sensor_id": "ahu1-sat", "quantity": "temperature", "unit": "Cel",
                   "source": "bacnet://1201/analog-input:3", "host": "brick:ahu1"}
    co2 = sensors["r101-co2"]
    assert co2["sensor"]["quantity"] == "co2" and co2["sensor"]["unit"] == "ppm" and "host" not in co2["sensor"]
    assert co2["space"] == "brick:r101" and co2["level"] == b["levels"][0]["unique_id"]


def test_import_rejects_what_is_not_turtle(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is { not turtle", encoding="utf-8")
    done = run_sidecar("brick", "import", str(bad))
    assert done.returncode == 2 and "not a Turtle file" in done.stderr
