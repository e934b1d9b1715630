# -*- coding: utf-8 -*-
"""Open Dashboard: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.open_dashboard)
