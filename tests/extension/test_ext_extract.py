"""extract.py against the fake building: records, links with transforms, phases, warnings."""
import math

import pytest
from revitpyiot import protocol as P


@pytest.fixture
def building(fake_revit):
    import ext_building
    return ext_building.build(fake_revit)


def _export(fake_revit, building, **overrides):
    from revitpyiot import extract, settings
    s = settings.Settings(overrides)
    return extract.export_building(building.doc, s, active_view=building.plan, revit_version="2025", now=1.7e9)


def test_export_counts_and_schema(fake_revit, building):
    import ext_building

    from shared_schemas import validation
    result = _export(fake_revit, building)
    config = result.config
    assert len(config["elements"]) == ext_building.exported_count(building) >= 1000
    assert result.counts["linked_elements"] == len(building.linked.equipment) + len(building.linked.sensors)
    validation.validate_record("BuildingConfig", config)
    uids = [e["unique_id"] for e in config["elements"]]
    assert len(set(uids)) == len(uids)
    assert config["model"] == {"title": "Bürohaus Nord", "path": "C:\\Projekte\\Bürohaus Nord.rvt",
                               "revit_version": "2025"}
    assert [lv["elevation_m"] for lv in config["levels"]] == [0.0, 3.6576, 7.3152, 10.9728]


def test_element_record_fields_in_metres(fake_revit, building):
    result = _export(fake_revit, building)
    by_uid = {e["unique_id"]: e for e in result.config["elements"]}
    eq = building.equipment[0]
    record = by_uid[eq.UniqueId]
    p = eq.Location.Point
    assert record["location"] == [round(p.X * 0.3048, 4), round(p.Y * 0.3048, 4), round(p.Z * 0.3048, 4)]
    assert record["element_id"] == eq.Id.Value
    assert record["kind"] == "equipment"
    assert record["category"] == "OST_MechanicalEquipment"
    assert record["family"] == "Ventilo-convecteur" and record["type"] == "FCU 600"
    assert record["mark"] == "EQ-001-0"
    assert record["level"] == building.levels[0].UniqueId
    assert record["space"] == building.spaces[0].UniqueId
    assert record["parameters"]["Manufacturer"] == "Kältetechnik GmbH"


def test_sensor_binding_host_by_uid_and_mark(fake_revit, building):
    result = _export(fake_revit, building)
    by_uid = {e["unique_id"]: e for e in result.config["elements"]}
    temp, co2, hum, occ = building.sensors[4:8]
    host_uid = building.equipment[2].UniqueId
    assert by_uid[temp.UniqueId]["sensor"] == {"sensor_id": "T-002", "quantity": "temperature", "unit": "Cel",
                                               "source": "ingest:", "host": host_uid,
                                               "limits": {"low": 16.0, "high": 26.0, "high_critical": 30.0}}
    assert by_uid[co2.UniqueId]["sensor"]["host"] == host_uid          # IoT Host held the Mark
    assert by_uid[hum.UniqueId]["sensor"]["unit"] == "%"               # default unit of the quantity
    assert by_uid[occ.UniqueId]["category"] == "OST_SecurityDevices"
    # Ceiling-mounted above the room's upper limit: found by the level probe.
    assert by_uid[occ.UniqueId]["space"] == building.spaces[1].UniqueId


def test_linked_elements_get_the_link_transform(fake_revit, building):
    import ext_building
    result = _export(fake_revit, building)
    by_uid = {e["unique_id"]: e for e in result.config["elements"]}
    eq = building.linked.equipment[0]
    key = building.link.UniqueId + "/" + eq.UniqueId
    record = by_uid[key]
    p = eq.Location.Point
    a = ext_building.LINK_ROTATION
    ox, oy, oz = ext_building.LINK_OFFSET_FT
    x = math.cos(a) * p.X - math.sin(a) * p.Y + ox
    y = math.sin(a) * p.X + math.cos(a) * p.Y + oy
    assert record["location"] == [round(x * 0.3048, 4), round(y * 0.3048, 4), round((p.Z + oz) * 0.3048, 4)]
    assert record["parameters"]["link"] == "Anbau Ost – Annex"
    assert record["space"] == building.link.UniqueId + "/" + building.linked.spaces[0].UniqueId
    assert record["level"] == building.levels[0].UniqueId     # host level it stands on
    linked_sensor = by_uid[building.link.UniqueId + "/" + building.linked.sensors[0].UniqueId]
    assert linked_sensor["sensor"]["host"] == key


def test_warnings_list_every_problem(fake_revit, building):
    result = _export(fake_revit, building)
    codes = {}
    for w in result.warnings:
        codes.setdefault(w["code"], []).append(w)
    assert [w["element_id"] for w in codes["sensor_without_binding"]] == [building.unbound_device.Id.Value]
    assert [w["element_id"] for w in codes["no_location"]] == [building.unlocated_equipment.Id.Value]
    assert len(codes["link_not_loaded"]) == 1
    assert "Tragwerk" in codes["link_not_loaded"][0]["message"]


