"""A BuildingConfig as a Brick 1.4 model (Turtle), and back.

Export: the building (``rec:Building``), its levels (``rec:Level``), rooms (``rec:Room``) and
MEP spaces (``rec:Space``), equipment (AHU, VAV, chiller, boiler, pumps, meters... from the Revit
family and name) with ``brick:hasLocation`` and ``brick:feeds``, and every sensor as a point of its
Brick class (``classify.rule_class`` on its name and description, held to its quantity), with
``brick:hasUnit`` (QUDT), ``brick:isPointOf`` (its host equipment, else its room; Brick's
shapes give points no ``brick:hasLocation``, equipment has one) and a ``ref:TimeseriesReference`` whose id is the sensor id and which is
``ref:storedAt`` the sidecar source URI. ``brick:feeds`` comes from an element's optional
``feeds`` list (unique ids, as a later extension exports from MEP systems) or, failing that, from a
"Serves Level 1 and Level 2" in its ``Comments``/``Serves`` parameter (an AHU then feeds the VAV
boxes on those levels); a VAV box feeds the room it stands in.

What Revit knows that Brick has no word for (unique and element ids, category, family, type, mark,
location, parameters, limits) travels as ``rpi:`` properties, so export then import gives back
the same bindings. Import also reads models made elsewhere: any ``brick:Point`` with a
timeseries reference (or an ``rpi:source``) becomes a sensor; its quantity and unit come from
``brick:hasUnit`` and its class.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from sidecar.onboarding import names
from sidecar.onboarding.classify import CLASSES, rule_class

BRICK = Namespace("https://brickschema.org/schema/Brick#")
REC = Namespace("https://w3id.org/rec#")
REF = Namespace("https://brickschema.org/schema/Brick/ref#")
UNIT = Namespace("http://qudt.org/vocab/unit/")
RPI = Namespace("https://revitpyiot.invalid/schema/brick#")
QUDT = Namespace("http://qudt.org/schema/qudt/")

# UCUM (the sidecar's units) <-> QUDT (Brick's).
QUDT_UNITS: dict[str, str] = {
    "Cel": "DEG_C", "K": "K", "%": "PERCENT", "ppm": "PPM", "ppb": "PPB", "ug/m3": "MicroGM-PER-M3",
    "kW": "KiloW", "W": "W", "kW.h": "KiloW-HR", "mm/s": "MilliM-PER-SEC", "Pa": "PA", "kPa": "KiloPA",
    "L/s": "L-PER-SEC", "m3/h": "M3-PER-HR", "A": "A", "V": "V", "Hz": "HZ", "m3": "M3", "lx": "LUX",
    "kJ/kg": "KiloJ-PER-KiloGM",
}
UCUM_UNITS = {qudt: ucum for ucum, qudt in QUDT_UNITS.items()}

# A generic class per quantity, for a sensor whose words name no class of its quantity.
GENERIC_CLASS: dict[str, str] = {
    "temperature": "Temperature_Sensor", "humidity": "Relative_Humidity_Sensor", "co2": "CO2_Sensor",
    "voc": "TVOC_Sensor", "pm25": "PM2.5_Sensor", "occupancy": "Occupancy_Count_Sensor",
    "power": "Electric_Power_Sensor", "energy": "Energy_Sensor", "vibration": "Vibration_Sensor",
    "pressure": "Pressure_Sensor", "flow": "Flow_Sensor", "current": "Current_Sensor", "position": "Position_Sensor",
    "volume": "Volume_Sensor", "voltage": "Voltage_Sensor", "frequency": "Frequency_Sensor", "status": "Status",
}
# Brick 1.4 names some of the label set's classes differently from the reference models.
EXPORT_CLASS = {"Vibration_Sensor": "Sensor", "Volume_Sensor": "Sensor"}

LIMIT_KEYS = ("low", "high", "low_critical", "high_critical")


class BrickError(ValueError):
    """The Turtle cannot be read as a building."""


def equipment_class(element: dict[str, Any]) -> str:
    """The Brick class of a Revit equipment element, from its family, type, name and mark."""
    text = " " + " ".join(names.words(" ".join(str(element.get(k) or "") for k in ("family", "name", "mark")))) + " "

    def has(*options: str) -> bool:
        return any(f" {o} " in text for o in options)

    if has("air handling unit"):
        return "AHU"
    if has("vav"):
        return "VAV"
    if has("chiller") and not has("pump"):
        return "Chiller"
    if has("boiler"):
        return "Boiler"
    if has("cooling tower"):
        return "Cooling_Tower"
    if has("pump"):
        if has("chilled"):
            return "Chilled_Water_Pump"
        if has("heating", "hot"):
            return "Hot_Water_Pump"
        if has("condenser"):
            return "Condenser_Water_Pump"
        return "Pump"
    if has("meter"):
        if has("water") and not has("heat", "heating"):
            return "Water_Meter"
        if has("heat", "heating", "thermal"):
            return "Thermal_Power_Meter"
        return "Building_Electrical_Meter" if has("main", "incomer", "incoming") else "Electrical_Meter"
    if has("fan coil unit"):
        return "FCU"
    if has("fan"):
        return "Fan"
    return "Equipment"


def point_class(element: dict[str, Any]) -> str:
    """A sensor's Brick class: a ``Brick Class`` parameter if the model has one, else what its name
    and description spell out, held to its quantity (never a temperature class for a flow)."""
    given = element.get("parameters", {}).get("Brick Class")
    if isinstance(given, str) and given:
        return given.removeprefix("brick:")
    sensor = element["sensor"]
    quantity = sensor["quantity"]
    description = str(element.get("parameters", {}).get("Description") or "")
    if not sensor.get("host") and element.get("space"):
        description += " zone"   # a sensor on its own in a room measures the room
    found = rule_class(str(element.get("name") or sensor["sensor_id"]), description, quantity)
    known = CLASSES.get(found or "")
    if known is not None and known.quantity == quantity:
        return EXPORT_CLASS.get(known.brick_class, known.brick_class)
    return EXPORT_CLASS.get(GENERIC_CLASS.get(quantity, "Sensor"), GENERIC_CLASS.get(quantity, "Sensor"))


def _number(value: float) -> Literal:
    """xsd:decimal from repr(): Turtle's xsd:double form would round 1767603600.0 to 1.767604e+09."""
    return Literal(repr(float(value)), datatype=XSD.decimal)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "x"


