"""Unit tests of revit_compat, settings, overlay and tags against the fake Revit API."""
import pathlib

import pytest
from revitpyiot import protocol as P


@pytest.fixture
def building(fake_revit):
    import ext_building
    return ext_building.build(fake_revit, floors=2, link_floors=1)


def _settings(**values):
    from revitpyiot import settings
    return settings.Settings(values)


def test_solid_fill_is_found_by_is_solid_fill_not_by_its_localized_name(fake_revit, building):
    from revitpyiot import revit_compat as rc
    solid_id = rc.find_solid_fill_pattern_id(building.doc)
    element = building.doc.GetElement(solid_id)
    assert element.GetFillPattern().IsSolidFill and element.Name == "<Volltonfüllung>"


def test_enum_none_and_element_ids(fake_revit):
    from Autodesk.Revit import DB
    from revitpyiot import revit_compat as rc
    assert rc.enum_none(DB.StorageType) == 0 and str(rc.enum_none(DB.StorageType)) == "None"
    assert rc.element_id_value(rc.make_element_id(123456789012)) == 123456789012
    assert not rc.is_valid_id(DB.ElementId.InvalidElementId) and not rc.is_valid_id(None)
    assert rc.feet_to_metres(10) == pytest.approx(3.048)


def test_transaction_helper_commits_rolls_back_and_nests(fake_revit, building):
    from Autodesk.Revit import DB
    from revitpyiot import revit_compat as rc
    doc, element = building.doc, building.equipment[0]
    param = element._set_param("Comments", DB.StorageType.String, "")
    with rc.transaction(doc, "outer") as outer:
        param.Set("eins")
        with rc.transaction(doc, "inner") as inner:     # joins the open transaction
            param.Set("zwei")
        assert outer.started and not inner.started
    assert doc._committed[-1] == "outer" and param.AsString() == "zwei"
    with pytest.raises(ValueError), rc.transaction(doc, "failing"):
        param.Set("drei")
        raise ValueError("boom")
    assert param.AsString() == "zwei" and doc._rolled_back[-1] == "failing"


def test_the_fake_refuses_changes_outside_a_transaction_and_on_read_only(fake_revit, building):
    from Autodesk.Revit import DB
    from Autodesk.Revit.Exceptions import InvalidOperationException, ModificationOutsideTransactionException
    element = building.equipment[0]
    param = element._set_param("Comments", DB.StorageType.String, "")
    with pytest.raises(ModificationOutsideTransactionException):
        param.Set("x")
    with pytest.raises(ModificationOutsideTransactionException):
        building.plan.SetElementOverrides(element.Id, DB.OverrideGraphicSettings())
    t = DB.Transaction(building.doc, "t")
    t.Start()
    ro = element._set_param("Area", DB.StorageType.Double, 1.0, read_only=True)
    with pytest.raises(InvalidOperationException):
        ro.Set(2.0)
    with pytest.raises(InvalidOperationException):   # a view with a template refuses element overrides
        building.templated_plan.SetElementOverrides(element.Id, DB.OverrideGraphicSettings())
    t.RollBack()


def test_settings_coerce_text_from_the_config_and_fall_back_to_defaults():
    from revitpyiot import settings
    s = settings.Settings({"timeout_s": "2.5", "live_write_tags": "false", "equipment_categories":
                           "OST_MechanicalEquipment, OST_ElectricalEquipment", "colour_scheme":
                           '{"critical": [255, 0, 0]}', "template_mode": "nonsense", "unknown": 1,
                           "live_batch_items": "many"})
    assert s.timeout_s == 2.5 and s.live_write_tags is False
    assert s.equipment_categories == ["OST_MechanicalEquipment", "OST_ElectricalEquipment"]
    assert s.status_colour("critical") == (255, 0, 0) and s.status_colour("ok") == (46, 160, 67)
    # The default never touches view templates (issue 14); "filters" is an explicit opt-in.
    assert s.template_mode == "message" and s.live_batch_items == 500
    assert settings.Settings().template_mode == "message" and settings.Settings().live_write_tags is False
    assert settings.Settings().tag_interval_min == 15.0
    with pytest.raises(KeyError):
        s.set("nope", 1)


def test_settings_button_saves_in_pyrevit_config(fake_revit, building):
    from pyrevit import script
    fake_revit.answer(lambda labels: next(l for l in labels if l.startswith("Dashboard URL")),
                      "http://127.0.0.1:9999/")
    out = fake_revit.run_button("Settings")
    assert "Saved dashboard_url" in out.text()
    assert script._STATE["saved"]["RevitPyIoT"]["dashboard_url"] == "http://127.0.0.1:9999/"
    fake_revit.run_button("Open Dashboard")
    assert script._STATE["urls"] == ["http://127.0.0.1:9999/"]


def _records(keys, status):
    return [{"unique_id": k, "element_id": 0, "health_score": 10.0, "status": status, "failure_probability": 0.4,
             "ttf_hours": 12.0, "drivers": [], "updated_ts": 1.7e9} for k in keys]


