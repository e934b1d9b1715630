# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake Autodesk.Revit.DB.Analysis: the Analysis Visualization Framework (AVF).

As in Revit: a view's SpatialFieldManager and its primitives are display data, not model data.
Creating, updating or removing them needs no transaction, is not undoable and is never saved;
an AnalysisDisplayStyle is an element of the document (creating one needs a transaction).
Schedules, sheets and templates cannot show analysis results.
"""
from Autodesk.Revit.DB import Element, ElementId, ViewSchedule, _api, _enum
from Autodesk.Revit.Exceptions import ArgumentException, InvalidOperationException

AnalysisDisplayStyleMarkerType = _enum("AnalysisDisplayStyleMarkerType", {"Square": 0, "Circle": 1,
                                                                           "Triangle": 2})


class AnalysisDisplayColorEntry:
    def __init__(self, color=None, value=None):
        self.Color = color
        self.Value = value

    def HasValue(self):
        return self.Value is not None


class AnalysisDisplayColorSettings:
    def __init__(self, other=None):
        self.MaxColor = None
        self.MinColor = None
        self._intermediate = []

    def SetIntermediateColors(self, map):
        self._intermediate = list(map)

    def GetIntermediateColors(self):
        return list(self._intermediate)


class AnalysisDisplayLegendSettings:
    def __init__(self, other=None):
        self.ShowLegend = True
        self.NumberOfSteps = 10
        self.ShowDataDescription = True
        self.ShowDataName = True
        self.ShowUnits = True


class AnalysisDisplayColoredSurfaceSettings:
    def __init__(self, other=None):
        self.ShowGridLines = True
        self.Transparency = 0


class AnalysisDisplayMarkersAndTextSettings:
    def __init__(self, other=None):
        self.MarkerSize = 0.1
        self.MarkerType = AnalysisDisplayStyleMarkerType.Square


class AnalysisDisplayStyle(Element):
    def __init__(self, document, name, settings, colors, legend):
        Element.__init__(self, document, name)
        self._settings = settings
        self._colors = colors
        self._legend = legend

    @staticmethod
    def CreateAnalysisDisplayStyle(document, name, settings, colorSettings, legendSettings):
        _api()
        document._require_transaction()
        if AnalysisDisplayStyle.FindByName(document, name) != ElementId.InvalidElementId:
            raise ArgumentException(f"An analysis display style named '{name}' already exists.")
        style = AnalysisDisplayStyle(document, name, settings, colorSettings, legendSettings)
        document._modified(style, lambda: document._remove(style))
        return style

    @staticmethod
    def FindByName(document, name):
        _api()
        for element in document._elements.values():
            if isinstance(element, AnalysisDisplayStyle) and element.Name == name:
                return element.Id
        return ElementId.InvalidElementId

    def HasColoredSurfaceSettings(self):
        return isinstance(self._settings, AnalysisDisplayColoredSurfaceSettings)

    def HasMarkersAndTextSettings(self):
        return isinstance(self._settings, AnalysisDisplayMarkersAndTextSettings)

    def GetColorSettings(self):
        return self._colors

    def GetLegendSettings(self):
        return self._legend


class AnalysisResultSchema:
    def __init__(self, name, description=""):
        self.Name = name
        self.Description = description
        self.AnalysisDisplayStyleId = ElementId.InvalidElementId
        self.IsVisible = True


class FieldDomainPoints:
    pass


class FieldDomainPointsByUV(FieldDomainPoints):
    def __init__(self, points):
        self._points = list(points)


class FieldDomainPointsByXYZ(FieldDomainPoints):
    def __init__(self, points):
        self._points = list(points)


class ValueAtPoint:
    def __init__(self, values):
        self._values = [float(v) for v in values]


class FieldValues:
    def __init__(self, valuesAtPoints, *args):
        self._values = [v._values for v in valuesAtPoints]


class SpatialFieldManager(Element):
    """A view's analysis results. Kept on the view object, not in the document's elements:
    nothing here is model data (the fake's transaction log never sees it)."""

    def __init__(self, view, numberOfMeasurements):
        self._view = view
        self.NumberOfMeasurements = numberOfMeasurements
        self._primitives = {}        # index -> {"geometry", "domain", "values", "result"}
        self._results = []           # [AnalysisResultSchema]
        self._next = 0

    @staticmethod
    def GetSpatialFieldManager(view):
        _api()
        return getattr(view, "_sfm", None)

    @staticmethod
    def CreateSpatialFieldManager(view, numberOfMeasurements):
        _api()
        if numberOfMeasurements < 1:
            raise ArgumentException("numberOfMeasurements is less than one")
        if isinstance(view, ViewSchedule) or view.IsTemplate or not view.AreGraphicsOverridesAllowed() \
                or getattr(view, "_sfm", None) is not None:
            raise InvalidOperationException("View is not allowed to display analysis results or a manager "
                                            "object for this view already exists")
        view._sfm = SpatialFieldManager(view, numberOfMeasurements)
        return view._sfm

    def AddSpatialFieldPrimitive(self, *args):
        _api()
        self._next += 1
        self._primitives[self._next] = {"geometry": args[0] if args else None, "domain": None, "values": None,
                                         "result": None}
        return self._next

    def UpdateSpatialFieldPrimitive(self, idx, fieldDomainPoints, fieldValues, resultIndex):
        _api()
        if idx not in self._primitives:
            raise ArgumentException("No primitive with this index.")
        if resultIndex not in range(len(self._results)):
            raise ArgumentException("resultIndex is not a registered result.")
        if len(fieldDomainPoints._points) != len(fieldValues._values):
            raise ArgumentException("The number of points and values differ.")
        if any(len(v) != self.NumberOfMeasurements for v in fieldValues._values):
            raise ArgumentException("Each ValueAtPoint needs NumberOfMeasurements values.")
        self._primitives[idx].update(domain=fieldDomainPoints, values=fieldValues, result=resultIndex)

    def RemoveSpatialFieldPrimitive(self, idx):
        _api()
        if idx not in self._primitives:
            raise ArgumentException("No primitive with this index.")
        del self._primitives[idx]

    def Clear(self):
        _api()
        self._primitives.clear()

    def RegisterResult(self, resultSchema):
        _api()
        self._results.append(resultSchema)
        return len(self._results) - 1

    def GetRegisteredResults(self):
        return list(range(len(self._results)))

    def GetResultSchema(self, idx):
        return self._results[idx]

    def SetResultSchema(self, idx, resultSchema):
        self._results[idx] = resultSchema

    def SetMeasurementNames(self, names):
        self._names = list(names)
