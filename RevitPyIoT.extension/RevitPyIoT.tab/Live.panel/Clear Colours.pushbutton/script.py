# -*- coding: utf-8 -*-
"""Clear Colours: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.clear_colours)
