# -*- coding: utf-8 -*-
"""Small version gates over the Revit API, so the rest of the extension reads the same
on every release it claims (Revit 2020 to 2026).

Where the API changed between releases, the newer API is tried first and the older one is
the fallback; each gate is listed, with the releases that have each name, in
``tests/extension/test_revit_api_names.py`` (``VERSION_GATES``), which checks it against the
Revit API stubs of every release.

Every function here imports the Revit API lazily: importing this module never needs Revit.
"""
from __future__ import absolute_import

import time

# Revit's internal length unit is the decimal foot in every release; the international
# foot is exactly 0.3048 m, so no unit-API round trip is needed for lengths.
FEET_TO_METRES = 0.3048
# How many decimals of a metre to keep: 0.1 mm is far below any sensor's position accuracy.
LOCATION_DECIMALS = 4


def _db():
    from Autodesk.Revit import DB
    return DB


def element_id_value(element_id):
    """The integer value of an ElementId.

    ``ElementId.Value`` (64-bit) exists from Revit 2024; ``IntegerValue`` was deprecated
    then and removed in 2026, so it is only the fallback for older releases.
    """
    if element_id is None:
        return None
    try:
        return int(element_id.Value)
    except AttributeError:
        return int(element_id.IntegerValue)


def make_element_id(value):
    """An ElementId from an integer (64-bit constructor on 2024+, 32-bit before)."""
    DB = _db()
    try:
        import System
        return DB.ElementId(System.Int64(int(value)))
    except (ImportError, AttributeError, TypeError):
        return DB.ElementId(int(value))


def invalid_element_id():
    return _db().ElementId.InvalidElementId


def is_valid_id(element_id):
    """False for None and for ``ElementId.InvalidElementId`` (value -1)."""
    if element_id is None:
        return False
    return element_id_value(element_id) != -1


def enum_none(enum_type):
    """``Enum.None``: a syntax error in IronPython 3 and Python 3, so always look it up."""
    return getattr(enum_type, "None")


def feet_to_metres(value):
    return float(value) * FEET_TO_METRES


def xyz_to_metres(point):
    """[x, y, z] in metres from an XYZ in internal units (feet)."""
    return [round(feet_to_metres(point.X), LOCATION_DECIMALS),
            round(feet_to_metres(point.Y), LOCATION_DECIMALS),
            round(feet_to_metres(point.Z), LOCATION_DECIMALS)]


def built_in_category(name):
    """The BuiltInCategory member called ``name`` or None when this Revit lacks it."""
    return getattr(_db().BuiltInCategory, name, None)


def category_of(doc, bic_name):
    """The document's Category for a BuiltInCategory name, or None."""
    DB = _db()
    bic = built_in_category(bic_name)
    if bic is None:
        return None
    try:
        return DB.Category.GetCategory(doc, bic)
    except Exception:  # categories absent from this document's template
        return None


def category_bic_name(category, known=None):
    """The BuiltInCategory name (``OST_...``) of a Category.

    ``Category.BuiltInCategory`` exists from Revit 2023; before that the id value is
    matched against the names the caller knows (``known``: {int value: name}).
    """
    if category is None:
        return None
    try:
        bic = category.BuiltInCategory
        name = str(bic)
        if name.startswith("OST_"):
            return name
    except AttributeError:
        pass
    value = element_id_value(category.Id)
    if known and value in known:
        return known[value]
    return "OST_" + str(category.Name).replace(" ", "")


def find_solid_fill_pattern_id(doc):
    """The id of the solid drafting fill pattern, found by ``IsSolidFill`` (its name is
    localized, so never look it up by name)."""
    DB = _db()
    collector = DB.FilteredElementCollector(doc).OfClass(DB.FillPatternElement)
    for pattern_element in collector:
        pattern = pattern_element.GetFillPattern()
        if pattern is not None and pattern.IsSolidFill:
            return pattern_element.Id
    return None


def make_colour(rgb):
    DB = _db()
    return DB.Color(int(rgb[0]), int(rgb[1]), int(rgb[2]))


def id_list(element_ids):
    """A .NET ``List[ElementId]`` for APIs that take ICollection<ElementId>."""
    DB = _db()
    from System.Collections.Generic import List
    result = List[DB.ElementId]()
    for element_id in element_ids:
        result.Add(element_id)
    return result


