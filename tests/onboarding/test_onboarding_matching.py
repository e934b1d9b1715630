"""Points to Revit elements: marks, names, kinds and numbers, room numbers; the three vendor styles."""
from __future__ import annotations

from typing import Any

import pytest

from sidecar.onboarding.evaluation import GENERIC, STYLES, score_matching, vendor_points
from sidecar.onboarding.matching import ElementMatcher
from sidecar.simulation.sample_building import build_demo_building as sample_building


@pytest.fixture(scope="module")
def building() -> dict[str, Any]:
    return sample_building()


def _uid(building: dict[str, Any], mark: str | None = None, number: str | None = None) -> str:
    if mark is not None:
        return next(e["unique_id"] for e in building["elements"] if e.get("mark") == mark)
    return next(s["unique_id"] for s in building["spaces"] if s["number"] == number)


@pytest.mark.parametrize("point, mark, reason", [
    ("AHU-01.SAT", "AHU-01", "mark"),
    ("ahu1SupplyAirTemp", "AHU-01", "mark"),
    ("BLD1_AHU_2_RA_T", "AHU-02", "mark"),
    ("VAV201_ZN_T", "VAV-2-01", "mark"),        # not room 2.01
    ("NAE-1/FC-2.VAV-4-02.DMPR-POS", "VAV-4-02", "mark"),
    ("Hvo/ChilledWaterPump02/MotorCurrent", "CHWP-02", "name"),
    ("Chiller 2 CHWS T", "CH-02", "name"),
    ("CHLR_2_CHWS_T", "CH-02", "kind and number"),
    ("L3 VAV 2 ZN-T", "VAV-3-02", "kind and number"),           # the numbers of the mark, in order
    ("HW Pump 1 AMPS", "HWP-01", "kind and number"),            # not CHWP-01 or CWP-01
])
def test_equipment(building: dict[str, Any], point: str, mark: str, reason: str) -> None:
    found = ElementMatcher(building).match(point)
    assert (found.unique_id, found.kind, found.reason) == (_uid(building, mark=mark), "equipment", reason)
    assert found.confidence >= 0.8


@pytest.mark.parametrize("point, number", [
    ("RM214_CO2", "2.14"), ("R2-14 Temp", "2.14"), ("L3'R305'RH", "3.05"), ("Rm_B_02_Temp", "B.02"),
    ("Roof Plant OAT sensor", "R.01"),   # no number: the one space named "Roof Plant"
])
def test_rooms(building: dict[str, Any], point: str, number: str) -> None:
    found = ElementMatcher(building).match(point)
    assert found.unique_id == _uid(building, number=number) and found.kind == "space"


def test_nothing_and_ties(building: dict[str, Any]) -> None:
    matcher = ElementMatcher(building)
    assert matcher.match("GLOBAL_SCHEDULE_MODE").unique_id is None
    assert matcher.match("Open Office North CO2").confidence < 0.5   # four levels have one
    assert matcher.match("Open Office North CO2", "Level 2 room 2.04").unique_id == _uid(building, number="2.04")


def test_vendor_styles_precision_and_recall(building: dict[str, Any]) -> None:
    points = vendor_points(building)
    sensors = sum(1 for e in building["elements"] if "sensor" in e)
    assert len(points) == 4 * sensors and {p.style for p in points} == {*STYLES, GENERIC}
    assert len({p.name for p in points}) == len(points)
    score = score_matching(building)
    assert score.points == 3 * sensors
    assert score.precision >= 0.95 and score.recall >= 0.9
    for style in STYLES:
        assert score.per_style[style][1] >= 0.9, style
    generic = score_matching(building, styles=(GENERIC,))
    assert generic.precision >= 0.95 and generic.recall >= 0.9
    assert "L2 VAV 1 ZN-T" in {p.name for p in points}


def test_unmatched_name_and_description_end(building: dict[str, Any]) -> None:
    assert ElementMatcher(building).match("MODE", "GLOBAL").unique_id is None
