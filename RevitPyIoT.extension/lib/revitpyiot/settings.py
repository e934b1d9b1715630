# -*- coding: utf-8 -*-
"""The extension's settings, stored in pyRevit's per-user config (``script.get_config``).

``Settings`` is a plain object so the logic modules and the headless demo can use it
without pyRevit; ``load()``/``save()`` are the only functions that touch pyRevit.
"""
from __future__ import absolute_import

import json

from revitpyiot import protocol as P

CONFIG_SECTION = "RevitPyIoT"

DEFAULT_EQUIPMENT_CATEGORIES = [
    "OST_MechanicalEquipment",
    "OST_ElectricalEquipment",
    "OST_PlumbingFixtures",
    "OST_PlumbingEquipment",      # Revit 2023+; skipped (with a warning) where it does not exist
    "OST_SpecialityEquipment",
]
# OST_Sensors does not exist: sensors are instances of the device categories.
DEFAULT_SENSOR_CATEGORIES = [
    "OST_DataDevices",
    "OST_MechanicalControlDevices",   # Revit 2023+, like OST_PlumbingEquipment
    "OST_FireAlarmDevices",
    "OST_SecurityDevices",
    "OST_CommunicationDevices",
    "OST_LightingDevices",
    "OST_NurseCallDevices",
    "OST_TelephoneDevices",
]
DEFAULT_EXPORTED_PARAMETERS = ["Manufacturer", "Model", "Serial Number", "Comments"]

TEMPLATE_MODE_FILTERS = "filters"   # colour views with a template through view filters
TEMPLATE_MODE_MESSAGE = "message"   # only explain why the view cannot be coloured
TEMPLATE_MODES = (TEMPLATE_MODE_FILTERS, TEMPLATE_MODE_MESSAGE)

DEFAULTS = {
    "command_endpoint": P.DEFAULT_COMMAND_ENDPOINT,
    "event_endpoint": P.DEFAULT_EVENT_ENDPOINT,
    "timeout_s": 5.0,
    "dashboard_url": "http://127.0.0.1:8765/",
    "building_id": "",
    "equipment_categories": DEFAULT_EQUIPMENT_CATEGORIES,
    "sensor_categories": DEFAULT_SENSOR_CATEGORIES,
    "exported_parameters": DEFAULT_EXPORTED_PARAMETERS,
    "include_links": True,
    "colour_scheme": {},            # status -> [r, g, b]; empty: PROTOCOL.md colours
    # Views with a template: "message" (default) never touches the template; "filters" (opt-in)
    # adds view filters to it, which most BIM managers forbid. The live overlay needs neither.
    "template_mode": TEMPLATE_MODE_MESSAGE,
    "live_colour_view": True,       # live sync draws the transient overlay in the active view
    "live_write_tags": False,       # true: scheduled tag writes at most every minute (see tag_interval_min)
    "tag_interval_min": 15.0,       # scheduled health-tag writes while live sync runs; 0: off
    "heatmap_quantity": "temperature",   # rooms/spaces heat map: temperature, co2, humidity; empty: off
    "heatmap_refresh_s": 60.0,      # how often live sync asks the sidecar for the rooms' latest readings
    "live_handler_budget_ms": 40,   # time one live-sync handler call may hold Revit's UI thread (target: <= 100 ms)
    "live_batch_items": 500,
    "start_with_tray": True,        # Connect starts the installed sidecar through its tray icon
}
LIST_KEYS = ("equipment_categories", "sensor_categories", "exported_parameters")


class Settings(object):
    """Typed access to the settings with defaults for anything missing or malformed."""

    def __init__(self, values=None):
        self.values = {}
        for key, default in DEFAULTS.items():
            self.values[key] = _copy(default)
        for key, value in (values or {}).items():
            if key in DEFAULTS:
                self.values[key] = _coerce(key, value)

    def __getattr__(self, name):
        values = self.__dict__.get("values")
        if values is not None and name in values:
            return values[name]
        raise AttributeError(name)

    def set(self, key, value):
        if key not in DEFAULTS:
            raise KeyError("unknown setting: " + key)
        self.values[key] = _coerce(key, value)

    def status_colour(self, status):
        custom = self.values.get("colour_scheme") or {}
        rgb = custom.get(status)
        if rgb and len(rgb) == 3:
            return tuple(int(c) for c in rgb)
        return P.STATUS_COLOURS.get(status, P.STATUS_COLOURS[P.STATUS_UNKNOWN])

    def colours(self):
        result = {}
        for status in P.HEALTH_STATUSES:
            result[status] = self.status_colour(status)
        return result

    def make_client(self, timeout_s=None):
        from revitpyiot.transport.client import SidecarClient
        return SidecarClient(command_endpoint=self.command_endpoint,
                             event_endpoint=self.event_endpoint,
                             token=None,
                             timeout_s=float(timeout_s if timeout_s is not None else self.timeout_s))


def _copy(value):
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _coerce(key, value):
    """Values come back from the ini file as text: turn them into the default's type."""
    default = DEFAULTS[key]
    if isinstance(value, type(u"")) or isinstance(value, str):
        if isinstance(default, (list, dict)):
            try:
                value = json.loads(value)
            except ValueError:
                if isinstance(default, list):
                    value = [v.strip() for v in value.split(",") if v.strip()]
                else:
                    return _copy(default)
        elif isinstance(default, bool):
            value = value.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, float):
            try:
                value = float(value)
            except ValueError:
                return default
        elif isinstance(default, int):
            try:
                value = int(value)
            except ValueError:
                return default
    if isinstance(default, list) and not isinstance(value, list):
        return _copy(default)
    if isinstance(default, dict) and not isinstance(value, dict):
        return _copy(default)
    if key == "template_mode" and value not in TEMPLATE_MODES:
        return default
    return value


def load():
    """The settings from pyRevit's config (defaults when pyRevit is absent)."""
    try:
        from pyrevit import script
    except ImportError:
        return Settings()
    config = script.get_config(CONFIG_SECTION)
    values = {}
    for key in DEFAULTS:
        raw = config.get_option(key, None)
        if raw is not None:
            values[key] = raw
    return Settings(values)


def save(settings):
    from pyrevit import script
    config = script.get_config(CONFIG_SECTION)
    for key, value in settings.values.items():
        if isinstance(value, (list, dict)):
            value = json.dumps(value)
        config.set_option(key, value)
    script.save_config()
