# -*- coding: utf-8 -*-
"""Revit model -> BuildingConfig (PROTOCOL.md): equipment, sensors, levels, rooms and
spaces of the active document and of its loaded Revit links.

Runs on Revit's main thread (it reads the model). Keys are ``Element.UniqueId``; an element
of a linked model is keyed ``<link instance UniqueId>/<element UniqueId>`` because the same
link can be placed more than once. Lengths leave in metres, project coordinates.
"""
from __future__ import absolute_import

import math
import re
import time

from revitpyiot import protocol as P
from revitpyiot import revit_compat as rc

LINK_SEPARATOR = "/"
QUANTITY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
SOURCE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# Point fallbacks for the room/space lookup: a sensor on a ceiling sits above the room's upper
# limit and one in a floor slab below its base, so probe just above the element's own level
# first (it cannot reach the floor above or below), then around the element's height.
LEVEL_PROBE_FT = 1.0
ROOM_PROBE_OFFSETS_FT = (-1.0, 1.0)
LIMIT_PARAMS = (
    ("low", P.PARAM_LIMIT_LOW),
    ("high", P.PARAM_LIMIT_HIGH),
    ("low_critical", P.PARAM_LIMIT_LOW_CRITICAL),
    ("high_critical", P.PARAM_LIMIT_HIGH_CRITICAL),
)

W_SENSOR_WITHOUT_BINDING = "sensor_without_binding"
W_SENSOR_BAD_BINDING = "sensor_bad_binding"
W_DUPLICATE_SENSOR = "duplicate_sensor_id"
W_NO_LOCATION = "no_location"
W_NO_SPACE = "no_space"
W_HOST_NOT_FOUND = "host_not_found"
W_LINK_NOT_LOADED = "link_not_loaded"
W_MISSING_CATEGORY = "missing_category"


class ExportResult(object):
    """The BuildingConfig plus what the user must see: warnings and counts."""

    def __init__(self, config, warnings, counts):
        self.config = config
        self.warnings = warnings
        self.counts = counts


class _Context(object):
    """Per-document state of one export (host or one link instance)."""

    def __init__(self, doc, phase, transform=None, link=None, link_title=None):
        self.doc = doc
        self.phase = phase
        self.transform = transform
        self.link = link
        self.link_title = link_title
        self.prefix = (link.UniqueId + LINK_SEPARATOR) if link is not None else ""

    def key(self, element):
        return self.prefix + element.UniqueId

    def to_project(self, point):
        if point is None or self.transform is None:
            return point
        return self.transform.OfPoint(point)


STEP_ELEMENTS = 10          # elements read between two pauses of ``export_steps``


def export_building(doc, settings, active_view=None, revit_version=None, now=None):
    """Extract the BuildingConfig of ``doc`` (and its loaded links)."""
    result = None
    for result in export_steps(doc, settings, active_view, revit_version, now):
        pass
    return result


