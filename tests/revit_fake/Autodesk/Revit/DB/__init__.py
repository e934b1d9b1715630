# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake Autodesk.Revit.DB: the subset RevitPyIoT uses, behaving like Revit where it matters.

Internal unit: the foot. Every API entry point checks it runs on Revit's main thread
(``_STATE["main_thread"]``, set by the test host); modifications need an open Transaction.
Names and signatures mirror the real API; helpers that are not Revit API start with ``_``.
"""
import math
import threading
import uuid

from Autodesk.Revit.Exceptions import (
    ArgumentException,
    InvalidOperationException,
    ModificationOutsideTransactionException,
)

_STATE = {"main_thread": None, "version": 2025}


def _api():
    main = _STATE["main_thread"]
    if main is not None and threading.current_thread() is not main:
        raise InvalidOperationException("Revit API used outside Revit's main thread (API context)")


# ----------------------------------------------------------------------------- enums
class _EnumMember(int):
    def __new__(cls, enum_name, name, value):
        member = int.__new__(cls, value)
        member._enum_name = enum_name
        member._name = name
        return member

    def __str__(self):
        return self._name

    def __repr__(self):
        return f"{self._enum_name}.{self._name}"

    def ToString(self):
        return self._name

    def __hash__(self):
        return int.__hash__(self)

    def __eq__(self, other):
        if isinstance(other, _EnumMember) and other._enum_name != self._enum_name:
            return False
        return int.__eq__(self, other)

    def __ne__(self, other):
        return not self.__eq__(other)


def _enum(name, members):
    cls = type(name, (object,), {})
    for member_name, value in members.items():
        setattr(cls, member_name, _EnumMember(name, member_name, value))
    return cls


BuiltInCategory = _enum("BuiltInCategory", {
    "INVALID": -1,
    "OST_MechanicalEquipment": -2001140, "OST_ElectricalEquipment": -2001040,
    "OST_PlumbingFixtures": -2001160, "OST_PlumbingEquipment": -2008234,
    "OST_SpecialityEquipment": -2001350, "OST_DataDevices": -2008083,
    "OST_MechanicalControlDevices": -2008232, "OST_FireAlarmDevices": -2008085,
    "OST_SecurityDevices": -2008079, "OST_CommunicationDevices": -2008081,
    "OST_LightingDevices": -2008087, "OST_NurseCallDevices": -2008077,
    "OST_TelephoneDevices": -2008075, "OST_Rooms": -2000160, "OST_MEPSpaces": -2003600,
    "OST_Levels": -2000240, "OST_Walls": -2000011, "OST_RvtLinks": -2001352,
    "OST_Views": -2000279, "OST_GenericModel": -2000151, "OST_DuctTerminal": -2008013,
    "OST_LightingFixtures": -2001120,
})
BuiltInParameter = _enum("BuiltInParameter", {
    "INVALID": -1, "VIEW_PHASE": -1012102, "ALL_MODEL_MARK": -1001203, "ROOM_NAME": -1006900,
    "ROOM_NUMBER": -1006901, "SYMBOL_NAME_PARAM": -1002001, "FAMILY_LEVEL_PARAM": -1001352,
    "ELEM_FAMILY_PARAM": -1002051, "PHASE_CREATED": -1012100,
})
StorageType = _enum("StorageType", {"None": 0, "Integer": 1, "Double": 2, "String": 3, "ElementId": 4})
ViewType = _enum("ViewType", {"Undefined": 0, "FloorPlan": 1, "CeilingPlan": 2, "Elevation": 3, "ThreeD": 4,
                              "Schedule": 5, "DrawingSheet": 6, "Legend": 11, "EngineeringPlan": 115,
                              "Section": 117})
TransactionStatus = _enum("TransactionStatus", {"Uninitialized": 0, "Started": 1, "RolledBack": 2,
                                                "Committed": 3, "Pending": 4, "Error": 5, "Proceed": 6})
CheckoutStatus = _enum("CheckoutStatus", {"OwnedByCurrentUser": 0, "OwnedByOtherUser": 1, "NotOwned": 2})
ViewDuplicateOption = _enum("ViewDuplicateOption", {"Duplicate": 0, "AsDependent": 1, "WithDetailing": 2})
ModelUpdatesStatus = _enum("ModelUpdatesStatus", {"CurrentWithCentral": 0, "NotYetInCentral": 1,
                                                  "DeletedInCentral": 2, "UpdatedInCentral": 3})


# ----------------------------------------------------------------------------- ids, geometry
class ElementId:
    def __init__(self, id):
        self._value = int(id)

    @property
    def Value(self):
        if _STATE["version"] < 2024:
            raise AttributeError("'ElementId' object has no attribute 'Value'")
        return self._value

    @property
    def IntegerValue(self):
        if _STATE["version"] >= 2026:
            raise AttributeError("'ElementId' object has no attribute 'IntegerValue'")
        return self._value

    def __eq__(self, other):
        return isinstance(other, ElementId) and other._value == self._value

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self._value)

    def __repr__(self):
        return f"ElementId({self._value})"

    def ToString(self):
        return str(self._value)

    def Equals(self, obj):
        return self == obj

    def GetHashCode(self):
        return hash(self._value)


ElementId.InvalidElementId = ElementId(-1)


class XYZ:
    def __init__(self, x=0.0, y=0.0, z=0.0):
        self.X = float(x)
        self.Y = float(y)
        self.Z = float(z)

    def __add__(self, other):
        return XYZ(self.X + other.X, self.Y + other.Y, self.Z + other.Z)

    def __sub__(self, other):
        return XYZ(self.X - other.X, self.Y - other.Y, self.Z - other.Z)

    def __mul__(self, value):
        return XYZ(self.X * value, self.Y * value, self.Z * value)

    def Add(self, source):
        return self + source

    def Subtract(self, source):
        return self - source

    def Multiply(self, value):
        return self * value

    def DistanceTo(self, source):
        return math.sqrt((self.X - source.X) ** 2 + (self.Y - source.Y) ** 2 + (self.Z - source.Z) ** 2)

    def IsAlmostEqualTo(self, source):
        return self.DistanceTo(source) < 1e-9

    def __repr__(self):
        return f"XYZ({self.X}, {self.Y}, {self.Z})"


XYZ.Zero = XYZ(0, 0, 0)
XYZ.BasisZ = XYZ(0, 0, 1)


class Transform:
    """Rotation about Z plus translation (what a placed Revit link uses in plan)."""

    def __init__(self, transform=None):
        self._angle = transform._angle if transform is not None else 0.0
        self.Origin = transform.Origin if transform is not None else XYZ()

    @staticmethod
    def CreateTranslation(vector):
        t = Transform()
        t.Origin = XYZ(vector.X, vector.Y, vector.Z)
        return t

    @staticmethod
    def CreateRotation(axis, angle):
        if abs(axis.X) > 1e-12 or abs(axis.Y) > 1e-12:
            raise ArgumentException("the fake supports rotations about Z only")
        t = Transform()
        t._angle = angle if axis.Z > 0 else -angle
        return t

    def Multiply(self, right):
        result = Transform()
        result._angle = self._angle + right._angle
        result.Origin = self.OfPoint(right.Origin)
        return result

    def OfPoint(self, point):
        c, s = math.cos(self._angle), math.sin(self._angle)
        return XYZ(c * point.X - s * point.Y + self.Origin.X, s * point.X + c * point.Y + self.Origin.Y,
                   point.Z + self.Origin.Z)

    def OfVector(self, vector):
        c, s = math.cos(self._angle), math.sin(self._angle)
        return XYZ(c * vector.X - s * vector.Y, s * vector.X + c * vector.Y, vector.Z)


Transform.Identity = Transform()


class BoundingBoxXYZ:
    def __init__(self):
        self.Min = XYZ()
        self.Max = XYZ()


class Curve:
    def GetEndPoint(self, index):
        raise NotImplementedError

    def Tessellate(self):
        raise NotImplementedError


class Line(Curve):
    def __init__(self, start, end):
        self._start = start
        self._end = end

    @staticmethod
    def CreateBound(endpoint1, endpoint2):
        return Line(endpoint1, endpoint2)

    def Evaluate(self, parameter, normalized):
        if not normalized:
            raise ArgumentException("the fake evaluates normalized parameters only")
        return self._start + (self._end - self._start) * parameter

    def GetEndPoint(self, index):
        if index not in (0, 1):
            raise ArgumentException("index must be 0 or 1")
        return self._start if index == 0 else self._end

    def Tessellate(self):
        return [self._start, self._end]


class Location:
    pass


class LocationPoint(Location):
    def __init__(self, point):
        self.Point = point


class LocationCurve(Location):
    def __init__(self, curve):
        self.Curve = curve


class Color:
    def __init__(self, red, green, blue):
        for value in (red, green, blue):
            if not 0 <= int(value) <= 255:
                raise ArgumentException("colour components are bytes")
        self.Red, self.Green, self.Blue = int(red), int(green), int(blue)
        self._valid = True

    @property
    def IsValid(self):
        return self._valid

    def __eq__(self, other):
        return isinstance(other, Color) and (self.Red, self.Green, self.Blue, self._valid) == \
            (other.Red, other.Green, other.Blue, other._valid)

    def __hash__(self):
        return hash((self.Red, self.Green, self.Blue))

    def __repr__(self):
        return f"Color({self.Red}, {self.Green}, {self.Blue})" if self._valid else "Color(invalid)"


def _invalid_colour():
    colour = Color(0, 0, 0)
    colour._valid = False
    return colour


Color.InvalidColorValue = _invalid_colour()


class ForgeTypeId:
    def __init__(self, typeId=""):
        self.TypeId = typeId

    def __eq__(self, other):
        return isinstance(other, ForgeTypeId) and other.TypeId == self.TypeId

    def __hash__(self):
        return hash(self.TypeId)


class SpecTypeId:
    Number = ForgeTypeId("autodesk.spec:spec.number-2.0.0")
    Length = ForgeTypeId("autodesk.spec.aec:length-2.0.0")

    class String:
        Text = ForgeTypeId("autodesk.spec:spec.string-2.0.0")

    class Int:
        Integer = ForgeTypeId("autodesk.spec:spec.int64-2.0.0")


class UnitTypeId:
    Feet = ForgeTypeId("autodesk.unit.unit:feet-1.0.1")
    Meters = ForgeTypeId("autodesk.unit.unit:meters-1.0.1")
    Millimeters = ForgeTypeId("autodesk.unit.unit:millimeters-1.0.1")
    General = ForgeTypeId("autodesk.unit.unit:general-1.0.1")


_TO_FEET = {UnitTypeId.Feet.TypeId: 1.0, UnitTypeId.Meters.TypeId: 1 / 0.3048,
            UnitTypeId.Millimeters.TypeId: 1 / 304.8, UnitTypeId.General.TypeId: 1.0}


class UnitUtils:
    @staticmethod
    def ConvertFromInternalUnits(value, unitTypeId):
        if unitTypeId is None or unitTypeId.TypeId not in _TO_FEET:
            raise ArgumentException("not a unit")
        return value / _TO_FEET[unitTypeId.TypeId]

    @staticmethod
    def ConvertToInternalUnits(value, unitTypeId):
        if unitTypeId is None or unitTypeId.TypeId not in _TO_FEET:
            raise ArgumentException("not a unit")
        return value * _TO_FEET[unitTypeId.TypeId]


# ----------------------------------------------------------------------------- categories, parameters
class Category:
    def __init__(self, bic, name):
        self.BuiltInCategory = bic
        self.Name = name
        self.Id = ElementId(int(bic))
        self.AllowsBoundParameters = True

    @staticmethod
    def GetCategory(document, categoryId):
        _api()
        value = int(categoryId._value if isinstance(categoryId, ElementId) else categoryId)
        return document._categories.get(value)


class Definition:
    def __init__(self, name):
        self.Name = name


class InternalDefinition(Definition):
    pass


class ExternalDefinition(Definition):
    def __init__(self, name, spec, guid, description=""):
        Definition.__init__(self, name)
        self._spec = spec
        self.GUID = guid
        self.Description = description

    def GetDataType(self):
        return self._spec


class Parameter:
    def __init__(self, element, name, storage, value=None, read_only=False, unit=None, guid=None):
        self._element = element
        self.Definition = InternalDefinition(name)
        self.StorageType = storage
        self._value = value
        self.IsReadOnly = read_only
        self._unit = unit
        self.IsShared = guid is not None
        self.GUID = guid

    @property
    def HasValue(self):
        return self._value is not None and self._value != ""

    def AsString(self):
        if self.StorageType == StorageType.String:
            return self._value
        return None

    def AsInteger(self):
        return int(self._value or 0) if self.StorageType == StorageType.Integer else 0

    def AsDouble(self):
        return float(self._value or 0.0) if self.StorageType == StorageType.Double else 0.0

    def AsElementId(self):
        if self.StorageType == StorageType.ElementId and self._value is not None:
            return self._value
        return ElementId.InvalidElementId

    def AsValueString(self):
        if self._value is None:
            return None
        if self.StorageType == StorageType.ElementId:
            element = self._element._doc._elements.get(self._value._value)
            return element.Name if element is not None else None
        return str(self._value)

    def GetUnitTypeId(self):
        if self.StorageType != StorageType.Double or self._unit is None:
            raise InvalidOperationException("parameter has no unit")
        return self._unit

    def Set(self, value):
        _api()
        doc = self._element._doc
        doc._require_transaction()
        if self.IsReadOnly:
            raise InvalidOperationException("The parameter is read-only.")
        if self.StorageType == StorageType.String:
            if not isinstance(value, str):
                return False
        elif self.StorageType == StorageType.Double:
            if isinstance(value, (str, bool, ElementId)):
                return False
            value = float(value)
        elif self.StorageType == StorageType.Integer:
            if not isinstance(value, int):
                return False
        elif self.StorageType == StorageType.ElementId and not isinstance(value, ElementId):
            return False
        old = self._value
        self._value = value
        doc._modified(self._element, lambda: setattr(self, "_value", old))
        return True


# ----------------------------------------------------------------------------- elements
class Element:
    _category_bic = None

    def __init__(self, document, name="", category=None):
        self._doc = document
        self.Name = name
        self.Category = category
        self.LevelId = ElementId.InvalidElementId
        self.GroupId = ElementId.InvalidElementId
        self.Location = None
        self._type_id = ElementId.InvalidElementId
        self._params = {}
        self._bip = {}
        self._bbox = None
        self._owner = None
        self._updated_in_central = False
        self._deleted = False
        document._add(self)

    @property
    def Document(self):
        return self._doc

    @property
    def IsValidObject(self):
        return not self._deleted and self._doc.IsValidObject

    def LookupParameter(self, name):
        _api()
        return self._params.get(name)

    def get_Parameter(self, parameterId):
        _api()
        return self._bip.get(int(parameterId))

    def GetTypeId(self):
        return self._type_id

    def get_BoundingBox(self, view):
        return self._bbox

    def _set_param(self, name, storage, value=None, read_only=False, unit=None):
        self._params[name] = Parameter(self, name, storage, value, read_only, unit)
        return self._params[name]

    def _set_bip(self, bip, storage, value=None, read_only=False):
        self._bip[int(bip)] = Parameter(self, str(bip), storage, value, read_only)
        return self._bip[int(bip)]


class ElementType(Element):
    def __init__(self, document, name="", category=None, family_name=""):
        Element.__init__(self, document, name, category)
        self.FamilyName = family_name
        self._set_bip(BuiltInParameter.SYMBOL_NAME_PARAM, StorageType.String, name, read_only=True)


class Family(Element):
    pass


class FamilySymbol(ElementType):
    def __init__(self, document, family, name, category=None):
        ElementType.__init__(self, document, name, category, family.Name)
        self.Family = family


class Instance(Element):
    def __init__(self, document, name="", category=None):
        Element.__init__(self, document, name, category)
        self._transform = Transform()

    def GetTotalTransform(self):
        return self._transform

    def GetTransform(self):
        return self._transform


class FamilyInstance(Instance):
    def __init__(self, document, symbol, point, level=None):
        Instance.__init__(self, document, symbol.Name, symbol.Category)
        self.Symbol = symbol
        self._type_id = symbol.Id
        self.SuperComponent = None
        self.Location = LocationPoint(point) if point is not None else None
        if level is not None:
            self.LevelId = level.Id
        self._set_bip(BuiltInParameter.ALL_MODEL_MARK, StorageType.String, None)
        document._bind_shared_parameters(self)

    def get_Room(self, phase):
        _api()
        point = self.Location.Point if self.Location is not None else None
        return self._doc._spatial_at(point, phase, "room") if point is not None else None

    def get_Space(self, phase):
        _api()
        point = self.Location.Point if self.Location is not None else None
        return self._doc._spatial_at(point, phase, "space") if point is not None else None


class Level(Element):
    def __init__(self, document, name, elevation_ft):
        Element.__init__(self, document, name, document._category(BuiltInCategory.OST_Levels, "Levels"))
        self.Elevation = float(elevation_ft)
        self.ProjectElevation = float(elevation_ft)


class Phase(Element):
    pass


class PhaseArray:
    def __init__(self):
        self._items = []

    @property
    def Size(self):
        return len(self._items)

    @property
    def IsEmpty(self):
        return not self._items

    def get_Item(self, index):
        return self._items[index]

    def __iter__(self):
        return iter(list(self._items))


class SpatialElementBoundaryLocation:
    Finish = 0
    Center = 1
    CoreBoundary = 2
    CoreCenter = 3


class SpatialElementBoundaryOptions:
    def __init__(self):
        self.SpatialElementBoundaryLocation = SpatialElementBoundaryLocation.Finish
        self.StoreFreeBoundaryFaces = False


class BoundarySegment:
    def __init__(self, curve, element_id=None):
        self._curve = curve
        self.ElementId = element_id if element_id is not None else ElementId.InvalidElementId
        self.LinkElementId = ElementId.InvalidElementId

    def GetCurve(self):
        return self._curve


def _box_loop(minimum, maximum):
    z = minimum.Z
    corners = [XYZ(minimum.X, minimum.Y, z), XYZ(maximum.X, minimum.Y, z), XYZ(maximum.X, maximum.Y, z),
               XYZ(minimum.X, maximum.Y, z)]
    return [BoundarySegment(Line.CreateBound(corners[i], corners[(i + 1) % 4])) for i in range(4)]


class SpatialElement(Element):
    """A room or space: an axis-aligned box in the fake (min/max corners, feet)."""

    def __init__(self, document, name, number, level, minimum, maximum, phase, category):
        Element.__init__(self, document, name, category)
        self.Number = number
        self.LevelId = level.Id if level is not None else ElementId.InvalidElementId
        self._min = minimum
        self._max = maximum
        self._phase_id = phase.Id if phase is not None else None
        self._holes = []  # (min, max) boxes cut out of the boundary: shafts, columns
        placed = minimum is not None
        self.Location = LocationPoint((minimum + maximum) * 0.5) if placed else None
        self._set_bip(BuiltInParameter.ROOM_NAME, StorageType.String, name)
        self._set_bip(BuiltInParameter.ROOM_NUMBER, StorageType.String, number)

    @property
    def Level(self):
        return self._doc._elements.get(self.LevelId._value)

    def GetBoundarySegments(self, options):
        """Revit: one list of segments per loop, the outer boundary first, then holes; empty when
        the room is not placed. The fake's boundary is its box, plus any ``_holes`` (min, max)."""
        if not isinstance(options, SpatialElementBoundaryOptions):
            raise ArgumentException("options must be SpatialElementBoundaryOptions")
        if self._min is None:
            return []
        return [_box_loop(self._min, self._max)] + [_box_loop(a, b) for a, b in self._holes]

    @property
    def Area(self):
        if self._min is None:
            return 0.0
        return (self._max.X - self._min.X) * (self._max.Y - self._min.Y)

    def _contains(self, point):
        if self._min is None:
            return False
        return (self._min.X <= point.X <= self._max.X and self._min.Y <= point.Y <= self._max.Y and
                self._min.Z <= point.Z <= self._max.Z)


