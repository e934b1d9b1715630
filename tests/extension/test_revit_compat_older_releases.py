"""revit_compat's fallbacks for releases older than the fake (which is shaped like Revit 2025):
the fake is reshaped, for one test, the way the older release's stubs describe its API (see
VERSION_GATES in test_revit_api_names.py), and each helper must take the older path.
"""
import pytest


@pytest.fixture
def DB(fake_paths):
    from Autodesk.Revit import DB as fake_db
    return fake_db


def test_ids_before_2024_use_integer_value(DB, monkeypatch):
    from revitpyiot import revit_compat as rc

    class ElementId2023:       # Revit 2020-2023: no .Value, only .IntegerValue
        def __init__(self, value):
            self.IntegerValue = value

    assert rc.element_id_value(ElementId2023(42)) == 42
    assert rc.element_id_value(DB.ElementId(42)) == 42           # 2024+: .Value
    assert not rc.is_valid_id(ElementId2023(-1))


def test_category_names_before_2023_come_from_the_id(DB):
    from revitpyiot import revit_compat as rc

    class Category2022:        # no Category.BuiltInCategory before 2023
        Id = DB.ElementId(-2001140)
        Name = "Mechanical Equipment"

    known = {-2001140: "OST_MechanicalEquipment"}
    assert rc.category_bic_name(Category2022(), known) == "OST_MechanicalEquipment"
    assert rc.category_bic_name(Category2022()) == "OST_MechanicalEquipment"   # from the name


def test_categories_a_release_lacks_resolve_to_none(DB, monkeypatch):
    from revitpyiot import revit_compat as rc
    monkeypatch.delattr(DB.BuiltInCategory, "OST_PlumbingEquipment")     # before 2023
    assert rc.built_in_category("OST_PlumbingEquipment") is None
    assert rc.built_in_category("OST_MechanicalEquipment") is not None


def test_shared_parameter_data_types_before_2022_are_parameter_types(DB, monkeypatch):
    from revitpyiot import revit_compat as rc
    assert rc.definition_data_type(True) == DB.SpecTypeId.String.Text          # 2022+
    assert rc.definition_data_type(False) == DB.SpecTypeId.Number

    class ParameterType:       # Revit 2020-2022
        Text = "ParameterType.Text"
        Number = "ParameterType.Number"

    monkeypatch.setattr(DB, "ParameterType", ParameterType, raising=False)
    monkeypatch.delattr(DB.SpecTypeId.String, "Text")                           # Revit 2021
    assert rc.definition_data_type(True) == "ParameterType.Text"
    assert rc.definition_data_type(False) == "ParameterType.Number"
    monkeypatch.delattr(DB, "SpecTypeId")                                       # Revit 2020
    assert rc.definition_data_type(True) == "ParameterType.Text"


def test_string_rules_before_2023_pass_case_sensitive(DB, monkeypatch):
    from revitpyiot import revit_compat as rc
    calls = []

    def create_equals_rule_2022(parameter, value, case_sensitive):   # no (id, str) overload
        calls.append((parameter, value, case_sensitive))
        return "rule"

    assert rc.string_equals_rule(DB.ElementId(7), "alarm") is not None      # the fake: 2023+
    monkeypatch.setattr(DB.ParameterFilterRuleFactory, "CreateEqualsRule", staticmethod(create_equals_rule_2022))
    assert rc.string_equals_rule(DB.ElementId(7), "alarm") == "rule"
    assert calls == [(DB.ElementId(7), "alarm", True)]


def test_units_in_2020_come_from_display_unit_type(DB, monkeypatch):
    from revitpyiot import revit_compat as rc

    class Parameter2020:       # no GetUnitTypeId before 2021
        DisplayUnitType = "DUT_METERS"

    class Parameter2021:
        def GetUnitTypeId(self):
            return DB.UnitTypeId.Meters

    assert rc.parameter_unit(Parameter2020()) == "DUT_METERS"
    assert rc.parameter_unit(Parameter2021()) == DB.UnitTypeId.Meters