def parameter_unit(param):
    """The unit a parameter displays its value in, for ``UnitUtils.ConvertFromInternalUnits``:
    a ForgeTypeId from ``GetUnitTypeId`` (Revit 2021+), else the ``DisplayUnitType`` enum
    (Revit 2020 and 2021 only; removed in 2022)."""
    try:
        get_unit_type_id = param.GetUnitTypeId
    except AttributeError:
        return param.DisplayUnitType
    return get_unit_type_id()


def definition_data_type(is_text):
    """The data type of a new shared-parameter definition (text or number), as the
    ``ExternalDefinitionCreationOptions`` constructor of this release takes it.

    ``SpecTypeId.String.Text`` and the ForgeTypeId constructor exist from Revit 2022;
    ``ParameterType`` (the only constructor argument before) was removed in 2023.
    """
    DB = _db()
    string_specs = getattr(getattr(DB, "SpecTypeId", None), "String", None)
    if string_specs is not None and hasattr(string_specs, "Text"):
        return DB.SpecTypeId.String.Text if is_text else DB.SpecTypeId.Number
    return DB.ParameterType.Text if is_text else DB.ParameterType.Number


def string_equals_rule(param_id, value):
    """A case-sensitive "equals" filter rule on a text parameter.

    ``CreateEqualsRule(id, str)`` exists from Revit 2023 and is the only string overload in
    2026; before 2023 the only one is ``CreateEqualsRule(id, str, caseSensitive)``.
    """
    DB = _db()
    try:
        return DB.ParameterFilterRuleFactory.CreateEqualsRule(param_id, value)
    except TypeError:   # IronPython: no overload takes two arguments on this release
        return DB.ParameterFilterRuleFactory.CreateEqualsRule(param_id, value, True)


def parameter_value(param):
    """A Revit parameter's value as str/int/float/bool for the wire, or None when empty.

    Doubles are converted from internal units to the parameter's display unit.
    """
    if param is None or not param.HasValue:
        return None
    DB = _db()
    storage = param.StorageType
    if storage == DB.StorageType.String:
        return param.AsString()
    if storage == DB.StorageType.Integer:
        return int(param.AsInteger())
    if storage == DB.StorageType.Double:
        value = param.AsDouble()
        try:
            value = DB.UnitUtils.ConvertFromInternalUnits(value, parameter_unit(param))
        except Exception:  # unitless numbers have no unit type id
            pass
        return float(value)
    if storage == DB.StorageType.ElementId:
        return param.AsValueString()
    return None


def text(value):
    """A display string for any .NET or Python value (unicode-safe on IronPython 2)."""
    if value is None:
        return u""
    try:
        return u"" + value
    except TypeError:
        return u"{0}".format(value)


class transaction(object):
    """``with transaction(doc, name):`` starts a Transaction unless one is already open.

    Rolls back on an exception and re-raises it. ``started`` tells whether this block
    owns the transaction (callers that count transactions use it).
    """

    def __init__(self, doc, name):
        self.doc = doc
        self.name = name
        self.txn = None
        self.started = False

    def __enter__(self):
        if self.doc.IsModifiable:
            return self
        self.txn = _db().Transaction(self.doc, self.name)
        self.txn.Start()
        self.started = True
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.started:
            return False
        if exc_type is None:
            self.txn.Commit()
        else:
            self.txn.RollBack()
        return False


def utc_text(ts):
    """A timestamp as 'YYYY-MM-DD HH:MM:SS UTC' (what users read in tags)."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(float(ts)))


def temporary_graphics_manager(doc):
    """The document's ``TemporaryGraphicsManager`` (Revit 2022+), or None on older releases,
    where the live overlay draws AVF markers instead."""
    manager_class = getattr(_db(), "TemporaryGraphicsManager", None)
    if manager_class is None:
        return None
    return manager_class.GetTemporaryGraphicsManager(doc)


def in_canvas_control(image_path, point):
    """An in-canvas image at ``point`` for ``TemporaryGraphicsManager`` (Revit 2022+ only)."""
    return _db().InCanvasControlData(image_path, point)
