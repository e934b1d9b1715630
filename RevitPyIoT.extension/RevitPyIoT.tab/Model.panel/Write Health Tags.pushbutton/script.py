# -*- coding: utf-8 -*-
"""Write Health Tags: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.write_health_tags)
