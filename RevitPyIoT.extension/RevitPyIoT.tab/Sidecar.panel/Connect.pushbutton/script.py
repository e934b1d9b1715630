# -*- coding: utf-8 -*-
"""Connect / Status: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.connect_status)