class RevitLinkType(ElementType):
    pass


class RevitLinkInstance(Instance):
    def __init__(self, document, link_document, transform, loaded=True):
        Instance.__init__(self, document, link_document.Title + " : 1",
                          document._category(BuiltInCategory.OST_RvtLinks, "RVT Links"))
        self._link_doc = link_document
        self._transform = transform
        self._loaded = loaded

    def GetLinkDocument(self):
        _api()
        return self._link_doc if self._loaded else None


class FillPattern:
    def __init__(self, name, solid):
        self.Name = name
        self.IsSolidFill = solid


class FillPatternElement(Element):
    def __init__(self, document, name, solid):
        Element.__init__(self, document, name)
        self._pattern = FillPattern(name, solid)

    def GetFillPattern(self):
        return self._pattern


class SharedParameterElement(Element):
    def __init__(self, document, definition):
        Element.__init__(self, document, definition.Name)
        self.GuidValue = definition.GUID
        self._definition = definition

    def GetDefinition(self):
        return self._definition

    @staticmethod
    def Lookup(document, guidValue):
        for element in document._elements.values():
            if isinstance(element, SharedParameterElement) and element.GuidValue == guidValue:
                return element
        return None


# ----------------------------------------------------------------------------- graphics, views, filters
class OverrideGraphicSettings:
    def __init__(self, overrideGraphicSettings=None):
        source = overrideGraphicSettings
        self._values = dict(source._values) if source is not None else {}

    def _get(self, name, default):
        return self._values.get(name, default)

    def _set(self, name, value):
        self._values[name] = value
        return self

    @property
    def ProjectionLineColor(self):
        return self._get("ProjectionLineColor", Color.InvalidColorValue)

    @property
    def CutLineColor(self):
        return self._get("CutLineColor", Color.InvalidColorValue)

    @property
    def SurfaceForegroundPatternColor(self):
        return self._get("SurfaceForegroundPatternColor", Color.InvalidColorValue)

    @property
    def SurfaceForegroundPatternId(self):
        return self._get("SurfaceForegroundPatternId", ElementId.InvalidElementId)

    @property
    def CutForegroundPatternColor(self):
        return self._get("CutForegroundPatternColor", Color.InvalidColorValue)

    @property
    def CutForegroundPatternId(self):
        return self._get("CutForegroundPatternId", ElementId.InvalidElementId)

    def SetProjectionLineColor(self, color):
        return self._set("ProjectionLineColor", color)

    def SetCutLineColor(self, color):
        return self._set("CutLineColor", color)

    def SetSurfaceForegroundPatternColor(self, color):
        return self._set("SurfaceForegroundPatternColor", color)

    def SetSurfaceForegroundPatternId(self, fillPatternId):
        return self._set("SurfaceForegroundPatternId", fillPatternId)

    def SetCutForegroundPatternColor(self, color):
        return self._set("CutForegroundPatternColor", color)

    def SetCutForegroundPatternId(self, fillPatternId):
        return self._set("CutForegroundPatternId", fillPatternId)

    def _is_blank(self):
        return not self._values


