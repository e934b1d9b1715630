# -*- coding: utf-8 -*-
"""Write Health Tags: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.write_health_tags)