def export_steps(doc, settings, active_view=None, revit_version=None, now=None):
    """``export_building`` in small steps: yields None every ``STEP_ELEMENTS`` elements (the
    caller may give Revit's UI thread back and continue in its next idle call), then the
    ExportResult."""
    DB = rc._db()
    warnings = []
    elements = []
    spaces = []
    host_phase = _view_phase(doc, active_view) or _last_phase(doc)
    host = _Context(doc, host_phase)

    levels = _levels(doc)
    known_categories = _known_category_values(settings)
    _check_categories(doc, settings, warnings)

    spaces.extend(_spaces(host, levels))
    for _ in _element_steps(host, settings, levels, known_categories, warnings, elements):
        yield None
    linked = 0
    if settings.include_links:
        for link in DB.FilteredElementCollector(doc).OfClass(DB.RevitLinkInstance):
            link_doc = link.GetLinkDocument()
            if link_doc is None:
                warnings.append(_warning(W_LINK_NOT_LOADED, u"Revit link '{0}' is not loaded: its elements "
                                         u"are not exported".format(rc.text(link.Name)), link, host))
                continue
            ctx = _Context(link_doc, _last_phase(link_doc), link.GetTotalTransform(), link,
                           rc.text(link_doc.Title))
            spaces.extend(_spaces(ctx, levels))
            found = []
            for _ in _element_steps(ctx, settings, levels, known_categories, warnings, found):
                yield None
            linked += len(found)
            elements.extend(found)

    _resolve_hosts(elements, warnings)
    _drop_duplicate_sensors(elements, warnings)
    for element in elements:
        element.pop("_ctx", None)
        element.pop("_element_id_obj", None)

    config = {
        "building_id": settings.building_id or rc.text(doc.Title) or "building",
        "model": _model_info(doc, revit_version),
        "exported_ts": float(now if now is not None else time.time()),
        "levels": [{"unique_id": lv["unique_id"], "name": lv["name"], "elevation_m": lv["elevation_m"]}
                   for lv in levels],
        "spaces": spaces,
        "elements": elements,
    }
    counts = {
        "equipment": sum(1 for e in elements if e["kind"] == P.KIND_EQUIPMENT),
        "sensors": sum(1 for e in elements if e["kind"] == P.KIND_SENSOR),
        "linked_elements": linked,
        "levels": len(levels),
        "spaces": len(spaces),
        "warnings": len(warnings),
    }
    yield ExportResult(config, warnings, counts)


def _warning(code, message, element=None, ctx=None):
    warning = {"code": code, "message": message}
    if element is not None:
        warning["element_id"] = rc.element_id_value(element.Id)
        warning["unique_id"] = ctx.key(element) if ctx is not None else element.UniqueId
    warning["link"] = ctx.link_title if ctx is not None else None
    return warning


def _model_info(doc, revit_version):
    info = {"title": rc.text(doc.Title) or "untitled"}
    path = rc.text(doc.PathName)
    if path:
        info["path"] = path
    if revit_version:
        info["revit_version"] = rc.text(revit_version)
    return info


def _known_category_values(settings):
    known = {}
    for name in list(settings.equipment_categories) + list(settings.sensor_categories):
        bic = rc.built_in_category(name)
        if bic is not None:
            known[int(bic)] = name
    return known


def _check_categories(doc, settings, warnings):
    for name in list(settings.equipment_categories) + list(settings.sensor_categories):
        if rc.built_in_category(name) is None:
            warnings.append({"code": W_MISSING_CATEGORY, "link": None,
                             "message": u"Category {0} does not exist in this Revit version: "
                                        u"skipped".format(name)})


def _view_phase(doc, view):
    """The active view's phase: what the user sees is what rooms are looked up in."""
    if view is None:
        return None
    DB = rc._db()
    param = view.get_Parameter(DB.BuiltInParameter.VIEW_PHASE)
    if param is None or not param.HasValue:
        return None
    phase_id = param.AsElementId()
    if not rc.is_valid_id(phase_id):
        return None
    return doc.GetElement(phase_id)


def _last_phase(doc):
    phases = doc.Phases
    if phases is None or phases.Size == 0:
        return None
    return phases.get_Item(phases.Size - 1)


def _levels(doc):
    DB = rc._db()
    levels = []
    for level in DB.FilteredElementCollector(doc).OfClass(DB.Level):
        levels.append({"unique_id": level.UniqueId, "name": rc.text(level.Name),
                       "elevation_m": round(rc.feet_to_metres(level.Elevation), rc.LOCATION_DECIMALS),
                       "elevation_ft": float(level.Elevation), "id": rc.element_id_value(level.Id)})
    levels.sort(key=lambda lv: lv["elevation_ft"])
    return levels


def _level_by_elevation(levels, z_ft):
    """The highest host level at or below ``z_ft`` (the lowest level when below all)."""
    if not levels:
        return None
    chosen = levels[0]
    for level in levels:
        if level["elevation_ft"] <= z_ft + 1e-6:
            chosen = level
    return chosen