class View(Element):
    _view_type = ViewType.Undefined
    _overridable = True

    def __init__(self, document, name, level=None, phase=None):
        Element.__init__(self, document, name, document._category(BuiltInCategory.OST_Views, "Views"))
        self.ViewType = self._view_type
        self.IsTemplate = False
        self.ViewTemplateId = ElementId.InvalidElementId
        self.GenLevel = level
        self._overrides = {}
        self._filters = []
        self._filter_overrides = {}
        self._set_bip(BuiltInParameter.VIEW_PHASE, StorageType.ElementId, phase.Id if phase is not None else None)

    def AreGraphicsOverridesAllowed(self):
        return self._overridable

    def CanViewBeDuplicated(self, duplicateOption):
        return self._overridable and not self.IsTemplate

    def Duplicate(self, duplicateOption):
        """A copy of this view (same type, level, template); returns its id. Needs a transaction."""
        _api()
        self._doc._require_transaction()
        if not self.CanViewBeDuplicated(duplicateOption):
            raise InvalidOperationException("This view cannot be duplicated.")
        copy = type(self)(self._doc, self.Name + " Copy 1", self.GenLevel)
        copy.ViewTemplateId = self.ViewTemplateId
        copy._bip = dict(self._bip)
        self._doc._modified(copy, lambda: self._doc._remove(copy))
        return copy.Id

    def _template(self):
        if self.ViewTemplateId == ElementId.InvalidElementId:
            return None
        return self._doc._elements.get(self.ViewTemplateId._value)

    def SetElementOverrides(self, elementId, overrideGraphicSettings):
        _api()
        self._doc._require_transaction()
        if not self._overridable:
            raise InvalidOperationException("This view type does not support graphic overrides.")
        if self._template() is not None:
            raise InvalidOperationException("The view's graphic overrides are controlled by its view template.")
        if elementId._value not in self._doc._elements:
            raise ArgumentException("elementId is not an element of this document.")
        key = elementId._value
        old = self._overrides.get(key)
        if overrideGraphicSettings._is_blank():
            self._overrides.pop(key, None)
        else:
            self._overrides[key] = OverrideGraphicSettings(overrideGraphicSettings)
        self._doc._modified(self, lambda: self._restore(self._overrides, key, old))

    @staticmethod
    def _restore(mapping, key, old):
        if old is None:
            mapping.pop(key, None)
        else:
            mapping[key] = old

    def GetElementOverrides(self, elementId):
        _api()
        return OverrideGraphicSettings(self._overrides.get(elementId._value))

    def _filters_controlled_by_template(self):
        return self._template() is not None

    def AddFilter(self, filterElementId):
        _api()
        self._doc._require_transaction()
        if self._filters_controlled_by_template():
            raise InvalidOperationException("The view's filters are controlled by its view template.")
        if filterElementId in self._filters:
            raise ArgumentException("The filter is already applied to the view.")
        self._filters.append(filterElementId)
        self._doc._modified(self, lambda: self._filters.remove(filterElementId))

    def RemoveFilter(self, filterElementId):
        _api()
        self._doc._require_transaction()
        if self._filters_controlled_by_template():
            raise InvalidOperationException("The view's filters are controlled by its view template.")
        index = self._filters.index(filterElementId)
        old = self._filter_overrides.pop(filterElementId._value, None)
        self._filters.remove(filterElementId)

        def undo():
            self._filters.insert(index, filterElementId)
            if old is not None:
                self._filter_overrides[filterElementId._value] = old
        self._doc._modified(self, undo)

    def GetFilters(self):
        _api()
        from System.Collections.Generic import List
        return List[ElementId](self._filters)

    def IsFilterApplied(self, filterElementId):
        return filterElementId in self._filters

    def SetFilterOverrides(self, filterElementId, overrideGraphicSettings):
        _api()
        self._doc._require_transaction()
        if filterElementId not in self._filters:
            raise ArgumentException("The filter is not applied to the view.")
        key = filterElementId._value
        old = self._filter_overrides.get(key)
        self._filter_overrides[key] = OverrideGraphicSettings(overrideGraphicSettings)
        self._doc._modified(self, lambda: self._restore(self._filter_overrides, key, old))

    def GetFilterOverrides(self, filterElementId):
        return OverrideGraphicSettings(self._filter_overrides.get(filterElementId._value))

    def _shows(self, element):
        return True

    def _effective_overrides(self, element):
        """What Revit would draw for ``element`` (test helper): element overrides, else the
        first matching filter of the view or its template."""
        own = self._overrides.get(element.Id._value)
        if own is not None:
            return own
        source = self._template() or self
        for filter_id in source._filters:
            filter_element = self._doc._elements.get(filter_id._value)
            if filter_element is not None and filter_element._matches(element):
                return source._filter_overrides.get(filter_id._value, OverrideGraphicSettings())
        return OverrideGraphicSettings()


