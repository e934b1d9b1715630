# -*- coding: utf-8 -*-
"""Live View: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.live_view)