def _spaces(ctx, host_levels):
    DB = rc._db()
    result = []
    for bic_name, kind in (("OST_MEPSpaces", "space"), ("OST_Rooms", "room")):
        bic = rc.built_in_category(bic_name)
        collector = DB.FilteredElementCollector(ctx.doc).OfCategory(bic).WhereElementIsNotElementType()
        for spatial in collector:
            if spatial.Location is None or not spatial.Area > 0:
                continue  # unplaced or not enclosed: not a place a sensor can be in
            level_uid = u""
            if ctx.link is None:
                level = ctx.doc.GetElement(spatial.LevelId) if rc.is_valid_id(spatial.LevelId) else None
                level_uid = level.UniqueId if level is not None else u""
            else:
                point = ctx.to_project(spatial.Location.Point)
                level = _level_by_elevation(host_levels, point.Z) if point is not None else None
                level_uid = level["unique_id"] if level is not None else u""
            record = {
                "unique_id": ctx.key(spatial),
                "element_id": rc.element_id_value(spatial.Id),
                "name": rc.text(_param_text(spatial, "ROOM_NAME") or spatial.Name),
                "number": rc.text(spatial.Number),
                "level": level_uid,
                "kind": kind,
            }
            outline = _outline(ctx, spatial)
            if outline:
                record["outline"] = outline
            result.append(record)
    return result


def _outline(ctx, spatial):
    """The boundary loops of a room or space in metres, project XY (PROTOCOL.md ``outline``):
    the outer loop then any holes, as Revit returns them, each segment from its start point
    (arcs tessellated, so a curved wall stays curved). None when Revit gives no boundary."""
    DB = rc._db()
    try:
        options = DB.SpatialElementBoundaryOptions()
        options.SpatialElementBoundaryLocation = DB.SpatialElementBoundaryLocation.Finish
        return _loops(ctx, spatial.GetBoundarySegments(options)) or None
    except Exception:  # an unbounded or broken room, an older API: the dashboard falls back
        return None


def _loops(ctx, loops):
    result = []
    for loop in loops or []:
        points = []
        for segment in loop:
            curve = segment.GetCurve()
            if curve is None:
                continue
            try:
                along = list(curve.Tessellate())[:-1] or [curve.GetEndPoint(0)]
            except Exception:
                along = [curve.GetEndPoint(0)]
            for point in along:
                p = ctx.to_project(point)
                xy = [round(rc.feet_to_metres(p.X), rc.LOCATION_DECIMALS),
                      round(rc.feet_to_metres(p.Y), rc.LOCATION_DECIMALS)]
                if not points or points[-1] != xy:
                    points.append(xy)
        if len(points) > 1 and points[0] == points[-1]:
            points.pop()
        if len(points) >= 3:
            result.append(points)
    return result


def _param_text(element, bip_name):
    DB = rc._db()
    param = element.get_Parameter(getattr(DB.BuiltInParameter, bip_name))
    if param is None or not param.HasValue:
        return None
    return param.AsString()


def _collect(ctx, settings):
    """(element, kind, category name) for the configured categories, then any other
    family instance carrying a sensor id."""
    DB = rc._db()
    seen = set()
    for names, kind in ((settings.equipment_categories, P.KIND_EQUIPMENT),
                        (settings.sensor_categories, P.KIND_SENSOR)):
        for name in names:
            bic = rc.built_in_category(name)
            if bic is None:
                continue
            collector = DB.FilteredElementCollector(ctx.doc).OfCategory(bic).WhereElementIsNotElementType()
            for element in collector:
                uid = element.UniqueId
                if uid in seen:
                    continue
                seen.add(uid)
                yield element, kind, name
    for element in DB.FilteredElementCollector(ctx.doc).OfClass(DB.FamilyInstance):
        if element.UniqueId in seen:
            continue
        if _lookup_text(ctx.doc, element, P.PARAM_SENSOR_ID):
            seen.add(element.UniqueId)
            yield element, P.KIND_SENSOR, None


