# -*- coding: utf-8 -*-
"""Settings: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.edit_settings)
