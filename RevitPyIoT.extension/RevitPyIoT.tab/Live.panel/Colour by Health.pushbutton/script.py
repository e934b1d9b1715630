# -*- coding: utf-8 -*-
"""Colour by Health: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.colour_by_health)
