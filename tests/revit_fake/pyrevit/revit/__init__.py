"""Fake ``pyrevit.revit``: ``doc``, ``uidoc``, ``active_view`` of the running host."""
from pyrevit import HOST_APP


def __getattr__(name):
    if name == "doc":
        return HOST_APP.doc
    if name == "uidoc":
        return HOST_APP.uidoc
    if name == "active_view":
        return HOST_APP.uidoc.ActiveView if HOST_APP.uidoc is not None else None
    raise AttributeError(name)