class ViewPlan(View):
    _view_type = ViewType.FloorPlan

    def _shows(self, element):
        level_id = getattr(element, "LevelId", None)
        return self.GenLevel is None or level_id == self.GenLevel.Id


class View3D(View):
    _view_type = ViewType.ThreeD


class ViewSection(View):
    _view_type = ViewType.Section


class ViewSchedule(View):
    _view_type = ViewType.Schedule
    _overridable = False


class FilterRule:
    pass


class FilterStringRule(FilterRule):
    def __init__(self, parameter_id, value):
        self._parameter_id = parameter_id
        self._value = value


class ParameterFilterRuleFactory:
    @staticmethod
    def CreateEqualsRule(parameter, value, *args):
        if not isinstance(value, str):
            raise ArgumentException("the fake supports string rules only")
        return FilterStringRule(parameter, value)


class ElementFilter:
    pass


class ElementParameterFilter(ElementFilter):
    def __init__(self, rule, inverted=False):
        self._rules = [rule]


class ParameterFilterElement(Element):
    def __init__(self, document, name, categories, elementFilter):
        Element.__init__(self, document, name)
        self._categories = [c._value for c in categories]
        self._filter = elementFilter

    @staticmethod
    def Create(document, name, categories, elementFilter):
        _api()
        document._require_transaction()
        for element in document._elements.values():
            if isinstance(element, ParameterFilterElement) and element.Name == name:
                raise ArgumentException(f"A filter named '{name}' already exists.")
        element = ParameterFilterElement(document, name, categories, elementFilter)
        document._modified(element, lambda: document._remove(element))
        return element

    def SetCategories(self, categories):
        self._doc._require_transaction()
        self._categories = [c._value for c in categories]
        return True

    def SetElementFilter(self, elementFilter):
        self._doc._require_transaction()
        self._filter = elementFilter
        return True

    def GetElementFilter(self):
        return self._filter

    def _matches(self, element):
        if element.Category is None or element.Category.Id._value not in self._categories:
            return False
        for rule in self._filter._rules:
            shared = self._doc._elements.get(rule._parameter_id._value)
            param = element._params.get(shared.Name) if shared is not None else None
            if param is None or param.AsString() != rule._value:
                return False
        return True


