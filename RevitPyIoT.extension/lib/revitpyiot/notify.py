# -*- coding: utf-8 -*-
"""Tell the user, once, that live sync failed, and when it works again: a line in pyRevit's
output window, a toast, and the smart button's icon and tooltip."""
from __future__ import absolute_import

import os

TOOLTIP_OK = u"Live sync is on."


class Notifier(object):
    """``output``: a pyRevit output window (or None); ``button``: the smart button (or None)."""

    def __init__(self, output, button, bundle_dir=None, forms=None, dark=False):
        self.output = output
        self.button = button
        self.bundle_dir = bundle_dir
        self.forms = forms
        self.dark = dark
        self.shown = []            # (kind, message): what the user was told

    def _icon(self, name):
        if self.bundle_dir is None:
            return None
        if self.dark:
            dark = os.path.join(self.bundle_dir, name + ".dark.png")
            if os.path.isfile(dark):
                return dark
        return os.path.join(self.bundle_dir, name + ".png")

    def _button(self, icon, tooltip):
        if self.button is None:
            return
        path = self._icon(icon)
        try:
            if path is not None:
                self.button.set_icon(path, icon_size=32)
            if hasattr(self.button, "set_tooltip"):
                self.button.set_tooltip(tooltip)
        except Exception:      # the ribbon may be gone (Revit closing): the message still counts
            pass

    def _tell(self, kind, message):
        self.shown.append((kind, message))
        if self.output is not None:
            try:
                self.output.print_md((u"**{0}**" if kind == "error" else u"{0}").format(message))
            except Exception:
                pass
        if self.forms is not None:
            try:
                self.forms.toast(message, title=u"RevitPyIoT")
            except Exception:
                pass

    def error(self, message):
        self._tell("error", message)
        self._button("error", u"Live sync has a problem: " + message)

    def recovered(self, message):
        self._tell("recovered", message)
        self._button("on", TOOLTIP_OK)

    def info(self, message):
        self._tell("info", message)