def _lookup(doc, element, name):
    """An instance parameter, else the type's parameter of that name."""
    param = element.LookupParameter(name)
    if param is not None:
        return param
    type_id = element.GetTypeId()
    if rc.is_valid_id(type_id):
        element_type = doc.GetElement(type_id)
        if element_type is not None:
            return element_type.LookupParameter(name)
    return None


def _lookup_text(doc, element, name):
    value = rc.parameter_value(_lookup(doc, element, name))
    if value is None:
        return u""
    return rc.text(value).strip()


def _lookup_number(doc, element, name):
    value = rc.parameter_value(_lookup(doc, element, name))
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or math.isinf(number):
        return None
    return number


def element_point(element):
    """The element's point in its own document's coordinates (feet), or None.

    LocationPoint, else the middle of a LocationCurve, else the bounding-box centre.
    """
    location = element.Location
    if location is not None:
        point = getattr(location, "Point", None)
        if point is not None:
            return point
        curve = getattr(location, "Curve", None)
        if curve is not None:
            return curve.Evaluate(0.5, True)
    box = element.get_BoundingBox(None)
    if box is not None:
        return (box.Min + box.Max) * 0.5
    return None


def _element_steps(ctx, settings, host_levels, known_categories, warnings, result):
    """Append the records to ``result``, pausing (yield) every ``STEP_ELEMENTS`` elements."""
    count = 0
    # Collected in one go: a collector's iterator must not outlive the call (the user may edit
    # the model between two steps); an element deleted meanwhile is skipped.
    for element, kind, category_name in list(_collect(ctx, settings)):
        if not element.IsValidObject:
            continue
        record = _element_record(ctx, element, kind, category_name, settings, host_levels,
                                 known_categories, warnings)
        if record is not None:
            result.append(record)
        count += 1
        if count % STEP_ELEMENTS == 0:
            yield None


def _element_record(ctx, element, kind, category_name, settings, host_levels, known_categories, warnings):
    doc = ctx.doc
    sensor = None
    sensor_id = _lookup_text(doc, element, P.PARAM_SENSOR_ID)
    if sensor_id:
        sensor = _sensor_binding(ctx, element, sensor_id, warnings)
        if sensor is None:
            return None
        kind = P.KIND_SENSOR
    elif kind == P.KIND_SENSOR:
        warnings.append(_warning(W_SENSOR_WITHOUT_BINDING, u"Sensor device without '{0}': not exported"
                                 .format(P.PARAM_SENSOR_ID), element, ctx))
        return None

    point = element_point(element)
    if point is None:
        warnings.append(_warning(W_NO_LOCATION, u"{0} has no location: not exported"
                                 .format(_label(kind)), element, ctx))
        return None
    project_point = ctx.to_project(point)

    record = {
        "unique_id": ctx.key(element),
        "element_id": rc.element_id_value(element.Id),
        "kind": kind,
        "category": category_name or rc.category_bic_name(element.Category, known_categories),
        "location": rc.xyz_to_metres(project_point),
        "parameters": _parameters(doc, element, settings),
    }
    family, type_name = _family_and_type(doc, element)
    if family:
        record["family"] = family
    if type_name:
        record["type"] = type_name
    name = rc.text(element.Name)
    if name:
        record["name"] = name
    mark = _param_text(element, "ALL_MODEL_MARK")
    if mark:
        record["mark"] = rc.text(mark)
    level_uid = _level_uid(ctx, element, project_point, host_levels)
    if level_uid:
        record["level"] = level_uid
    space = _space_of(ctx, element, point)
    if space is not None:
        record["space"] = ctx.key(space)
    else:
        warnings.append(_warning(W_NO_SPACE, u"{0} is in no room or space (phase-aware lookup and point "
                                 u"fallbacks)".format(_label(kind)), element, ctx))
    if ctx.link is not None:
        record["parameters"]["link"] = ctx.link_title
    if sensor is not None:
        record["sensor"] = sensor
    record["_ctx"] = ctx
    record["_super"] = _super_component_key(ctx, element)
    return record


