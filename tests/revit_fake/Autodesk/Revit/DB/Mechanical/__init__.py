# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake Autodesk.Revit.DB.Mechanical."""
from Autodesk.Revit.DB import BuiltInCategory, SpatialElement


class Space(SpatialElement):
    def __init__(self, document, name, number, level, minimum, maximum, phase=None):
        SpatialElement.__init__(self, document, name, number, level, minimum, maximum, phase,
                                document._category(BuiltInCategory.OST_MEPSpaces, "Spaces"))

    def IsPointInSpace(self, point):
        return self._contains(point)
