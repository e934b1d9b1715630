# -*- coding: utf-8 -*-
"""Alerts: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.show_alerts)
