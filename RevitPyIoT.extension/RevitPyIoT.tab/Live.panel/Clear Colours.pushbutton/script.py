# -*- coding: utf-8 -*-
"""Clear Colours: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.clear_colours)
