"""Fake ``pyrevit.revit.ui``: theme-aware icon files."""
import os

ICON_DARK_SUFFIX = ".dark"
_THEME = {"dark": False}


def resolve_icon_file(directory, icon_name):
    """``icon_name`` in ``directory``; its ``.dark`` variant under the dark theme when present."""
    full = os.path.join(directory, icon_name)
    if _THEME["dark"]:
        stem, ext = os.path.splitext(icon_name)
        dark = os.path.join(directory, stem + ICON_DARK_SUFFIX + ext)
        if os.path.isfile(dark):
            return dark
    return full
