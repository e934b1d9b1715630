"""The demo building, from wherever the simulator keeps it: the one import the onboarding
package makes of it (``sidecar.sample_building`` today; it is moving into ``sidecar.simulation``)."""
from __future__ import annotations

from typing import Any

from sidecar.sample_building import build_demo_building, demo_building_json

__all__ = ["build_demo_building", "demo_building_json", "sample_building"]


def sample_building(seed: int = 7) -> dict[str, Any]:
    """The Harbour View Office BuildingConfig (a fresh dict each call)."""
    return build_demo_building(seed)
