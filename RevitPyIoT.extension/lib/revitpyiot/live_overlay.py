# -*- coding: utf-8 -*-
"""The transient live overlay: health markers on equipment and sensors, heat maps on rooms
and MEP spaces, drawn with Revit's display-only mechanisms. Nothing here changes the
document: no transaction, no undo entry, no element borrowed, no view or template touched.

- Health markers: one status image per element with ``TemporaryGraphicsManager`` (Revit
  2022+: in-canvas images, not undoable, never saved), else coloured AVF markers (an
  Analysis Visualization Framework points primitive; AVF results are not saved either).
- Heat maps: an AVF coloured surface on each room's or space's floor face, with a legend.

AVF needs an ``AnalysisDisplayStyle``, which is an element: ``setup()`` creates the missing
ones in ONE named transaction, once per document (later sessions find them by name). The
result schemas name the style, so the view's own display style is never changed.

docs/extension.md explains the choice per Revit version and view type. Runs on Revit's main
thread; the callers (live sync, replay) cap the work per call.
"""
from __future__ import absolute_import

import os
import struct
import zlib

from revitpyiot import protocol as P
from revitpyiot import revit_compat as rc
from revitpyiot import extract

TXN_SETUP = u"RevitPyIoT: live set-up"
STYLE_MARKERS = u"RevitPyIoT health markers"
STYLE_HEAT = u"RevitPyIoT heat map"
RESULT_HEALTH = u"RevitPyIoT health"
ICON_FOLDER = u"overlay_icons"
ICON_SIZE = 20

BACKEND_TEMPORARY = "temporary graphics"     # Revit 2022+
BACKEND_AVF = "analysis markers"             # Revit 2020-2021 (and wherever the former is missing)

# AVF markers carry a number; the display style maps each number to the status colour.
STATUS_NUMBERS = ((P.STATUS_UNKNOWN, 0.0), (P.STATUS_OK, 1.0), (P.STATUS_WATCH, 2.0), (P.STATUS_WARNING, 3.0),
                  (P.STATUS_CRITICAL, 4.0))
HEAT_QUANTITIES = {
    "temperature": (u"Temperature", u"°C", (16.0, 30.0)),
    "co2": (u"CO2", u"ppm", (400.0, 1500.0)),
    "humidity": (u"Relative humidity", u"%", (20.0, 80.0)),
}
HEAT_COLOURS = ((49, 54, 149), (116, 173, 209), (254, 224, 144), (244, 109, 67), (165, 0, 38))


def refusal_reason(view):
    """Why the overlay cannot draw in this view, or None (schedules, sheets, templates)."""
    if view is None:
        return u"There is no active view."
    if view.IsTemplate or not view.AreGraphicsOverridesAllowed():
        return (u"'{0}' cannot show the live overlay (schedules, sheets, legends and templates): open a "
                u"plan, section, elevation or 3D view.".format(rc.text(view.Name)))
    return None


