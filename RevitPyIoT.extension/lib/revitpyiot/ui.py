# -*- coding: utf-8 -*-
"""Output-window helpers shared by the buttons (pyRevit's output window speaks Markdown and
HTML; element links come from ``output.linkify``)."""
from __future__ import absolute_import

import revitpyiot  # noqa: F401  (puts shared_schemas on sys.path)
from revitpyiot import revit_compat as rc
from shared_schemas import units

SIDECAR_START_HINT = (u"Start it from the RevitPyIoT tray icon, or in a terminal run "
                      u"`revitpyiot-sidecar serve` (or `python -m sidecar serve` in the sidecar's "
                      u"Python environment), then click the button again.")


def unit_symbol(code):
    """A UCUM code as people read it: ``Cel`` -> ``°C`` (the shared table, ``shared_schemas.units``)."""
    return units.unit_symbol(code)


def alert_message(alert):
    """An alert's sentence with units as symbols ("31.2 °C > 30 °C"). The sidecar writes them so;
    a message written with UCUM codes (an older sidecar, a stored alert) is shown the same way."""
    return units.symbols_in_text(rc.text(alert.get("message") or u""))


def element_link(output, element_id, key=None, title=None):
    """A clickable link for a host-model element, plain text for linked ones."""
    if element_id is None:
        return rc.text(title or key or u"?")
    if key and u"/" in key:
        return u"{0} (linked)".format(title or element_id)
    try:
        return output.linkify(rc.make_element_id(element_id), title)
    except Exception:  # linkify is only cosmetic
        return rc.text(title or element_id)


def print_warnings(output, warnings, limit=500):
    if not warnings:
        output.print_md(u"No warnings.")
        return
    output.print_md(u"### Warnings ({0})".format(len(warnings)))
    rows = []
    for warning in warnings[:limit]:
        link = element_link(output, warning.get("element_id"), warning.get("unique_id")) \
            if warning.get("element_id") is not None else u""
        rows.append([warning.get("code", u""), link, rc.text(warning.get("link") or u""),
                     rc.text(warning.get("message", u""))])
    output.print_table(rows, columns=[u"Code", u"Element", u"Link", u"Message"])
    if len(warnings) > limit:
        output.print_md(u"... and {0} more.".format(len(warnings) - limit))


def sidecar_down_message(settings, error):
    return (u"**The RevitPyIoT sidecar is not running** (nothing answers on `{0}`: {1}).\n\n{2}"
            .format(settings.command_endpoint, rc.text(error), SIDECAR_START_HINT))


def age_text(seconds):
    seconds = max(0, int(seconds))
    if seconds < 60:
        return u"{0} s".format(seconds)
    if seconds < 3600:
        return u"{0} min".format(seconds // 60)
    if seconds < 86400:
        return u"{0} h {1} min".format(seconds // 3600, (seconds % 3600) // 60)
    return u"{0} d {1} h".format(seconds // 86400, (seconds % 86400) // 3600)
