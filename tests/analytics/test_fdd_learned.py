"""The AHU learned layer: unit-relative baselines without labels, and ``fdd --train`` really used."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from sidecar.analytics.offline import cli
from sidecar.analytics.offline.ahu_fdd import G36Tolerances, UnitBaseline, unit_signals

DATA = Path(__file__).parent / "data" / "lbnl_ahu_fdd"
LABEL = "Fault Detection Ground Truth"


def _mcc(y: np.ndarray, p: np.ndarray) -> float:
    tp, fp = float(((p == 1) & (y == 1)).sum()), float(((p == 1) & (y == 0)).sum())
    fn, tn = float(((p == 0) & (y == 1)).sum()), float(((p == 0) & (y == 0)).sum())
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / den if den else 0.0


def test_training_on_one_lbnl_unit_improves_the_held_out_unit(tmp_path: Path) -> None:
    target = DATA / "SZCAV.csv.gz"
    rules, trained = tmp_path / "rules.csv", tmp_path / "trained.csv"
    assert cli.main(["fdd", str(target), "--output", str(rules), "--columns", "lbnl"]) == 0
    assert cli.main(["fdd", str(target), "--output", str(trained), "--columns", "lbnl",
                     "--train", str(DATA / "MZVAV-2-1.csv.gz")]) == 0
    a, b = pd.read_csv(rules, keep_default_na=False), pd.read_csv(trained, keep_default_na=False)
    y = a[next(c for c in a.columns if c.strip() == LABEL)].to_numpy().astype(int)
    assert "learned_probability" in b and "learned_probability" not in a
    assert b["learned_probability"].between(0, 1).all() and b["confidence"].between(0, 1).all()
    assert (a["fault"] != b["fault"]).sum() > 100            # the learned layer changes the decision
    assert _mcc(y, b["fault"].to_numpy()) > _mcc(y, a["fault"].to_numpy())
    flagged = b["fault"] == 1
    assert (b.loc[flagged, "fault_class"] != "").all() and (b.loc[~flagged, "fault_class"] == "").all()
    assert (b.loc[flagged, "confidence"] >= 0.5).all()


def test_unit_baseline_is_the_units_own_normal_per_state() -> None:
    # Two units with different set points and sensor offsets: the same fault (SAT 6 F above its
    # own normal) gives the same z on both; each unit's normal gives z near 0.
    zs = []
    for offset in (0.0, 7.0):
        n = 3 * 1440 + 600
        rng = np.random.default_rng(int(offset))
        sat = 55 + offset + rng.normal(0, 0.3, n)
        sat[-600:] += 6.0
        points = pd.DataFrame({
            "timestamp": pd.date_range("2021-07-01", periods=n, freq="1min"), "sat": sat,
            "sat_sp": 55.0 + offset, "sat_sp_heating": 55.0 + offset, "oat": 85.0, "mat": 75.0 + offset,
            "rat": 72.0 + offset, "fan_status": 1.0, "fan_speed": 0.7, "oa_damper": 0.2, "cooling_valve": 0.6,
            "heating_valve": 0.0, "duct_static": np.nan, "duct_static_sp": np.nan, "occupancy": 1.0})
        signals, state = unit_signals(points, G36Tolerances())
        day = points["timestamp"].dt.normalize().to_numpy()
        z = UnitBaseline(days=2).fit(signals, state, day).z(signals, state)["z_sat_error"].to_numpy()
        assert abs(np.median(z[:2 * 1440])) < 0.5
        zs.append(np.median(z[-600:]))
    assert min(zs) > 10 and abs(zs[0] - zs[1]) < 0.3 * max(zs)


def test_rules_alone_confidence_and_fault_class() -> None:
    from sidecar.analytics.offline.ahu_fdd import AHUFaultDetector

    n = 180
    rng = np.random.default_rng(0)
    sat = 55 + rng.normal(0, 0.2, n)
    sat[60:] += 12.0                      # SAT far above set point with the cooling valve full open: FC13
    points = pd.DataFrame({
        "timestamp": pd.date_range("2021-07-01 08:00", periods=n, freq="1min"), "sat": sat, "sat_sp": 55.0,
        "sat_sp_heating": 55.0, "oat": 80.0, "mat": 70.0, "rat": 72.0, "fan_status": 1.0, "fan_speed": 0.6,
        "oa_damper": 0.2, "cooling_valve": 1.0, "heating_valve": 0.0, "duct_static": np.nan,
        "duct_static_sp": np.nan, "occupancy": 1.0})
    out = AHUFaultDetector().predict(points)
    assert (out["confidence"].iloc[:60] == 0).all() and (out["fault"].iloc[:60] == 0).all()
    first = int(np.flatnonzero(out["fault"].to_numpy())[0])
    assert first >= 60 + 30 - 1                                   # the guideline's alarm delay
    assert 0.5 <= out["confidence"].iloc[first] < out["confidence"].iloc[-1] == 1.0
    assert 0 < out["confidence"].iloc[first - 5] < 0.5            # evidence building before the report
    assert out["fault_class"].iloc[-1] == "coil / valve" and "FC13" in out["fault_condition"].iloc[-1]
