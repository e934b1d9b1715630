"""The AHU fault rules' inputs found by Brick class, in the demo building and in a model made elsewhere."""
from __future__ import annotations

import json
from pathlib import Path

from rdflib import Graph
from test_onboarding_cli import run_sidecar

from sidecar.onboarding.roles import ROLE_CLASSES, resolve_building, resolve_graph
from sidecar.simulation.sample_building import build_demo_building as sample_building

ROOT = Path(__file__).resolve().parents[2]

ELSEWHERE = """
@prefix brick: <https://brickschema.org/schema/Brick#> .
@prefix ref: <https://brickschema.org/schema/Brick/ref#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix : <urn:example:plant/> .
:rtu1 a brick:RTU ; rdfs:label "RTU-1" ; brick:hasPart :sf1, :oad1, :rad1 .
:sf1 a brick:Supply_Fan ; brick:hasPoint :sf1_sts, :sf1_spd .
:sf1_sts a brick:Start_Stop_Status ; ref:hasExternalReference [ ref:hasTimeseriesId "rtu1/sf/status" ] .
:sf1_spd a brick:Speed_Command ; ref:hasExternalReference [ ref:hasTimeseriesId "rtu1/sf/speed" ] .
:oad1 a brick:Outside_Damper ; brick:hasPoint :oad1_pos .
:oad1_pos a brick:Damper_Position_Command ; rdfs:label "OA damper cmd" ;
    ref:hasExternalReference [ ref:hasTimeseriesId "rtu1/oad" ] .
:rad1 a brick:Return_Damper ; brick:hasPoint :rad1_pos .
:rad1_pos a brick:Damper_Position_Command ; rdfs:label "Return damper cmd" ;
    ref:hasExternalReference [ ref:hasTimeseriesId "rtu1/rad" ] .
:dat a brick:Discharge_Air_Temperature_Sensor ; brick:isPointOf :rtu1 ;
    ref:hasExternalReference [ ref:hasTimeseriesId "rtu1/dat" ] .
:dat_sp a brick:Discharge_Air_Temperature_Setpoint ; brick:isPointOf :rtu1 ;
    ref:hasExternalReference [ ref:hasTimeseriesId "rtu1/dat_sp" ] .
:weather_oat a brick:Outside_Air_Temperature_Sensor ;
    ref:hasExternalReference [ ref:hasTimeseriesId "site/oat" ] .
"""


def test_demo_building_ahus() -> None:
    found = {a.label.split(" (")[0]: a for a in resolve_building(sample_building())}
    assert set(found) == {"Air Handling Unit 01", "Air Handling Unit 02"}
    ahu1 = found["Air Handling Unit 01"]
    assert ahu1.inputs == {"sat": "ahu-01.supply_air_temp", "oat": "ahu-01.outdoor_air_temp",
                           "mat": "ahu-01.mixed_air_temp", "rat": "ahu-01.return_air_temp",
                           "oa_damper": "ahu-01.oa_damper_position"}
    assert "fan_status" in ahu1.missing and set(ahu1.missing) | set(ahu1.inputs) == set(ROLE_CLASSES)


def test_model_made_elsewhere_parts_synonyms_and_the_buildings_oat() -> None:
    g = Graph()
    g.parse(data=ELSEWHERE, format="turtle")
    [rtu] = resolve_graph(g)
    assert rtu.label == "RTU-1"
    assert rtu.inputs == {"sat": "rtu1/dat", "sat_sp": "rtu1/dat_sp", "fan_status": "rtu1/sf/status",
                          "fan_speed": "rtu1/sf/speed", "oa_damper": "rtu1/oad", "oat": "site/oat"}
    assert rtu.classes["sat"] == "Discharge_Air_Temperature_Sensor"


def test_cli(tmp_path: Path) -> None:
    model = tmp_path / "plant.ttl"
    model.write_text(ELSEWHERE, encoding="utf-8")
    done = run_sidecar("brick", "roles", str(model))
    assert done.returncode == 0, done.stderr
    [rtu] = json.loads(done.stdout)
    assert rtu["inputs"]["oa_damper"] == "rtu1/oad"
    done = run_sidecar("brick", "roles", str(ROOT / "sidecar" / "data" / "demo_building.json"))
    assert done.returncode == 0 and len(json.loads(done.stdout)) == 2