# -- status images (TemporaryGraphicsManager draws image files) ---------------------------
def _png(width, height, rgba_at):
    rows = []
    for y in range(height):
        row = [b"\x00"]
        for x in range(width):
            row.append(struct.pack("BBBB", *rgba_at(x, y)))
        rows.append(b"".join(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def status_icon(data_dir, rgb):
    """The path of a round marker image in ``rgb`` (written once into the data folder)."""
    folder = os.path.join(data_dir, ICON_FOLDER)
    path = os.path.join(folder, u"marker-{0:02x}{1:02x}{2:02x}.png".format(*[int(c) for c in rgb]))
    if os.path.isfile(path):
        return path
    if not os.path.isdir(folder):
        os.makedirs(folder)
    centre = (ICON_SIZE - 1) / 2.0

    def pixel(x, y):
        distance = ((x - centre) ** 2 + (y - centre) ** 2) ** 0.5
        if distance > centre:
            return (0, 0, 0, 0)
        if distance > centre - 2:
            return (40, 40, 40, 255)          # a dark rim reads on light and dark backgrounds
        return (int(rgb[0]), int(rgb[1]), int(rgb[2]), 255)
    partial = path + u".part"
    with open(partial, "wb") as handle:
        handle.write(_png(ICON_SIZE, ICON_SIZE, pixel))
    if os.path.exists(path):      # another session wrote it meanwhile
        os.remove(partial)
    else:
        os.rename(partial, path)
    return path


# -- display styles (the one-time set-up) -----------------------------------------------------
def _colour_entries(AVF, pairs):
    from System.Collections.Generic import List
    entries = List[AVF.AnalysisDisplayColorEntry]()
    for rgb, value in pairs:
        entries.Add(AVF.AnalysisDisplayColorEntry(rc.make_colour(rgb), value))
    return entries


def _marker_style_settings(AVF, settings):
    markers = AVF.AnalysisDisplayMarkersAndTextSettings()
    markers.MarkerType = AVF.AnalysisDisplayStyleMarkerType.Circle
    markers.MarkerSize = 0.02
    colours = AVF.AnalysisDisplayColorSettings()
    colours.MinColor = rc.make_colour(settings.status_colour(P.STATUS_UNKNOWN))
    colours.MaxColor = rc.make_colour(settings.status_colour(P.STATUS_CRITICAL))
    colours.SetIntermediateColors(_colour_entries(AVF, [(settings.status_colour(s), v)
                                                        for s, v in STATUS_NUMBERS[1:-1]]))
    legend = AVF.AnalysisDisplayLegendSettings()
    legend.ShowLegend = False          # the output window prints the health legend
    return markers, colours, legend


def _heat_style_settings(AVF):
    surface = AVF.AnalysisDisplayColoredSurfaceSettings()
    surface.ShowGridLines = False
    colours = AVF.AnalysisDisplayColorSettings()
    colours.MinColor = rc.make_colour(HEAT_COLOURS[0])
    colours.MaxColor = rc.make_colour(HEAT_COLOURS[-1])
    steps = len(HEAT_COLOURS) - 1
    colours.SetIntermediateColors(_colour_entries(AVF, [(HEAT_COLOURS[i], float(i) / steps)
                                                        for i in range(1, steps)]))
    legend = AVF.AnalysisDisplayLegendSettings()
    legend.ShowLegend = True
    legend.NumberOfSteps = 8
    legend.ShowDataName = True
    legend.ShowUnits = True
    return surface, colours, legend


def find_style(doc, name):
    from Autodesk.Revit.DB import Analysis as AVF
    found = AVF.AnalysisDisplayStyle.FindByName(doc, name)
    return found if rc.is_valid_id(found) else None


def ensure_styles(doc, settings, names):
    """Create the missing display styles among ``names`` in one named transaction. Returns
    {name: style id} and whether a transaction was used."""
    from Autodesk.Revit.DB import Analysis as AVF
    found = dict((name, find_style(doc, name)) for name in names)
    missing = [name for name, style_id in found.items() if style_id is None]
    if not missing:
        return found, False
    with rc.transaction(doc, TXN_SETUP):
        for name in missing:
            if name == STYLE_MARKERS:
                parts = _marker_style_settings(AVF, settings)
            else:
                parts = _heat_style_settings(AVF)
            found[name] = AVF.AnalysisDisplayStyle.CreateAnalysisDisplayStyle(doc, name, *parts).Id
    return found, True


def _field_manager(view):
    from Autodesk.Revit.DB import Analysis as AVF
    manager = AVF.SpatialFieldManager.GetSpatialFieldManager(view)
    if manager is None:
        manager = AVF.SpatialFieldManager.CreateSpatialFieldManager(view, 1)
    return manager


def _register(manager, name, description, style_id):
    from Autodesk.Revit.DB import Analysis as AVF
    for index in manager.GetRegisteredResults():
        if rc.text(manager.GetResultSchema(index).Name) == name:
            return index
    schema = AVF.AnalysisResultSchema(name, description)
    schema.AnalysisDisplayStyleId = style_id
    return manager.RegisterResult(schema)


def _one_value(AVF, value):
    from System.Collections.Generic import List
    values = List[float]()
    values.Add(float(value))
    return AVF.ValueAtPoint(values)


# -- health markers ----------------------------------------------------------------------------
class TemporaryMarkers(object):
    """Revit 2022+: one in-canvas status image per element (``TemporaryGraphicsManager``)."""
    name = BACKEND_TEMPORARY

    def __init__(self, doc, view, settings, data_dir, manager):
        self.doc = doc
        self.view_id = view.Id
        self.settings = settings
        self.data_dir = data_dir
        self.manager = manager
        self.controls = {}       # key -> control index

    def styles(self):
        return []

    def show(self, key, point, status):
        image = status_icon(self.data_dir, self.settings.status_colour(status))
        data = rc.in_canvas_control(image, point)
        index = self.controls.get(key)
        if index is None:
            self.controls[key] = self.manager.AddControl(data, self.view_id)
        else:
            self.manager.UpdateControl(index, data)
        return True

    def remove(self, key):
        index = self.controls.pop(key, None)
        if index is not None:
            self.manager.RemoveControl(index)

    def clear(self, limit=None):
        """Remove up to ``limit`` markers (all by default); returns how many are left."""
        for key in list(self.controls)[:limit]:
            self.remove(key)
        return len(self.controls)


class AnalysisMarkers(object):
    """Before Revit 2022: an AVF points primitive per element, coloured by its status number."""
    name = BACKEND_AVF

    def __init__(self, doc, view, settings, style_ids):
        self.doc = doc
        self.view = view
        self.settings = settings
        self.style_ids = style_ids
        self.manager = None
        self.result = None
        self.primitives = {}     # key -> primitive index

    def styles(self):
        return [STYLE_MARKERS]

    def _ready(self):
        if self.manager is None:
            self.manager = _field_manager(self.view)
            self.result = _register(self.manager, RESULT_HEALTH, u"Health status (RevitPyIoT)",
                                    self.style_ids.get(STYLE_MARKERS) or rc.invalid_element_id())
        return self.manager

    def show(self, key, point, status):
        from Autodesk.Revit.DB import Analysis as AVF
        DB = rc._db()
        manager = self._ready()
        index = self.primitives.get(key)
        if index is None:
            index = self.primitives[key] = manager.AddSpatialFieldPrimitive()
        from System.Collections.Generic import List
        points = List[DB.XYZ]()
        points.Add(point)
        values = List[AVF.ValueAtPoint]()
        values.Add(_one_value(AVF, dict(STATUS_NUMBERS).get(status, 0.0)))
        manager.UpdateSpatialFieldPrimitive(index, AVF.FieldDomainPointsByXYZ(points), AVF.FieldValues(values),
                                            self.result)
        return True

    def remove(self, key):
        index = self.primitives.pop(key, None)
        if index is not None and self.manager is not None:
            self.manager.RemoveSpatialFieldPrimitive(index)

    def clear(self, limit=None):
        for key in list(self.primitives)[:limit]:
            self.remove(key)
        return len(self.primitives)


# -- heat maps ---------------------------------------------------------------------------------
def floor_face(doc, spatial, calculator=None):
    """The downward-facing face of a room's or space's solid, or None."""
    DB = rc._db()
    calculator = calculator or DB.SpatialElementGeometryCalculator(doc)
    if not calculator.CanCalculateGeometry(spatial):
        return None
    solid = calculator.CalculateSpatialElementGeometry(spatial).GetGeometry()
    for face in solid.Faces:
        normal = getattr(face, "FaceNormal", None)
        if normal is not None and normal.Z < -0.99:
            return face
    return None


class HeatMap(object):
    """Rooms and spaces coloured by one quantity on their floor faces (AVF coloured surface)."""

    def __init__(self, doc, view, quantity, style_ids):
        self.doc = doc
        self.view = view
        self.quantity = quantity
        self.style_ids = style_ids
        self.manager = None
        self.result = None
        self.faces = {}          # space key -> (face, primitive index)
        self.values = {}         # space key -> value shown
        self.calculator = None

    def _ready(self):
        if self.manager is None:
            label, unit, _ = HEAT_QUANTITIES[self.quantity]
            self.manager = _field_manager(self.view)
            self.result = _register(self.manager, u"RevitPyIoT " + label, u"{0} ({1}), latest reading of the "
                                    u"room's sensors".format(label, unit),
                                    self.style_ids.get(STYLE_HEAT) or rc.invalid_element_id())
        return self.manager

    def show(self, space_key, value):
        """Colour one room/space; False when it has no floor face here (linked, unbounded)."""
        from Autodesk.Revit.DB import Analysis as AVF
        DB = rc._db()
        entry = self.faces.get(space_key)
        if entry is None:
            spatial = self.doc.GetElement(space_key) if extract.split_key(space_key)[0] is None else None
            if spatial is None:
                return False
            if self.calculator is None:
                self.calculator = DB.SpatialElementGeometryCalculator(self.doc)
            face = floor_face(self.doc, spatial, self.calculator)
            if face is None:
                return False
            entry = self.faces[space_key] = (face, self._ready().AddSpatialFieldPrimitive(face, DB.Transform.Identity))
        face, index = entry
        box = face.GetBoundingBox()
        from System.Collections.Generic import List
        points = List[DB.UV]()
        values = List[AVF.ValueAtPoint]()
        for u in (box.Min.U, (box.Min.U + box.Max.U) / 2.0, box.Max.U):
            for v in (box.Min.V, (box.Min.V + box.Max.V) / 2.0, box.Max.V):
                points.Add(DB.UV(u, v))
                values.Add(_one_value(AVF, value))
        self.manager.UpdateSpatialFieldPrimitive(index, AVF.FieldDomainPointsByUV(points), AVF.FieldValues(values),
                                                 self.result)
        self.values[space_key] = value
        return True

    def clear(self):
        for face, index in self.faces.values():
            self.manager.RemoveSpatialFieldPrimitive(index)
        self.faces.clear()
        self.values.clear()


def heat_legend_html(quantity, values):
    label, unit, (low, high) = HEAT_QUANTITIES[quantity]
    stops = u", ".join(u"rgb({0},{1},{2})".format(*c) for c in HEAT_COLOURS)
    shown = sorted(values.values())
    summary = u"" if not shown else u" - {0} rooms/spaces, {1:.1f} to {2:.1f} {3}".format(
        len(shown), shown[0], shown[-1], unit)
    return (u"<div><b>{0} heat map</b>{1}<div style=\"height:12px;width:240px;background:linear-gradient(to right, "
            u"{2});border:1px solid #444\"></div><span>{3:g} {4}</span><span style=\"margin-left:180px\">{5:g} {4}"
            u"</span></div>".format(label, summary, stops, low, unit, high))


# -- the overlay -------------------------------------------------------------------------------
class LiveOverlay(object):
    """Markers (and optionally a heat map) in one view. ``setup()`` once on a click; then
    ``show_records`` / ``show_heat`` from any main-thread handler, without a transaction."""

    def __init__(self, doc, view, settings, data_dir):
        self.doc = doc
        self.view = view
        self.view_id = view.Id
        self.settings = settings
        self.data_dir = data_dir
        self.style_ids = {}
        manager = rc.temporary_graphics_manager(doc)
        if manager is not None:
            self.markers = TemporaryMarkers(doc, view, settings, data_dir, manager)
        else:
            self.markers = AnalysisMarkers(doc, view, settings, self.style_ids)
        self.heat = None
        self.statuses = {}       # key -> status shown
        self.setup_transactions = 0
        self.missing = set()     # keys not in the model any more
        self.linked = set()      # keys in linked models (marked in their own model)

    @property
    def backend(self):
        return self.markers.name

    def _style_names(self, heat_quantity):
        names = list(self.markers.styles())
        if heat_quantity:
            names.append(STYLE_HEAT)
        return names

    def needs_setup(self, heat_quantity=None):
        """True when a display style is missing (``setup`` would take a transaction)."""
        return any(find_style(self.doc, name) is None for name in self._style_names(heat_quantity))

    def setup(self, heat_quantity=None):
        """The one-time part (may take one named transaction when a display style is missing)."""
        names = self._style_names(heat_quantity)
        if names:
            found, used = ensure_styles(self.doc, self.settings, names)
            self.style_ids.update(found)
            self.setup_transactions += 1 if used else 0
        if heat_quantity:
            self.heat = HeatMap(self.doc, self.view, heat_quantity, self.style_ids)
        return self

    def show_record(self, record):
        """Show one HealthRecord; False when its element is not drawable here."""
        key = record["unique_id"]
        status = record.get("status") or P.STATUS_UNKNOWN
        if self.statuses.get(key) == status:
            return True
        link_uid, element_uid = extract.split_key(key)
        if link_uid is not None:
            self.linked.add(key)
            return False
        element = self.doc.GetElement(element_uid)
        point = extract.element_point(element) if element is not None else None
        if point is None:
            self.missing.add(key)
            return False
        self.markers.show(key, point, status)
        self.statuses[key] = status
        return True

    def show_records(self, records):
        return sum(1 for record in records if self.show_record(record))

    def show_heat(self, values):
        """{space key: value}: colour those rooms/spaces. Returns how many were drawn."""
        if self.heat is None:
            return 0
        return sum(1 for key, value in values.items() if value is not None and self.heat.show(key, value))

    def counts(self):
        result = {}
        for status in self.statuses.values():
            result[status] = result.get(status, 0) + 1
        return result

    def clear(self, limit=None):
        """Remove what the overlay drew: everything, or up to ``limit`` markers (then the heat
        map) per call. Returns how many markers are left to remove."""
        left = self.markers.clear(limit)
        if left == 0:
            if self.heat is not None:
                self.heat.clear()
            self.statuses.clear()
        return left
