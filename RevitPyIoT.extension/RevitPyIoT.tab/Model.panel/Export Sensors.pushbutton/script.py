# -*- coding: utf-8 -*-
"""Export Sensors: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.export_sensors)
