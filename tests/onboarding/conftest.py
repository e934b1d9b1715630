"""Onboarding tests: reuse the source tests' loopback peers (Mosquitto, free ports)."""
from __future__ import annotations

import os
import sys

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (TESTS, os.path.join(TESTS, "sidecar")):
    if _path not in sys.path:  # `tests` is shadowed by a site-packages package: import `support`
        sys.path.insert(0, _path)
