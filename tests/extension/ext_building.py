"""A fake office building for the extension tests: a host model and a linked annex, 1,000+
exportable elements, non-ASCII names, and every awkward case the extension must handle."""
import math

from revitpyiot import protocol as P

FLOOR_HEIGHT_FT = 12.0
ROOM_FT = 20.0
COLS, ROWS = 6, 5
ROOM_NAMES = ["Büro", "Salle de réunion", "会议室", "Küche", "Open space"]
LINK_OFFSET_FT = (400.0, 50.0, 0.0)
LINK_ROTATION = math.pi / 2


class Building:
    pass


def _sensor(DB, doc, symbol, point, level, sensor_id, quantity, unit=None, limits=None, host=None,
            source="ingest:"):
    element = DB.FamilyInstance(doc, symbol, point, level)
    element._set_param(P.PARAM_SENSOR_ID, DB.StorageType.String, sensor_id)
    element._set_param(P.PARAM_QUANTITY, DB.StorageType.String, quantity)
    element._set_param(P.PARAM_UNIT, DB.StorageType.String, unit)
    element._set_param(P.PARAM_SOURCE, DB.StorageType.String, source)
    if host is not None:
        element._set_param(P.PARAM_HOST, DB.StorageType.String, host)
    for key, name in (("low", P.PARAM_LIMIT_LOW), ("high", P.PARAM_LIMIT_HIGH),
                      ("low_critical", P.PARAM_LIMIT_LOW_CRITICAL), ("high_critical", P.PARAM_LIMIT_HIGH_CRITICAL)):
        value = (limits or {}).get(key)
        element._set_param(name, DB.StorageType.Double, value)
    return element


def _floor(DB, doc, prefix, level_index, level, phase, fcu, ahu, temp, co2, hum, occ, equipment_per_room,
           building, link=False):
    from Autodesk.Revit.DB.Architecture import Room
    from Autodesk.Revit.DB.Mechanical import Space
    z0 = level.Elevation
    for col in range(COLS):
        for row in range(ROWS):
            number = f"{prefix}{level_index}{col * ROWS + row + 1:02d}"
            name = f"{ROOM_NAMES[(col + row) % len(ROOM_NAMES)]} {number}"
            lo = DB.XYZ(col * ROOM_FT, row * ROOM_FT, z0)
            hi = DB.XYZ((col + 1) * ROOM_FT, (row + 1) * ROOM_FT, z0 + 10.0)  # 10 ft ceiling: rooms stop below the slab
            room = Room(doc, name, number, level, lo, hi, phase)
            space = Space(doc, name, number, level, lo, hi, phase)
            building.rooms.append(room)
            building.spaces.append(space)
            centre = (lo + hi) * 0.5
            hosts = []
            for k in range(equipment_per_room):
                symbol = fcu if k == 0 else ahu
                eq = DB.FamilyInstance(doc, symbol, DB.XYZ(centre.X + 2 * k, centre.Y, z0 + 8.0), level)
                eq._bip[int(DB.BuiltInParameter.ALL_MODEL_MARK)]._value = f"EQ-{number}-{k}"
                eq._set_param("Manufacturer", DB.StorageType.String, "Kältetechnik GmbH")
                eq._set_param("Serial Number", DB.StorageType.String, f"SN-{number}-{k}")
                hosts.append(eq)
                building.equipment.append(eq)
            pt = DB.XYZ(centre.X - 5, centre.Y - 5, z0 + 5.0)
            base = ("L-" if link else "") + number
            building.sensors.append(_sensor(DB, doc, temp, pt, level, "T-" + base, "temperature", "Cel",
                                            {"low": 16.0, "high": 26.0, "high_critical": 30.0},
                                            host=hosts[0].UniqueId))
            building.sensors.append(_sensor(DB, doc, co2, pt + DB.XYZ(1, 0, 0), level, "CO2-" + base, "co2",
                                            "ppm", {"high": 1000.0, "high_critical": 1500.0},
                                            host=f"EQ-{number}-0"))
            building.sensors.append(_sensor(DB, doc, hum, pt + DB.XYZ(2, 0, 0), level, "RH-" + base,
                                            "humidity", None))
            # Ceiling mounted: just above the room's upper boundary (the point fallback finds it).
            building.sensors.append(_sensor(DB, doc, occ, DB.XYZ(centre.X, centre.Y, z0 + 10.5),
                                            level, "OCC-" + base, "occupancy", None))


