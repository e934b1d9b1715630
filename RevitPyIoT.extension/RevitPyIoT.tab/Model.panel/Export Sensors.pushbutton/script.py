# -*- coding: utf-8 -*-
"""Export Sensors: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.export_sensors)
