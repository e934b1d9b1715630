# -*- coding: utf-8 -*-
"""Export Brick: see docs/onboarding.md."""
from revitpyiot import brick_export, commands

commands.on_click(brick_export.export_brick)