def build(host, floors=4, link_floors=2, equipment_per_room=2):
    """The host document (opened, active view = level-1 plan) plus a loaded linked annex."""
    from Autodesk.Revit import DB
    b = Building()
    b.rooms, b.spaces, b.equipment, b.sensors = [], [], [], []
    doc = host.new_document("Bürohaus Nord", workshared=True, path_name="C:\\Projekte\\Bürohaus Nord.rvt")
    phase = doc.Phases.get_Item(1)
    b.levels = [DB.Level(doc, f"Ebene {i}", i * FLOOR_HEIGHT_FT) for i in range(floors)]

    def symbols(d):
        cat = d._category
        fam = lambda name: DB.Family(d, name)
        return (
            DB.FamilySymbol(d, fam("Ventilo-convecteur"), "FCU 600",
                            cat(DB.BuiltInCategory.OST_MechanicalEquipment, "Mechanical Equipment")),
            DB.FamilySymbol(d, fam("Kältemaschine"), "KM 120 kW",
                            cat(DB.BuiltInCategory.OST_MechanicalEquipment, "Mechanical Equipment")),
            DB.FamilySymbol(d, fam("Raumfühler"), "Temperatur",
                            cat(DB.BuiltInCategory.OST_MechanicalControlDevices, "Mechanical Control Devices")),
            DB.FamilySymbol(d, fam("CO₂ sensor"), "NDIR",
                            cat(DB.BuiltInCategory.OST_DataDevices, "Data Devices")),
            DB.FamilySymbol(d, fam("Raumfühler"), "Feuchte",
                            cat(DB.BuiltInCategory.OST_MechanicalControlDevices, "Mechanical Control Devices")),
            DB.FamilySymbol(d, fam("Präsenzmelder"), "PIR",
                            cat(DB.BuiltInCategory.OST_SecurityDevices, "Security Devices")),
        )

    fcu, ahu, temp, co2, hum, occ = symbols(doc)
    b.symbols = (fcu, ahu, temp, co2, hum, occ)
    for i, level in enumerate(b.levels):
        _floor(DB, doc, "", i, level, phase, fcu, ahu, temp, co2, hum, occ, equipment_per_room, b)
    b.host_element_count = len(b.equipment) + len(b.sensors)
    # Workshared: the user opened the model with the MEP workset editable, so they own its
    # elements (tags are written only to elements the user owns: nothing is borrowed).
    for element in b.equipment + b.sensors:
        element._owner = doc.Application.Username

    # Awkward cases ------------------------------------------------------------------
    lvl = b.levels[0]
    b.unbound_device = DB.FamilyInstance(doc, co2, DB.XYZ(5, 5, 5), lvl)              # sensor without binding
    b.unlocated_equipment = DB.FamilyInstance(doc, fcu, None, lvl)                     # equipment without location
    b.grouped = b.equipment[2]
    b.grouped.GroupId = DB.ElementId(999999)                                           # in a group
    b.owned = b.equipment[4]
    b.owned._owner = "kollegin.müller"                                                # workshared: borrowed
    b.not_owned = b.equipment[12]
    b.not_owned._owner = None                       # workshared: nobody's (tagging it would borrow it)
    b.read_only = b.equipment[6]
    b.read_only._set_param(P.PARAM_HEALTH_SCORE, DB.StorageType.Double, None, read_only=True)
    b.unicode_sensor = b.sensors[0]
    b.unicode_sensor._params[P.PARAM_SENSOR_ID]._value = "Raumfühler-Ü1"

    # Linked annex: its own coordinates, placed with a rotation and an offset ----------
    link_doc = host.new_document("Anbau Ost – Annex", linked=True)
    link_phase = link_doc.Phases.get_Item(1)
    link_levels = [DB.Level(link_doc, f"Niveau {i}", i * FLOOR_HEIGHT_FT) for i in range(link_floors)]
    l_fcu, l_ahu, l_temp, l_co2, l_hum, l_occ = symbols(link_doc)
    lb = Building()
    lb.rooms, lb.spaces, lb.equipment, lb.sensors = [], [], [], []
    for i, level in enumerate(link_levels):
        _floor(DB, link_doc, "A", i, level, link_phase, l_fcu, l_ahu, l_temp, l_co2, l_hum, l_occ, 1, lb,
               link=True)
    transform = DB.Transform.CreateTranslation(DB.XYZ(*LINK_OFFSET_FT)).Multiply(
        DB.Transform.CreateRotation(DB.XYZ.BasisZ, LINK_ROTATION))
    b.link = DB.RevitLinkInstance(doc, link_doc, transform)
    b.link_doc = link_doc
    b.linked = lb
    unloaded_doc = host.new_document("Tragwerk (entladen)", linked=True)
    b.unloaded_link = DB.RevitLinkInstance(doc, unloaded_doc, DB.Transform.Identity, loaded=False)

    # Views ------------------------------------------------------------------------------
    b.plan = DB.ViewPlan(doc, "Ebene 1 – Grundriss", level=b.levels[min(1, floors - 1)], phase=phase)
    b.view3d = DB.View3D(doc, "{3D}", phase=phase)
    b.section = DB.ViewSection(doc, "Schnitt A", phase=phase)
    b.template = DB.ViewPlan(doc, "TGA Vorlage", level=None, phase=phase)
    b.template.IsTemplate = True
    b.templated_plan = DB.ViewPlan(doc, "Ebene 2 – TGA", level=b.levels[min(2, floors - 1)], phase=phase)
    b.templated_plan.ViewTemplateId = b.template.Id
    b.schedule = DB.ViewSchedule(doc, "Geräteliste", phase=phase)
    b.doc = doc
    host.open(doc, b.plan)
    return b


def exported_count(b):
    """Elements Export Sensors should send: everything but the two awkward skipped ones."""
    return b.host_element_count + len(b.linked.equipment) + len(b.linked.sensors)
