"""The AHU fault rules' inputs found by meaning, not by column name.

``sidecar.analytics.ahu_fdd`` reads standard points (``sat``, ``mat``, ``oat``, ``oa_damper``...)
from columns a map names. Here each AHU of a Brick model (exported from a BuildingConfig or made
elsewhere) gets those points from the Brick classes of its points (``brick:isPointOf`` /
``brick:hasPoint``, also through its parts such as fans and dampers): the supply air temperature
is whatever point is a ``Supply_Air_Temperature_Sensor`` (or the older
``Discharge_Air_Temperature_Sensor``), and so on. An AHU without its own outside air temperature
takes the building's. The result names each input's timeseries id (the sensor id), so the rules
run on any onboarded AHU.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rdflib import Graph
from rdflib.namespace import RDF, RDFS

from sidecar.onboarding.brick import BRICK, REF, RPI, export_graph

# standard point -> Brick classes that can fill it, best first
ROLE_CLASSES: dict[str, tuple[str, ...]] = {
    "sat": ("Supply_Air_Temperature_Sensor", "Discharge_Air_Temperature_Sensor"),
    "sat_sp": ("Supply_Air_Temperature_Setpoint", "Discharge_Air_Temperature_Setpoint",
               "Supply_Air_Temperature_Cooling_Setpoint", "Discharge_Air_Temperature_Cooling_Setpoint"),
    "sat_sp_heating": ("Supply_Air_Temperature_Heating_Setpoint", "Discharge_Air_Temperature_Heating_Setpoint"),
    "oat": ("Outside_Air_Temperature_Sensor",),
    "mat": ("Mixed_Air_Temperature_Sensor",),
    "rat": ("Return_Air_Temperature_Sensor",),
    "fan_status": ("Fan_Status", "Start_Stop_Status", "Run_Status", "On_Off_Status"),
    "fan_speed": ("Fan_Speed_Command", "Speed_Command", "Frequency_Command"),
    "oa_damper": ("Damper_Position_Sensor", "Damper_Position_Command"),
    "cooling_valve": ("Cooling_Command",),
    "heating_valve": ("Heating_Command",),
    "duct_static": ("Supply_Air_Static_Pressure_Sensor", "Static_Pressure_Sensor"),
    "duct_static_sp": ("Supply_Air_Static_Pressure_Setpoint", "Static_Pressure_Setpoint"),
    "occupancy": ("Occupancy_Command", "Occupancy_Status"),
}
AHU_CLASSES = ("AHU", "Air_Handling_Unit", "RTU", "Rooftop_Unit", "DOAS", "Makeup_Air_Unit")
# damper points that are not the outside air damper's
NOT_OUTSIDE = ("return", "exhaust", "relief", "vav")


@dataclass
class AhuInputs:
    ahu: str                 # the AHU's node (IRI)
    label: str
    inputs: dict[str, str] = field(default_factory=dict)     # standard point -> timeseries id
    classes: dict[str, str] = field(default_factory=dict)    # standard point -> the Brick class used
    missing: list[str] = field(default_factory=list)


def _local(node: Any) -> str:
    return str(node).rsplit("#", 1)[-1]


def _series_id(g: Graph, point: Any) -> str:
    for ref in g.objects(point, REF.hasExternalReference):
        found = g.value(ref, REF.hasTimeseriesId)
        if found is not None:
            return str(found)
    sensor_id = g.value(point, RPI.sensorId)
    return str(sensor_id) if sensor_id is not None else _local(point)


def _points_of(g: Graph, equipment: Any) -> set[Any]:
    """Points of the equipment and of its parts (fans, dampers, coils), any depth."""
    seen: set[Any] = set()
    todo = [equipment]
    points: set[Any] = set()
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        points.update(g.subjects(BRICK.isPointOf, node))
        points.update(g.objects(node, BRICK.hasPoint))
        todo.extend(g.objects(node, BRICK.hasPart))
        todo.extend(g.subjects(BRICK.isPartOf, node))
    return points


def _classes(g: Graph, node: Any) -> set[str]:
    return {str(t)[len(str(BRICK)):] for t in g.objects(node, RDF.type) if str(t).startswith(str(BRICK))}


def resolve_graph(g: Graph) -> list[AhuInputs]:
    """Every AHU in a Brick graph with the standard points its own points fill."""
    ahus = sorted({s for c in AHU_CLASSES for s in g.subjects(RDF.type, BRICK[c])}, key=str)
    building_oat = sorted((p for p in g.subjects(RDF.type, BRICK.Outside_Air_Temperature_Sensor)), key=str)
    out = []
    for ahu in ahus:
        found = AhuInputs(str(ahu), str(g.value(ahu, RDFS.label) or _local(ahu)))
        points = sorted(_points_of(g, ahu), key=str)
        for role, wanted in ROLE_CLASSES.items():
            for cls in wanted:
                candidates = [p for p in points if cls in _classes(g, p)]
                if role == "oa_damper":
                    candidates = [p for p in candidates
                                  if not any(w in str(g.value(p, RDFS.label) or "").lower() for w in NOT_OUTSIDE)]
                if candidates:
                    found.inputs[role] = _series_id(g, candidates[0])
                    found.classes[role] = cls
                    break
        if "oat" not in found.inputs and building_oat:   # the building's outside air temperature
            found.inputs["oat"] = _series_id(g, building_oat[0])
            found.classes["oat"] = "Outside_Air_Temperature_Sensor"
        found.missing = [role for role in ROLE_CLASSES if role not in found.inputs]
        out.append(found)
    return out


def resolve_building(building: dict[str, Any]) -> list[AhuInputs]:
    """The same for a BuildingConfig (through its Brick export)."""
    return resolve_graph(export_graph(building))
