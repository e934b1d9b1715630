# -*- coding: utf-8 -*-
"""Export Brick: see docs/onboarding.md."""
from revitpyiot import brick_export, commands

commands.run(brick_export.export_brick)