def test_bad_bindings_and_duplicates_are_skipped_with_a_warning(fake_revit, building):
    s1, s2 = building.sensors[8], building.sensors[9]
    s1._params[P.PARAM_QUANTITY]._value = "Temperature Celsius"
    s2._params[P.PARAM_SENSOR_ID]._value = building.sensors[10]._params[P.PARAM_SENSOR_ID]._value
    building.sensors[11]._params[P.PARAM_SOURCE]._value = "not a uri"
    building.sensors[12]._params[P.PARAM_HOST]._value = "no such equipment"
    result = _export(fake_revit, building)
    uids = {e["unique_id"] for e in result.config["elements"]}
    assert s1.UniqueId not in uids and building.sensors[11].UniqueId not in uids
    assert (s2.UniqueId in uids) != (building.sensors[10].UniqueId in uids)
    codes = [w["code"] for w in result.warnings]
    assert codes.count("sensor_bad_binding") == 2
    assert codes.count("duplicate_sensor_id") == 1
    assert codes.count("host_not_found") == 1
    assert "host" not in next(e for e in result.config["elements"] if e["unique_id"] == building.sensors[12].UniqueId)["sensor"]


def test_phase_aware_room_lookup(fake_revit, building):
    """A room created in 'New Construction' does not exist in an 'Existing' view."""
    from Autodesk.Revit import DB
    existing = building.doc.Phases.get_Item(0)
    view = DB.ViewPlan(building.doc, "Bestand", level=building.levels[0], phase=existing)
    from revitpyiot import extract, settings
    result = extract.export_building(building.doc, settings.Settings({"include_links": False}), active_view=view)
    by_uid = {e["unique_id"]: e for e in result.config["elements"]}
    assert "space" not in by_uid[building.equipment[0].UniqueId]
    assert any(w["code"] == "no_space" for w in result.warnings)


def test_links_can_be_left_out(fake_revit, building):
    result = _export(fake_revit, building, include_links=False)
    assert result.counts["linked_elements"] == 0
    assert all("/" not in e["unique_id"] for e in result.config["elements"])


@pytest.mark.parametrize("version", [2023, 2026])
def test_element_ids_before_2024_and_from_2026(fake_revit, building, version):
    """2026 has no IntegerValue, 2023 no Value: both read the same integers."""
    from Autodesk.Revit import DB
    DB._STATE["version"] = version
    result = _export(fake_revit, building, include_links=False)
    ids = {e["element_id"] for e in result.config["elements"]}
    assert building.equipment[0].Id._value in ids


def test_export_reads_the_model_on_the_main_thread_only(fake_revit, building):
    import threading

    from Autodesk.Revit.Exceptions import InvalidOperationException
    errors = []

    def worker():
        try:
            _export(fake_revit, building)
        except InvalidOperationException as error:
            errors.append(error)
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert errors, "the fake must refuse API calls off the main thread"


def test_room_and_space_outlines_in_metres_with_holes_and_link_transform(fake_revit, building):
    from Autodesk.Revit.DB import XYZ

    from shared_schemas import validation
    room = building.rooms[0]
    lo, hi = room._min, room._max
    shaft = (XYZ(lo.X + 2.0, lo.Y + 2.0, lo.Z), XYZ(lo.X + 4.0, lo.Y + 5.0, lo.Z))
    room._holes.append(shaft)

    def refuse(options):
        raise RuntimeError("the boundary cannot be computed")

    broken = building.rooms[1]
    broken.GetBoundarySegments = refuse  # Revit refuses for this one: no outline, export goes on
    result = _export(fake_revit, building)
    validation.validate_record("BuildingConfig", result.config)
    by_uid = {s["unique_id"]: s for s in result.config["spaces"]}

    def m(feet):
        return round(feet * 0.3048, 4)

    outer, hole = by_uid[room.UniqueId]["outline"]
    assert outer == [[m(lo.X), m(lo.Y)], [m(hi.X), m(lo.Y)], [m(hi.X), m(hi.Y)], [m(lo.X), m(hi.Y)]]
    assert hole == [[m(shaft[0].X), m(shaft[0].Y)], [m(shaft[1].X), m(shaft[0].Y)],
                    [m(shaft[1].X), m(shaft[1].Y)], [m(shaft[0].X), m(shaft[1].Y)]]
    assert "outline" not in by_uid[broken.UniqueId]
    space = by_uid[building.spaces[0].UniqueId]
    assert len(space["outline"]) == 1 and len(space["outline"][0]) == 4

    # a linked room's outline is in host project coordinates, like its elements' locations
    linked = building.linked.rooms[0]
    record = by_uid[building.link.UniqueId + "/" + linked.UniqueId]
    corner = building.link.GetTotalTransform().OfPoint(linked._min)
    assert record["outline"][0][0] == [m(corner.X), m(corner.Y)]
