# -*- coding: utf-8 -*-
"""Monitoring: start/stop in the sidecar; the icon shows its state."""
from revitpyiot import commands


def __selfinit__(script_cmp, ui_button_cmp, __rvt__):
    return commands.monitoring_selfinit(ui_button_cmp, script_cmp.directory)


# Runs only on a click: pyRevit also executes this module at start-up (before __selfinit__).
commands.on_click(commands.monitoring_toggle)
