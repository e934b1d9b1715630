"""Fake ``pyrevit.script``: output, per-user config, button icons, URLs."""
import os

from pyrevit import EXEC_PARAMS
from pyrevit import output as _output


class _ConfigSection:
    def __init__(self, store):
        self._store = store

    def has_option(self, option_name):
        return option_name in self._store

    def get_option(self, op_name, default_value=None):
        return self._store.get(op_name, default_value)

    def set_option(self, op_name, value):
        self._store[op_name] = value

    def remove_option(self, option_name):
        self._store.pop(option_name, None)


ICON_SMALL = 16
ICON_MEDIUM = 24
ICON_LARGE = 32


class _Button:
    """A ribbon button (pyRevit's ``_PyRevitRibbonButton``): icon (default medium size) and tooltip."""

    def __init__(self):
        self.icon = None
        self.icon_size = None
        self.tooltip = None
        self.history = []

    def set_icon(self, icon_file, icon_size=ICON_MEDIUM):
        if not os.path.exists(icon_file):
            raise OSError("icon not found: " + icon_file)
        self.icon = icon_file
        self.icon_size = icon_size
        self.history.append(icon_file)

    def set_tooltip(self, tooltip):
        self.tooltip = tooltip


_STATE = {"config": {}, "saved": {}, "buttons": {}, "urls": []}


def get_output():
    return _output.get_output()


def get_config(section=None):
    section = section or (EXEC_PARAMS.command_name or "script") + "_config"
    return _ConfigSection(_STATE["config"].setdefault(section, {}))


def save_config():
    _STATE["saved"] = {k: dict(v) for k, v in _STATE["config"].items()}


def get_script_path():
    return EXEC_PARAMS.script_file


def get_bundle_files(sub_path=None):
    folder = EXEC_PARAMS.command_path
    return [os.path.join(folder, f) for f in os.listdir(folder)]


def get_button():
    return _STATE["buttons"].setdefault(EXEC_PARAMS.command_path, _Button())


def toggle_icon(new_state, on_icon_path=None, off_icon_path=None, icon_size=None):
    folder = EXEC_PARAMS.command_path
    path = (on_icon_path or os.path.join(folder, "on.png")) if new_state else \
        (off_icon_path or os.path.join(folder, "off.png"))
    get_button().set_icon(path)


def open_url(url):
    _STATE["urls"].append(url)
