# -*- coding: utf-8 -*-
"""Settings: see docs/extension.md."""
from revitpyiot import commands

commands.run(commands.edit_settings)