# ----------------------------------------------------------------------------- collector
class FilteredElementCollector:
    def __init__(self, document, viewId=None):
        _api()
        self._doc = document
        elements = [e for e in document._elements.values() if not e._deleted]
        if viewId is not None:
            view = document._elements[viewId._value]
            elements = [e for e in elements if not isinstance(e, (View, ElementType, Phase, Level,
                                                                 ParameterFilterElement, FillPatternElement,
                                                                 SharedParameterElement))
                        and view._shows(e)]
        self._elements = elements

    def _narrow(self, predicate):
        self._elements = [e for e in self._elements if predicate(e)]
        return self

    def OfClass(self, type):
        return self._narrow(lambda e: isinstance(e, type))

    def OfCategory(self, category):
        return self._narrow(lambda e: e.Category is not None and e.Category.Id._value == int(category))

    def OfCategoryId(self, categoryId):
        return self._narrow(lambda e: e.Category is not None and e.Category.Id == categoryId)

    def WhereElementIsNotElementType(self):
        return self._narrow(lambda e: not isinstance(e, ElementType))

    def WhereElementIsElementType(self):
        return self._narrow(lambda e: isinstance(e, ElementType))

    def ToElements(self):
        return list(self._elements)

    def ToElementIds(self):
        return [e.Id for e in self._elements]

    def FirstElement(self):
        return self._elements[0] if self._elements else None

    def GetElementCount(self):
        return len(self._elements)

    def __iter__(self):
        _api()
        return iter(list(self._elements))