def _feeds(building: dict[str, Any], element: dict[str, Any]) -> list[str]:
    """Unique ids this element feeds: its ``feeds`` list, else its "Serves Level ..." parameter."""
    explicit = element.get("feeds")
    if isinstance(explicit, list):
        return [str(u) for u in explicit]
    params = element.get("parameters", {})
    serves = str(params.get("Serves") or params.get("Comments") or "")
    if not serves.lower().startswith("serves") or equipment_class(element) != "AHU":
        return []
    level_ids = {lv["unique_id"] for lv in building["levels"] if re.search(rf"\b{re.escape(lv['name'])}\b", serves)}
    return [e["unique_id"] for e in building["elements"]
            if e.get("kind") == "equipment" and e.get("level") in level_ids and equipment_class(e) == "VAV"]


def export_graph(building: dict[str, Any]) -> Graph:
    """The BuildingConfig as an rdflib Graph of Brick 1.4 / REC triples."""
    bid = str(building["building_id"])
    ns = Namespace(f"urn:revitpyiot:{_slug(bid)}/")
    g = Graph()
    for prefix, space in (("brick", BRICK), ("rec", REC), ("ref", REF), ("unit", UNIT), ("qudt", QUDT), ("rpi", RPI),
                          ("bldg", ns)):
        g.bind(prefix, space)
    site = ns["building"]
    g.add((site, RDF.type, REC.Building))
    g.add((site, RDF.type, BRICK.Building))
    g.add((site, RDFS.label, Literal(building.get("model", {}).get("title") or bid)))
    g.add((site, RPI.buildingId, Literal(bid)))
    model = building.get("model", {})
    g.add((site, RPI.model, Literal(json.dumps(model, ensure_ascii=False, sort_keys=True))))
    g.add((site, RPI.exportedTs, _number(building.get("exported_ts", 0.0))))

    node: dict[str, URIRef] = {}
    for level in building["levels"]:
        uri = node[level["unique_id"]] = ns[f"level-{_slug(level['unique_id'])}"]
        g.add((uri, RDF.type, REC.Level))
        g.add((uri, RDF.type, BRICK.Floor))
        g.add((uri, RDFS.label, Literal(level["name"])))
        g.add((uri, RPI.uniqueId, Literal(level["unique_id"])))
        g.add((uri, RPI.elevation, _number(level["elevation_m"])))
        g.add((site, BRICK.hasPart, uri))
    for space in building["spaces"]:
        uri = node[space["unique_id"]] = ns[f"space-{_slug(space['unique_id'])}"]
        is_room = space.get("kind") == "room"
        g.add((uri, RDF.type, REC.Room if is_room else REC.Space))
        g.add((uri, RDF.type, BRICK.Room if is_room else BRICK.Space))
        g.add((uri, RDFS.label, Literal(f"{space['number']} {space['name']}")))
        for key, prop in (("unique_id", RPI.uniqueId), ("number", RPI.number), ("name", RPI.name),
                          ("kind", RPI.kind), ("element_id", RPI.elementId)):
            g.add((uri, prop, Literal(space[key])))
        if space.get("level") in node:
            g.add((node[space["level"]], BRICK.hasPart, uri))

    elements = building["elements"]
    for element in elements:
        prefix = "equip" if element["kind"] == "equipment" else "point"
        node[element["unique_id"]] = ns[f"{prefix}-{_slug(element['unique_id'])}"]
    for element in elements:
        uri = node[element["unique_id"]]
        sensor = element.get("sensor")
        if sensor is None:
            g.add((uri, RDF.type, BRICK[equipment_class(element)]))
        else:
            g.add((uri, RDF.type, BRICK[point_class(element)]))
            host = sensor.get("host")
            owner = node.get(host) if host else node.get(element.get("space", ""))
            if owner is not None:
                g.add((uri, BRICK.isPointOf, owner))
            qudt = QUDT_UNITS.get(sensor["unit"])
            if qudt:
                g.add((uri, BRICK.hasUnit, UNIT[qudt]))
            ref = BNode()
            g.add((uri, REF.hasExternalReference, ref))
            g.add((ref, RDF.type, REF.TimeseriesReference))
            g.add((ref, REF.hasTimeseriesId, Literal(sensor["sensor_id"])))
            g.add((ref, REF.storedAt, Literal(sensor.get("source") or "sim:")))
            g.add((uri, RPI.sensorId, Literal(sensor["sensor_id"])))
            g.add((uri, RPI.quantity, Literal(sensor["quantity"])))
            g.add((uri, RPI.unit, Literal(sensor["unit"])))
            if "source" in sensor:
                g.add((uri, RPI.source, Literal(sensor["source"])))
            for key in LIMIT_KEYS:
                if key in sensor.get("limits", {}):
                    g.add((uri, RPI[f"limit_{key}"], _number(sensor["limits"][key])))
        g.add((uri, RDFS.label, Literal(element.get("name") or element.get("mark") or element["unique_id"])))
        if element.get("space") in node:
            # Brick's shapes forbid a point's hasLocation (a point is located by what it is a point of)
            g.add((uri, RPI.space if sensor is not None else BRICK.hasLocation, node[element["space"]]))
        for key, prop in (("unique_id", RPI.uniqueId), ("element_id", RPI.elementId), ("category", RPI.category),
                          ("family", RPI.family), ("type", RPI.type), ("mark", RPI.mark), ("name", RPI.name)):
            if key in element:
                g.add((uri, prop, Literal(element[key])))
        if element.get("level") in node:
            g.add((uri, RPI.level, node[element["level"]]))
        g.add((uri, RPI.location, Literal(json.dumps(element["location"]))))
        g.add((uri, RPI.parameters, Literal(json.dumps(element.get("parameters", {}), ensure_ascii=False,
                                                       sort_keys=True))))
        if sensor is None:
            targets = _feeds(building, element)
            if equipment_class(element) == "VAV" and element.get("space") in node:
                targets = [*targets, element["space"]]
            for target in targets:
                if target in node:
                    g.add((uri, BRICK.feeds, node[target]))
    _declare_units(g)
    return g