def _label(kind):
    return u"Sensor" if kind == P.KIND_SENSOR else u"Equipment"


def _family_and_type(doc, element):
    symbol = getattr(element, "Symbol", None)
    if symbol is not None:
        return rc.text(symbol.FamilyName), rc.text(_param_text(symbol, "SYMBOL_NAME_PARAM") or u"")
    type_id = element.GetTypeId()
    if rc.is_valid_id(type_id):
        element_type = doc.GetElement(type_id)
        if element_type is not None:
            return rc.text(element_type.FamilyName), rc.text(_param_text(element_type, "SYMBOL_NAME_PARAM")
                                                               or u"")
    return u"", u""


def _parameters(doc, element, settings):
    values = {}
    for name in settings.exported_parameters:
        value = rc.parameter_value(_lookup(doc, element, name))
        if value is None or value == u"":
            continue
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            continue
        values[name] = value
    return values


def _level_uid(ctx, element, project_point, host_levels):
    if ctx.link is None:
        level_id = element.LevelId
        if not rc.is_valid_id(level_id):
            DB = rc._db()
            param = element.get_Parameter(DB.BuiltInParameter.FAMILY_LEVEL_PARAM)
            level_id = param.AsElementId() if param is not None and param.HasValue else None
        if rc.is_valid_id(level_id):
            level = ctx.doc.GetElement(level_id)
            if level is not None:
                return level.UniqueId
    # Linked elements (and unhosted ones) get the host level they stand on.
    level = _level_by_elevation(host_levels, project_point.Z)
    return level["unique_id"] if level is not None else None


def _space_of(ctx, element, point):
    """The MEP space (preferred) or room holding the element, in the export phase.

    ``FamilyInstance.Space[phase]``/``Room[phase]`` first (they honour the family's
    room-calculation point), then probes around the element's point.
    """
    phase = ctx.phase
    if phase is not None and hasattr(element, "Symbol"):
        for getter in ("get_Space", "get_Room"):
            try:
                found = getattr(element, getter)(phase)
            except Exception:  # some families refuse the lookup (e.g. nested shared components)
                found = None
            if found is not None:
                return found
    if point is None:
        return None
    DB = rc._db()
    probes = []
    level = ctx.doc.GetElement(element.LevelId) if rc.is_valid_id(element.LevelId) else None
    if level is not None:
        probes.append(DB.XYZ(point.X, point.Y, level.Elevation + LEVEL_PROBE_FT))
    for offset in ROOM_PROBE_OFFSETS_FT:
        probes.append(DB.XYZ(point.X, point.Y, point.Z + offset))
    for probe in probes:
        if phase is not None:
            found = ctx.doc.GetSpaceAtPoint(probe, phase) or ctx.doc.GetRoomAtPoint(probe, phase)
        else:
            found = ctx.doc.GetSpaceAtPoint(probe) or ctx.doc.GetRoomAtPoint(probe)
        if found is not None:
            return found
    return None


def _super_component_key(ctx, element):
    parent = getattr(element, "SuperComponent", None)
    if parent is None:
        return None
    return ctx.key(parent)