# ----------------------------------------------------------------------------- transactions, document
class Transaction:
    def __init__(self, document, name):
        self._doc = document
        self._name = name
        self._status = TransactionStatus.Uninitialized
        self._undo = []
        self._touched = []

    def GetName(self):
        return self._name

    def Start(self):
        _api()
        if self._doc._transaction is not None:
            raise InvalidOperationException("Another transaction is already open in the document.")
        if self._doc.IsLinked:
            raise InvalidOperationException("A linked document is read-only.")
        self._doc._transaction = self
        self._status = TransactionStatus.Started
        return self._status

    def Commit(self):
        _api()
        self._check_open()
        user = self._doc.Application.Username
        for element in self._touched:
            if element is not None and self._doc.IsWorkshared and element._owner not in (None, user):
                # Revit's failure: cannot edit an element borrowed by someone else.
                self._undo_all()
                self._doc._transaction = None
                self._status = TransactionStatus.RolledBack
                self._doc._rolled_back.append(self._name)
                return self._status
        if self._doc.IsWorkshared:
            for element in self._touched:
                if isinstance(element, Instance) and element._owner is None:
                    # Revit borrows an element nobody owns for the edit (given back at the next
                    # synchronisation with central): tests read what was borrowed this way.
                    element._owner = user
                    self._doc._borrowed_free.append(element.UniqueId)
        self._doc._transaction = None
        self._status = TransactionStatus.Committed
        self._doc._committed.append(self._name)
        return self._status

    def RollBack(self):
        _api()
        self._check_open()
        self._undo_all()
        self._doc._transaction = None
        self._status = TransactionStatus.RolledBack
        self._doc._rolled_back.append(self._name)
        return self._status

    def _undo_all(self):
        for undo in reversed(self._undo):
            undo()
        del self._undo[:]

    def _check_open(self):
        if self._status != TransactionStatus.Started:
            raise InvalidOperationException("The transaction has not been started.")

    def GetStatus(self):
        return self._status

    def HasStarted(self):
        return self._status != TransactionStatus.Uninitialized

    def HasEnded(self):
        return self._status in (TransactionStatus.Committed, TransactionStatus.RolledBack)

    def Dispose(self):
        if self._status == TransactionStatus.Started:
            self.RollBack()


class Document:
    _episode_counter = [0]  # noqa: RUF012 - shared on purpose: unique episodes per session

    def __init__(self, application, title, path_name="", workshared=False, linked=False):
        self.Application = application
        self.Title = title
        self.PathName = path_name
        self.IsWorkshared = workshared
        self.IsLinked = linked
        self._elements = {}
        self._by_uid = {}
        self._next_id = 1000
        Document._episode_counter[0] += 1
        self._episode = str(uuid.UUID(int=0x5EED0000 + Document._episode_counter[0]))
        self._transaction = None
        self._committed = []
        self._rolled_back = []
        self._template_changes = []
        self._borrowed_free = []     # elements nobody owned that an edit borrowed
        self._tgm = None
        self._categories = {}
        self._closed = False
        self.Phases = PhaseArray()
        self.ParameterBindings = BindingMap(self)
        self._shared_params = {}     # name -> (ExternalDefinition, set of category values)
        self.ActiveView = None

    # -- helpers used by the fake itself and by test builders
    def _add(self, element):
        self._next_id += 1
        element.Id = ElementId(self._next_id)
        element.UniqueId = f"{self._episode}-{self._next_id:08x}"
        self._elements[self._next_id] = element
        self._by_uid[element.UniqueId] = element

    def _remove(self, element):
        self._elements.pop(element.Id._value, None)

    def _category(self, bic, name):
        category = self._categories.get(int(bic))
        if category is None:
            category = Category(bic, name)
            self._categories[int(bic)] = category
        return category

    def _require_transaction(self):
        if self._closed:
            raise InvalidOperationException("The document is closed.")
        if self._transaction is None:
            raise ModificationOutsideTransactionException(
                "Attempt to modify the model outside of transaction.")

    def _modified(self, element, undo):
        self._transaction._undo.append(undo)
        self._transaction._touched.append(element)
        if isinstance(element, View) and element.IsTemplate:
            # What a BIM manager forbids: a shared view template changed (tests read this).
            self._template_changes.append((self._transaction._name, element.Name))

    def _spatial_at(self, point, phase, kind):
        cls = _spatial_class(kind)
        phase_order = [p.Id for p in self.Phases]
        for element in self._elements.values():
            if not isinstance(element, cls) or not element._contains(point):
                continue
            if phase is not None and element._phase_id is not None and phase_order and \
                    phase_order.index(element._phase_id) > phase_order.index(phase.Id):
                continue  # created in a later phase than the one asked about
            return element
        return None

    def _bind_shared_parameters(self, element, only=None):
        if element.Category is None:
            return
        for name, (definition, categories) in self._shared_params.items():
            if only is not None and name != only:
                continue
            if element.Category.Id._value in categories and name not in element._params:
                storage = StorageType.String if definition.GetDataType() == SpecTypeId.String.Text \
                    else StorageType.Double
                element._params[name] = Parameter(element, name, storage, None, False,
                                                  UnitTypeId.General if storage == StorageType.Double else None,
                                                  definition.GUID)

    # -- public API
    @property
    def IsModifiable(self):
        return self._transaction is not None

    @property
    def IsValidObject(self):
        return not self._closed

    def GetElement(self, id):
        _api()
        if self._closed:
            raise InvalidOperationException("The document is closed.")
        if isinstance(id, ElementId):
            element = self._elements.get(id._value)
        else:
            # Revit looks a UniqueId up in constant time; so does the fake (an index kept beside).
            element = self._by_uid.get(id)
            if element is not None and self._elements.get(element.Id._value) is not element:
                element = None
        if element is None or element._deleted:
            return None
        return element

    def GetRoomAtPoint(self, point, phase=None):
        _api()
        return self._spatial_at(point, phase or (self.Phases.get_Item(self.Phases.Size - 1)
                                                 if self.Phases.Size else None), "room")

    def GetSpaceAtPoint(self, point, phase=None):
        _api()
        return self._spatial_at(point, phase or (self.Phases.get_Item(self.Phases.Size - 1)
                                                 if self.Phases.Size else None), "space")

    def Equals(self, obj):
        return obj is self

    def Close(self, saveModified=False):
        _api()
        from Autodesk.Revit.DB.Events import DocumentClosingEventArgs
        self.Application.DocumentClosing._fire(self.Application, DocumentClosingEventArgs(self))
        self._closed = True
        return True


