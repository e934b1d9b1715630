"""Room and space outlines for the sample building, as the extension exports them from Revit
(``BuildingConfig`` space ``outline``: loops of ``[x, y]`` metres, holes after the outer loop).

The sample building's configuration (``sample_building``) carries none, as a model exported before
outlines existed; the demo sends it with these (``with_outlines``) so the dashboard draws real rooms.
The dashboard tests leave one level without, so the fallback (boxes around what each space holds)
stays covered too.
"""
from __future__ import annotations

import copy
from typing import Any

# A 48 m x 21.5 m floor: three rooms along the south facade, a corridor with the riser, three
# rooms along the north facade; the north-west office wraps round a column (a hole).
FLOOR_PLAN = [
    [[[0.0, 0.0], [18.0, 0.0], [18.0, 8.0], [0.0, 8.0]]],
    [[[18.0, 0.0], [31.0, 0.0], [31.0, 8.0], [18.0, 8.0]]],
    [[[31.0, 0.0], [48.0, 0.0], [48.0, 8.0], [31.0, 8.0]]],
    [[[0.0, 13.0], [19.0, 13.0], [19.0, 12.5], [24.0, 12.5], [24.0, 21.5], [0.0, 21.5]],
     [[5.6, 16.4], [6.4, 16.4], [6.4, 17.2], [5.6, 17.2]]],
    [[[24.0, 12.5], [35.0, 12.5], [35.0, 21.5], [24.0, 21.5]]],
    [[[35.0, 12.5], [48.0, 12.5], [48.0, 21.5], [35.0, 21.5]]],
    [[[19.0, 9.5], [23.0, 9.5], [23.0, 12.5], [19.0, 12.5]]],
]
BASEMENT = [
    [[[0.0, 0.0], [34.0, 0.0], [34.0, 21.5], [0.0, 21.5]], [[30.0, 9.0], [33.0, 9.0], [33.0, 13.0], [30.0, 13.0]]],
    [[[36.0, 0.0], [48.0, 0.0], [48.0, 21.5], [36.0, 21.5]]],
]
ROOF = [
    [[[4.0, 9.0], [40.0, 9.0], [40.0, 22.0], [4.0, 22.0]], [[19.0, 9.5], [23.0, 9.5], [23.0, 12.5], [19.0, 12.5]]],
]


def with_outlines(config: dict[str, Any], without: tuple[str, ...] = ()) -> dict[str, Any]:
    """A copy of the sample building's configure body with outlines on its levels (but those named
    in ``without``)."""
    config = copy.deepcopy(config)
    names = {lv["unique_id"]: lv["name"] for lv in config["levels"]}
    by_level: dict[str, list[dict[str, Any]]] = {}
    for space in config["spaces"]:
        by_level.setdefault(space["level"], []).append(space)
    for level_uid, spaces in by_level.items():
        name = names.get(level_uid, "")
        if name in without:
            continue
        plan = BASEMENT if name == "Level B1" else ROOF if name == "Roof" else FLOOR_PLAN
        for space, outline in zip(spaces, plan):
            space["outline"] = copy.deepcopy(outline)
    return config