def _declare_units(g: Graph) -> None:
    """Type the QUDT units the model uses (Brick's hasUnit shape wants a qudt:Unit; QUDT itself is
    not loaded with the model)."""
    for unit in set(g.objects(None, BRICK.hasUnit)):
        g.add((unit, RDF.type, QUDT.Unit))


def export_turtle(building: dict[str, Any]) -> str:
    return str(export_graph(building).serialize(format="turtle"))


# ---- import -------------------------------------------------------------------------------------

def _one(g: Graph, subject: Any, prop: URIRef) -> Any:
    value = next(iter(g.objects(subject, prop)), None)
    return value.toPython() if isinstance(value, Literal) else value


def _local(uri: Any) -> str:
    text = str(uri)
    return re.split(r"[#/:]", text)[-1] or text


def _brick_types(g: Graph, subject: Any) -> list[str]:
    return [str(t)[len(str(BRICK)):] for t in g.objects(subject, RDF.type) if str(t).startswith(str(BRICK))]


def _is_point(brick_types: Iterable[str]) -> bool:
    suffixes = ("Sensor", "Setpoint", "Command", "Status", "Alarm", "Parameter", "Limit", "Point")
    return any(t.endswith(suffixes) or t == "Point" for t in brick_types)


def _quantity_of(brick_class: str, unit: str | None) -> str:
    known = CLASSES.get(brick_class)
    if known is not None and known.quantity:
        return known.quantity
    words = brick_class.lower()
    for word, quantity in (("temperature", "temperature"), ("humidity", "humidity"), ("co2", "co2"),
                           ("power", "power"), ("energy", "energy"), ("pressure", "pressure"), ("flow", "flow"),
                           ("current", "current"), ("occupancy", "occupancy"), ("position", "position"),
                           ("voltage", "voltage"), ("status", "status"), ("command", "status"),
                           ("alarm", "status")):
        if word in words:
            return quantity
    return "value"


