# -*- coding: utf-8 -*-
"""Open Dashboard: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.open_dashboard)
