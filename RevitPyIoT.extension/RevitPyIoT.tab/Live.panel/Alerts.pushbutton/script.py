# -*- coding: utf-8 -*-
"""Alerts: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.show_alerts)