def import_graph(g: Graph, building_id: str | None = None) -> dict[str, Any]:
    """A BuildingConfig from a Brick graph (one this module exported, or any Brick model)."""
    sites = list(g.subjects(RDF.type, REC.Building)) + list(g.subjects(RDF.type, BRICK.Building))
    site = sites[0] if sites else None
    bid = building_id or (str(_one(g, site, RPI.buildingId) or "") if site is not None else "") or "imported"
    model: dict[str, Any] = {"title": str(_one(g, site, RDFS.label) or bid) if site is not None else bid}
    if site is not None and _one(g, site, RPI.model):
        model = json.loads(str(_one(g, site, RPI.model)))
    exported = float(_one(g, site, RPI.exportedTs) or 0.0) if site is not None else 0.0
    uid: dict[Any, str] = {}

    def unique_id(subject: Any) -> str:
        if subject not in uid:
            uid[subject] = str(_one(g, subject, RPI.uniqueId) or f"brick:{_local(subject)}")
        return uid[subject]

    levels = []
    level_nodes = sorted(set(g.subjects(RDF.type, REC.Level)) | set(g.subjects(RDF.type, BRICK.Floor)), key=str)
    for subject in level_nodes:
        levels.append({"unique_id": unique_id(subject), "name": str(_one(g, subject, RDFS.label) or _local(subject)),
                       "elevation_m": float(_one(g, subject, RPI.elevation) or 0.0)})
    level_of = {child: parent for parent in level_nodes for child in g.objects(parent, BRICK.hasPart)}
    next_id = iter(range(1, 10**9))
    spaces = []
    space_types = (REC.Room, REC.Space, BRICK.Room, BRICK.Space, BRICK.HVAC_Zone)
    space_nodes = sorted({s for t in space_types for s in g.subjects(RDF.type, t)}, key=str)
    for subject in space_nodes:
        label = str(_one(g, subject, RDFS.label) or _local(subject))
        is_room = (subject, RDF.type, REC.Room) in g or (subject, RDF.type, BRICK.Room) in g
        spaces.append({"unique_id": unique_id(subject),
                       "element_id": int(_one(g, subject, RPI.elementId) or next(next_id)),
                       "name": str(_one(g, subject, RPI.name) or label),
                       "number": str(_one(g, subject, RPI.number) or label.split()[0]),
                       "level": unique_id(level_of[subject]) if subject in level_of else "",
                       "kind": str(_one(g, subject, RPI.kind) or ("room" if is_room else "space"))})
    space_set = set(space_nodes)
    elements = []
    subjects = sorted({s for s, t in g.subject_objects(RDF.type) if str(t).startswith(str(BRICK))}, key=str)
    for subject in subjects:
        types = _brick_types(g, subject)
        if subject in space_set or subject == site or any(t in ("Building", "Floor") for t in types):
            continue
        element: dict[str, Any] = {"unique_id": unique_id(subject),
                                   "element_id": int(_one(g, subject, RPI.elementId) or next(next_id))}
        point = _is_point(types)
        element["kind"] = "sensor" if point else "equipment"
        element["category"] = str(_one(g, subject, RPI.category) or
                                  ("OST_DataDevices" if point else "OST_MechanicalEquipment"))
        for key, prop in (("family", RPI.family), ("type", RPI.type), ("name", RPI.name), ("mark", RPI.mark)):
            value = _one(g, subject, prop)
            if value is not None:
                element[key] = str(value)
        element.setdefault("name", str(_one(g, subject, RDFS.label) or _local(subject)))
        level = _one(g, subject, RPI.level)
        location = next((o for prop in (RPI.space, BRICK.hasLocation, BRICK.isPointOf)
                         for o in g.objects(subject, prop) if o in space_set), None)
        if level is not None:
            element["level"] = unique_id(level)
        elif location is not None and location in level_of:
            element["level"] = unique_id(level_of[location])
        if location is not None:
            element["space"] = unique_id(location)
        element["location"] = json.loads(str(_one(g, subject, RPI.location) or "[0, 0, 0]"))
        element["parameters"] = json.loads(str(_one(g, subject, RPI.parameters) or "{}"))
        if point:
            sensor = _sensor(g, subject, types, unique_id, space_set)
            if sensor is None:
                continue   # a point with no live data: nothing to bind
            element["sensor"] = sensor
        elements.append(element)
    return {"building_id": bid, "model": model, "exported_ts": exported, "levels": levels, "spaces": spaces,
            "elements": elements}