def _spatial_class(kind):
    if kind == "room":
        from Autodesk.Revit.DB.Architecture import Room
        return Room
    from Autodesk.Revit.DB.Mechanical import Space
    return Space


# ----------------------------------------------------------------------------- shared parameters
class ExternalDefinitionCreationOptions:
    def __init__(self, name, dataType):
        self.Name = name
        self._spec = dataType
        self.Description = ""
        self.GUID = None
        self.Visible = True
        self.UserModifiable = True


class Definitions:
    def __init__(self, group):
        self._group = group
        self._items = []

    def get_Item(self, name):
        for definition in self._items:
            if definition.Name == name:
                return definition
        return None

    def Create(self, definitionOption):
        if self.get_Item(definitionOption.Name) is not None:
            raise ArgumentException("A definition with this name exists in the group.")
        guid = definitionOption.GUID or str(uuid.uuid4())
        definition = ExternalDefinition(definitionOption.Name, definitionOption._spec, guid,
                                        definitionOption.Description)
        self._items.append(definition)
        self._group._file._save()
        return definition

    @property
    def Size(self):
        return len(self._items)

    def __iter__(self):
        return iter(list(self._items))


class DefinitionGroup:
    def __init__(self, definition_file, group_id, name):
        self._file = definition_file
        self._id = group_id
        self.Name = name
        self.Definitions = Definitions(self)


class DefinitionGroups:
    def __init__(self, definition_file):
        self._file = definition_file
        self._items = []

    def get_Item(self, name):
        for group in self._items:
            if group.Name == name:
                return group
        return None

    def Create(self, name):
        if self.get_Item(name) is not None:
            raise ArgumentException("A group with this name exists.")
        group = DefinitionGroup(self._file, len(self._items) + 1, name)
        self._items.append(group)
        self._file._save()
        return group

    def __iter__(self):
        return iter(list(self._items))


_SPEC_NAMES = {SpecTypeId.String.Text.TypeId: "TEXT", SpecTypeId.Number.TypeId: "NUMBER",
               SpecTypeId.Int.Integer.TypeId: "INTEGER", SpecTypeId.Length.TypeId: "LENGTH"}
_SPEC_IDS = {v: k for k, v in _SPEC_NAMES.items()}