def _sensor_binding(ctx, element, sensor_id, warnings):
    doc = ctx.doc
    quantity = _lookup_text(doc, element, P.PARAM_QUANTITY).lower()
    if not QUANTITY_RE.match(quantity):
        warnings.append(_warning(W_SENSOR_BAD_BINDING, u"Sensor '{0}': '{1}' must be a lower-case word "
                                 u"such as temperature, co2, power: not exported"
                                 .format(sensor_id, P.PARAM_QUANTITY), element, ctx))
        return None
    unit = _lookup_text(doc, element, P.PARAM_UNIT) or P.QUANTITY_UNITS.get(quantity, u"")
    if not unit:
        warnings.append(_warning(W_SENSOR_BAD_BINDING, u"Sensor '{0}': no '{1}' for quantity '{2}': not "
                                 u"exported".format(sensor_id, P.PARAM_UNIT, quantity), element, ctx))
        return None
    binding = {"sensor_id": sensor_id, "quantity": quantity, "unit": unit}
    source = _lookup_text(doc, element, P.PARAM_SOURCE)
    if source:
        if not SOURCE_RE.match(source):
            warnings.append(_warning(W_SENSOR_BAD_BINDING, u"Sensor '{0}': '{1}' = '{2}' is not a URI such "
                                     u"as sim:, ingest:, mqtt://broker/topic: not exported"
                                     .format(sensor_id, P.PARAM_SOURCE, source), element, ctx))
            return None
        binding["source"] = source
    host = _lookup_text(doc, element, P.PARAM_HOST)
    if host:
        binding["_host_ref"] = host
    limits = {}
    for key, name in LIMIT_PARAMS:
        value = _lookup_number(doc, element, name)
        if value is not None:
            limits[key] = value
    if limits:
        binding["limits"] = limits
    return binding


def _resolve_hosts(elements, warnings):
    """``IoT Host`` may hold the equipment's UniqueId or its Mark; a sensor nested in an
    equipment family gets that equipment as host when the parameter is empty."""
    by_uid = {}
    by_mark = {}
    for element in elements:
        if element["kind"] != P.KIND_EQUIPMENT:
            continue
        by_uid[element["unique_id"]] = element
        ctx = element["_ctx"]
        by_uid[element["unique_id"][len(ctx.prefix):]] = element
        if element.get("mark"):
            by_mark.setdefault((ctx.prefix, element["mark"]), element)
            by_mark.setdefault(("*", element["mark"]), element)
    for element in elements:
        parent = element.pop("_super", None)
        sensor = element.get("sensor")
        if sensor is None:
            continue
        ref = sensor.pop("_host_ref", None)
        ctx = element["_ctx"]
        target = None
        if ref:
            target = (by_uid.get(ctx.prefix + ref) or by_uid.get(ref) or by_mark.get((ctx.prefix, ref))
                      or by_mark.get(("*", ref)))
            if target is None:
                warnings.append({"code": W_HOST_NOT_FOUND, "element_id": element["element_id"],
                                 "unique_id": element["unique_id"], "link": ctx.link_title,
                                 "message": u"Sensor '{0}': host '{1}' matches no exported equipment "
                                            u"(UniqueId or Mark)".format(sensor["sensor_id"], ref)})
        elif parent is not None:
            target = by_uid.get(parent)
        if target is not None:
            sensor["host"] = target["unique_id"]


def _drop_duplicate_sensors(elements, warnings):
    seen = {}
    keep = []
    for element in elements:
        sensor = element.get("sensor")
        if sensor is not None:
            sid = sensor["sensor_id"]
            if sid in seen:
                warnings.append({"code": W_DUPLICATE_SENSOR, "element_id": element["element_id"],
                                 "unique_id": element["unique_id"], "link": element["_ctx"].link_title,
                                 "message": u"Sensor id '{0}' is also used by element {1}: this one is not "
                                            u"exported".format(sid, seen[sid]["element_id"])})
                continue
            seen[sid] = element
        keep.append(element)
    elements[:] = keep


def split_key(unique_id):
    """(link instance UniqueId or None, element UniqueId) of an exported key."""
    if LINK_SEPARATOR in unique_id:
        link_uid, element_uid = unique_id.split(LINK_SEPARATOR, 1)
        return link_uid, element_uid
    return None, unique_id
