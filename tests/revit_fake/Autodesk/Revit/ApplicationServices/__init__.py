# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake Autodesk.Revit.ApplicationServices."""
import os

from Autodesk.Revit.DB import CategorySet, DefinitionFile, InstanceBinding, TypeBinding


class _Event:
    """A .NET event: ``+=`` / ``-=`` handlers, fired by the fake."""

    def __init__(self):
        self._handlers = []

    def __iadd__(self, handler):
        self._handlers.append(handler)
        return self

    def __isub__(self, handler):
        if handler in self._handlers:
            self._handlers.remove(handler)
        return self

    def _fire(self, sender, args):
        for handler in list(self._handlers):
            handler(sender, args)


class _Creation:
    """Autodesk.Revit.Creation.Application (``app.Create``)."""

    def NewCategorySet(self):
        return CategorySet()

    def NewInstanceBinding(self, categorySet):
        return InstanceBinding(categorySet)

    def NewTypeBinding(self, categorySet):
        return TypeBinding(categorySet)


class Application:
    def __init__(self, username="revit.user", version_number="2025"):
        self.Username = username
        self.VersionNumber = version_number
        self.VersionName = "Autodesk Revit " + version_number
        self.SharedParametersFilename = ""
        self.Create = _Creation()
        self.DocumentClosing = _Event()
        self.DocumentClosed = _Event()

    def OpenSharedParameterFile(self):
        path = self.SharedParametersFilename
        if not path or not os.path.exists(path):
            return None
        return DefinitionFile(path)
