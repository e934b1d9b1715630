# -*- coding: utf-8 -*-
"""Connect / Status: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.connect_status)