class DefinitionFile:
    """Reads and writes Revit's tab-separated shared-parameter file format."""

    def __init__(self, path):
        self.Filename = path
        self.Groups = DefinitionGroups(self)
        self._load()

    def _load(self):
        with open(self.Filename, "r", encoding="utf-8-sig") as handle:
            lines = handle.read().splitlines()
        groups = {}
        for line in lines:
            fields = line.split("\t")
            if fields[0] == "GROUP":
                group = DefinitionGroup(self, int(fields[1]), fields[2])
                groups[int(fields[1])] = group
                self.Groups._items.append(group)
            elif fields[0] == "PARAM":
                guid, name, datatype, group_id = fields[1], fields[2], fields[3], int(fields[5])
                description = fields[7] if len(fields) > 7 else ""
                spec = ForgeTypeId(_SPEC_IDS.get(datatype, SpecTypeId.String.Text.TypeId))
                groups[group_id].Definitions._items.append(ExternalDefinition(name, spec, guid, description))

    def _save(self):
        lines = ["# This is a Revit shared parameter file.", "# Do not edit manually.",
                 "*META\tVERSION\tMINVERSION", "META\t2\t1", "*GROUP\tID\tNAME"]
        for group in self.Groups._items:
            lines.append(f"GROUP\t{group._id}\t{group.Name}")
        lines.append("*PARAM\tGUID\tNAME\tDATATYPE\tDATACATEGORY\tGROUP\tVISIBLE\tDESCRIPTION\tUSERMODIFIABLE"
                     "\tHIDEWHENNOVALUE")
        for group in self.Groups._items:
            for d in group.Definitions._items:
                lines.append("PARAM\t{}\t{}\t{}\t\t{}\t1\t{}\t1\t0".format(
                    d.GUID, d.Name, _SPEC_NAMES.get(d.GetDataType().TypeId, "TEXT"), group._id, d.Description))
        with open(self.Filename, "w", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")


class CategorySet:
    def __init__(self):
        self._items = []

    def Insert(self, item):
        if any(c.Id == item.Id for c in self._items):
            return False
        self._items.append(item)
        return True

    def Contains(self, item):
        return any(c.Id == item.Id for c in self._items)

    @property
    def Size(self):
        return len(self._items)

    @property
    def IsEmpty(self):
        return not self._items

    def __iter__(self):
        return iter(list(self._items))


class Binding:
    pass


class ElementBinding(Binding):
    def __init__(self, categories=None):
        self.Categories = categories or CategorySet()


class InstanceBinding(ElementBinding):
    pass


class TypeBinding(ElementBinding):
    pass


class BindingMap:
    def __init__(self, document):
        self._doc = document
        self._map = {}

    def _bind(self, key, item):
        if not isinstance(key, ExternalDefinition):
            raise ArgumentException("only shared (external) definitions can be bound by the fake")
        self._doc._require_transaction()
        old = self._map.get(key.Name)
        self._map[key.Name] = (key, item)
        categories = {c.Id._value for c in item.Categories}
        old_shared = self._doc._shared_params.get(key.Name)
        self._doc._shared_params[key.Name] = (key, categories)
        created = None
        if SharedParameterElement.Lookup(self._doc, key.GUID) is None:
            created = SharedParameterElement(self._doc, key)
        added = []
        for element in list(self._doc._elements.values()):
            if isinstance(element, FamilyInstance) and key.Name not in element._params:
                self._doc._bind_shared_parameters(element, key.Name)
                if key.Name in element._params:
                    added.append(element)

        def undo():
            self._map.pop(key.Name, None)
            if old is not None:
                self._map[key.Name] = old
            if old_shared is not None:
                self._doc._shared_params[key.Name] = old_shared
            else:
                self._doc._shared_params.pop(key.Name, None)
            for element in added:
                element._params.pop(key.Name, None)
            if created is not None:
                self._doc._remove(created)
        self._doc._modified(None, undo)
        return True

    def Insert(self, key, item, groupTypeId=None):
        _api()
        if key.Name in self._map:
            return False
        return self._bind(key, item)

    def ReInsert(self, key, item, groupTypeId=None):
        _api()
        return self._bind(key, item)

    def Contains(self, key):
        return key.Name in self._map

    def get_Item(self, key):
        entry = self._map.get(key.Name)
        return entry[1] if entry else None

    @property
    def Size(self):
        return len(self._map)


# ----------------------------------------------------------------------------- worksharing
class WorksharingTooltipInfo:
    def __init__(self, creator, owner, last_changed_by):
        self.Creator = creator
        self.Owner = owner
        self.LastChangedBy = last_changed_by


class WorksharingUtils:
    @staticmethod
    def GetCheckoutStatus(document, elementId):
        _api()
        element = document._elements[elementId._value]
        if element._owner is None:
            return CheckoutStatus.NotOwned
        if element._owner == document.Application.Username:
            return CheckoutStatus.OwnedByCurrentUser
        return CheckoutStatus.OwnedByOtherUser

    @staticmethod
    def GetWorksharingTooltipInfo(document, elementId):
        _api()
        element = document._elements[elementId._value]
        return WorksharingTooltipInfo("creator", element._owner or "", "")

    @staticmethod
    def GetModelUpdatesStatus(document, elementId):
        _api()
        element = document._elements[elementId._value]
        return ModelUpdatesStatus.UpdatedInCentral if element._updated_in_central else \
            ModelUpdatesStatus.CurrentWithCentral


# ----------------------------------------------------------------------------- room geometry (faces)
class UV:
    def __init__(self, u=0.0, v=0.0):
        self.U = float(u)
        self.V = float(v)


class BoundingBoxUV:
    def __init__(self, minU=0.0, minV=0.0, maxU=0.0, maxV=0.0):
        self.Min = UV(minU, minV)
        self.Max = UV(maxU, maxV)


class GeometryObject:
    pass


class Face(GeometryObject):
    def GetBoundingBox(self):
        return BoundingBoxUV(0.0, 0.0, self._width, self._depth)

    def Evaluate(self, params):
        return self._origin + self._x * params.U + self._y * params.V

    def ComputeNormal(self, point):
        return self.FaceNormal


class PlanarFace(Face):
    """A rectangle: origin + u * x + v * y, u in [0, width], v in [0, depth] (feet)."""

    def __init__(self, origin, x, y, normal, width, depth):
        self._origin = origin
        self._x = x
        self._y = y
        self._normal = normal
        self._width = width
        self._depth = depth

    @property
    def FaceNormal(self):
        return self._normal

    @property
    def Origin(self):
        return self._origin


class FaceArray:
    def __init__(self, faces):
        self._items = list(faces)

    @property
    def Size(self):
        return len(self._items)

    def get_Item(self, index):
        return self._items[index]

    def __iter__(self):
        return iter(list(self._items))


class Solid(GeometryObject):
    def __init__(self, faces):
        self._faces = FaceArray(faces)

    @property
    def Faces(self):
        return self._faces


class SpatialElementGeometryResults:
    def __init__(self, solid):
        self._solid = solid

    def GetGeometry(self):
        return self._solid


class SpatialElementGeometryCalculator:
    """The fake's rooms are boxes: their solid has six planar faces, the floor facing down."""

    def __init__(self, document, options=None):
        _api()
        self._doc = document

    def CanCalculateGeometry(self, spatialElement):
        return getattr(spatialElement, "_min", None) is not None

    def CalculateSpatialElementGeometry(self, spatialElement):
        _api()
        if not self.CanCalculateGeometry(spatialElement):
            raise InvalidOperationException("The room or space is not placed or not bounded.")
        lo, hi = spatialElement._min, spatialElement._max
        w, d, h = hi.X - lo.X, hi.Y - lo.Y, hi.Z - lo.Z
        ex, ey, ez = XYZ(1, 0, 0), XYZ(0, 1, 0), XYZ(0, 0, 1)
        faces = [PlanarFace(lo, ex, ey, XYZ(0, 0, -1), w, d),                      # floor
                 PlanarFace(XYZ(lo.X, lo.Y, hi.Z), ex, ey, XYZ(0, 0, 1), w, d),     # ceiling
                 PlanarFace(lo, ex, ez, XYZ(0, -1, 0), w, h), PlanarFace(XYZ(lo.X, hi.Y, lo.Z), ex, ez, XYZ(0, 1, 0), w, h),
                 PlanarFace(lo, ey, ez, XYZ(-1, 0, 0), d, h), PlanarFace(XYZ(hi.X, lo.Y, lo.Z), ey, ez, XYZ(1, 0, 0), d, h)]
        return SpatialElementGeometryResults(Solid(faces))


# ----------------------------------------------------------------------------- temporary graphics (2022+)
class InCanvasControlData:
    def __init__(self, imagePath, position=None):
        self.ImagePath = imagePath
        self.Position = position


class TemporaryGraphicsManager:
    """Transient in-canvas images: not subject to undo, never saved, no transaction needed."""

    def __init__(self, document):
        self._doc = document
        self._controls = {}         # index -> [InCanvasControlData, view id, visible]
        self._next = 0

    @staticmethod
    def GetTemporaryGraphicsManager(document):
        _api()
        if document._tgm is None:
            document._tgm = TemporaryGraphicsManager(document)
        return document._tgm

    @staticmethod
    def _check_image(data):
        import os
        if not data.ImagePath or not os.path.isfile(data.ImagePath):
            raise InvalidOperationException("Failed to load the image from specified path.")

    def AddControl(self, data, ownerViewId):
        _api()
        self._check_image(data)
        if ownerViewId != ElementId.InvalidElementId and \
                not isinstance(self._doc._elements.get(ownerViewId._value), View):
            raise ArgumentException("The ownerViewId provided is not an id of a view.")
        self._next += 1
        self._controls[self._next] = [InCanvasControlData(data.ImagePath, data.Position), ownerViewId, True]
        return self._next

    def UpdateControl(self, index, data):
        _api()
        self._check_image(data)
        if index not in self._controls:
            raise ArgumentException("No temporary graphics object with this index.")
        self._controls[index][0] = InCanvasControlData(data.ImagePath, data.Position)

    def RemoveControl(self, index):
        _api()
        if index not in self._controls:
            raise ArgumentException("No temporary graphics object with this index.")
        del self._controls[index]

    def SetVisibility(self, index, isVisible):
        _api()
        self._controls[index][2] = bool(isVisible)

    def GetAll(self):
        return list(self._controls)

    def Clear(self):
        _api()
        self._controls.clear()

    def Dispose(self):
        pass
