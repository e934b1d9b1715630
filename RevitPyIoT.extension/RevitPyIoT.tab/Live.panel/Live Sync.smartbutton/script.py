# -*- coding: utf-8 -*-
"""Live Sync: background subscription, changes applied on Revit's main thread."""
from revitpyiot import commands


def __selfinit__(script_cmp, ui_button_cmp, __rvt__):
    return commands.live_sync_selfinit(ui_button_cmp, script_cmp.directory)


# Runs only on a click: pyRevit also executes this module at start-up (before __selfinit__).
commands.on_click(commands.live_sync_toggle)
