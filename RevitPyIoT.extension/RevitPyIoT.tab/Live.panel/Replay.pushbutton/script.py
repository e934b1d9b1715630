# -*- coding: utf-8 -*-
"""Replay: see docs/extension.md."""
from revitpyiot import commands

commands.on_click(commands.replay)