def test_overlay_template_message_mode_and_refusals(fake_revit, building):
    from revitpyiot import overlay
    records = _records([building.equipment[0].UniqueId], "critical")
    result = overlay.colour_view(building.doc, building.templated_plan, records, _settings(template_mode="message"))
    assert result.mode == overlay.MODE_REFUSED and "TGA Vorlage" in result.message
    result = overlay.colour_view(building.doc, building.templated_plan, records, _settings())
    assert result.mode == overlay.MODE_REFUSED and "TGA Vorlage" in result.message        # the default
    result = overlay.colour_view(building.doc, building.templated_plan, records, _settings(template_mode="filters"))
    assert result.mode == overlay.MODE_REFUSED and "Write Health Tags" in result.message   # no parameter yet
    result = overlay.colour_view(building.doc, building.template, records, _settings())
    assert result.mode == overlay.MODE_REFUSED and "view template" in result.message
    assert not building.doc._committed


def test_overlay_colours_sets_solid_fill_and_lists_linked_and_missing(fake_revit, building):
    from revitpyiot import overlay
    keys = [building.equipment[0].UniqueId, building.link.UniqueId + "/" + building.linked.equipment[0].UniqueId,
            "deadbeef-0000"]
    result = overlay.colour_view(building.doc, building.view3d, _records(keys, "warning"), _settings())
    assert result.coloured == {"warning": [building.equipment[0].Id.Value]}
    assert result.linked == [keys[1]] and result.missing == [keys[2]]
    assert building.doc._committed == [overlay.TXN_COLOUR]
    ogs = building.view3d.GetElementOverrides(building.equipment[0].Id)
    assert (ogs.SurfaceForegroundPatternColor.Red, ogs.CutForegroundPatternColor.Green) == (242, 142)
    html = overlay.legend_html(_settings(), {"warning": 1})
    assert "rgb(242,142,43)" in html and "(1)" in html


def test_tags_create_bind_and_write_then_reuse_the_shared_parameter_file(fake_revit, building, tmp_path):
    from revitpyiot import tags
    doc = building.doc
    categories = ["OST_MechanicalEquipment", "OST_MechanicalControlDevices"]
    doc.Application.SharedParametersFilename = "C:\\users\\own.txt"
    result = tags.ensure_parameters(doc, categories, str(tmp_path))
    assert result.created == [name for name, _ in tags.HEALTH_PARAMETERS]
    assert doc.Application.SharedParametersFilename == "C:\\users\\own.txt"       # the user's file is restored
    content = pathlib.Path(tags.shared_parameter_file_path(str(tmp_path))).read_text(encoding="utf-8")
    assert "PARAM\t" in content and P.PARAM_HEALTH_STATUS in content
    again = tags.ensure_parameters(doc, categories + ["OST_DataDevices"], str(tmp_path))
    assert again.created == [] and len(again.bound) == len(tags.HEALTH_PARAMETERS)
    eq, sensor = building.equipment[1], building.sensors[1]
    alerts = [{"alert_id": "a1", "unique_id": eq.UniqueId, "severity": "warning", "state": "active",
               "message": "Vibration 7,1 mm/s über Grenzwert", "raised_ts": 1.7e9, "updated_ts": 1.7e9,
               "sensor_id": "VIB-1"}]
    written = tags.write_tags(doc, _records([eq.UniqueId, sensor.UniqueId], "warning"), alerts)
    assert sorted(written.written) == sorted([eq.Id.Value, sensor.Id.Value])
    assert eq.LookupParameter(P.PARAM_FAILURE_PROBABILITY).AsDouble() == 0.4
    assert eq.LookupParameter(P.PARAM_TTF_HOURS).AsDouble() == 12.0
    assert "über Grenzwert" in eq.LookupParameter(P.PARAM_LAST_ALERT).AsString()
    assert eq.LookupParameter(P.PARAM_UPDATED).AsString().endswith("UTC")
    assert doc._committed[-1] == tags.TXN_WRITE


def test_tags_skip_and_list_instead_of_failing_the_batch(fake_revit, building, tmp_path):
    from revitpyiot import tags
    doc = building.doc
    tags.ensure_parameters(doc, ["OST_MechanicalEquipment"], str(tmp_path))
    building.equipment[3]._updated_in_central = True
    keys = [building.grouped.UniqueId, building.owned.UniqueId, building.read_only.UniqueId,
            building.equipment[3].UniqueId, building.sensors[3].UniqueId,   # sensor category not bound
            building.equipment[5].UniqueId]
    result = tags.write_tags(doc, _records(keys, "critical"))
    reasons = {key: reason for key, _, reason in result.skipped}
    assert "group" in reasons[keys[0]] and "kollegin.müller" in reasons[keys[1]]
    assert "read-only" in reasons[keys[2]] and "central" in reasons[keys[3]] and "not bound" in reasons[keys[4]]
    assert result.written == [building.equipment[5].Id.Value]
    assert not doc._rolled_back     # the borrowed element was never touched, so the commit succeeded
    assert building.read_only.LookupParameter(P.PARAM_HEALTH_STATUS)._value is None   # never half-tagged