def _sensor(g: Graph, subject: Any, types: list[str], unique_id: Any, space_set: set[Any]) -> dict[str, Any] | None:
    ref = next((r for r in g.objects(subject, REF.hasExternalReference)
                if (r, RDF.type, REF.TimeseriesReference) in g), None)
    sensor_id = _one(g, subject, RPI.sensorId) or (_one(g, ref, REF.hasTimeseriesId) if ref is not None else None)
    source = _one(g, subject, RPI.source)
    if source is None and ref is not None and _one(g, subject, RPI.sensorId) is None:
        source = _one(g, ref, REF.storedAt)
    if sensor_id is None and source is None:
        return None
    qudt = next((str(u)[len(str(UNIT)):] for u in g.objects(subject, BRICK.hasUnit)), None)
    unit = _one(g, subject, RPI.unit) or (UCUM_UNITS.get(qudt, qudt) if qudt else None)
    brick_class = next((t for t in types if _is_point([t])), "Point")
    quantity = _one(g, subject, RPI.quantity) or _quantity_of(brick_class, unit)
    known = CLASSES.get(brick_class)
    sensor: dict[str, Any] = {"sensor_id": str(sensor_id or _local(subject)), "quantity": str(quantity),
                              "unit": str(unit or (known.unit if known and known.unit else "1"))}
    if source is not None:
        sensor["source"] = str(source)
    owner = next(iter(g.objects(subject, BRICK.isPointOf)), None)
    if owner is not None and owner not in space_set:
        sensor["host"] = unique_id(owner)
    limits = {key: float(_one(g, subject, RPI[f"limit_{key}"])) for key in LIMIT_KEYS
              if _one(g, subject, RPI[f"limit_{key}"]) is not None}
    if limits:
        sensor["limits"] = limits
    return sensor


def import_turtle(text: str, building_id: str | None = None) -> dict[str, Any]:
    g = Graph()
    try:
        g.parse(data=text, format="turtle")
    except Exception as error:  # rdflib raises several unrelated types for bad Turtle
        raise BrickError(f"not a Turtle file: {error}") from error
    return import_graph(g, building_id)


def validate(g: Graph) -> tuple[bool, str]:
    """Brick 1.4's SHACL shapes (as brickschema ships them) against the model: (conforms, report).

    pySHACL with the Brick ontology as shapes and ontology graph, no inference pass (brickschema's
    own ``validate`` compiles the graph up to ten times first, minutes for a small building, and
    stops at the first violation, which is one in the ontology itself: QUDT quantity kinds it
    refers to but does not ship). Only violations on this model's own nodes count."""
    import brickschema
    import pyshacl
    from rdflib.namespace import SH

    brick = brickschema.Graph(load_brick=True)
    _conforms, results, _text = pyshacl.validate(g, shacl_graph=brick, ont_graph=brick, advanced=True,
                                                 inference="none", allow_warnings=True)
    ours = set(g.subjects())
    lines: list[str] = []
    for result in results.subjects(RDF.type, SH.ValidationResult):
        focus = results.value(result, SH.focusNode)
        if focus not in ours or results.value(result, SH.resultSeverity) != SH.Violation:
            continue
        lines.append(f"{focus}: {results.value(result, SH.resultPath)} {results.value(result, SH.value)}: "
                     f"{results.value(result, SH.resultMessage)}")
    return not lines, "\n".join(sorted(lines)) or "conforms"
