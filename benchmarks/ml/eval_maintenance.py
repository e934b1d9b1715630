"""Calibration and evaluation of the live maintenance engine's failure probability and time to failure.

The demo building is simulated by the product's simulator as in ``eval_live.py`` (one reading per
sensor per minute; eval_live's scripted fault scenarios plus this file's own, after three fault-free
days, over 7 days so that the 72-hour drifts reach their failure inside the evaluated range; plus a
fault-free run of 9 days, which holds a weekend and the Monday after it). Every 30 simulated minutes
each equipment sensor with a critical limit is evaluated causally, exactly as ``MaintenanceEngine``
does (``trend.robust_trend`` over the short and long windows joined by ``trend.join`` with the
sensor's hourly means of the last ``REFERENCE_DAYS`` as its normal range, ``trend.risk_now`` at the
horizon): raw evidence ``z``; ground truth = the sensor crosses its critical limit within the
horizon. Rows whose latest reading is already past the critical limit are failing now (p 1.0, the
engine's ``limit_state``): they are left out of the calibration and counted apart, with the
probability the trend alone gave them (the engine before it read the alarm state).

1. Calibration: isotonic regression of the label on ``clip(z, -8, 8)`` fitted on seed 11 (scenario +
   fault-free runs), sampled at knots; the knots are the constants in ``sidecar/maintenance/trend.py``.
2. Evaluation on seed 12 (other noise, same scenarios): Brier score, reliability table, and per
   equipment (max over its sensors, as the engine does): the lead time of the first p >= 0.7
   (the work order) before the failure, the time-to-failure error at that moment, and false work
   orders per equipment-day on the fault-free run (an order closes below 0.3, as configured).
   Each figure is also given for the engine before this change (``--legacy`` columns: the long
   window must confirm every rate, no alarm state).

CIRCULAR: every fault here is the simulator's own (``SimSource`` fault injection: linear drifts,
steps, spikes on top of the simulator's own daily profile and noise), and the calibration is
fitted on the same simulator. The figures say the engine sees the faults the simulator makes; they
say nothing about real equipment failures, of which the shared data hold none.

Usage: python benchmarks/ml/eval_maintenance.py [--quick]
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, machine
from eval_live import SCENARIOS, Scenario, fault_specs, local_monday, make_source

sys.path.insert(0, str(REPO))

HORIZON_H, WINDOW_H, LONG_H, STEP_H, PERIOD_S = 24.0, 6.0, 24.0, 0.5, 60.0
THRESHOLD, CLOSE_BELOW = 0.7, 0.3
REFERENCE_DAYS = 7.0   # [analytics] reference_days
# This evaluation's own scenarios (the simulator's fault injection, like eval_live's): a slow
# temperature drift, a temperature drift over a daily swing, and a fault already past critical.
OWN_SCENARIOS = (
    Scenario("chiller 02 supply temperature slow drift (72 h)", "ch-02.chw_supply_temp", "drift", 77, 72),
    Scenario("zone temperature drift over its daily swing (24 h)", "vav-3-01.zone_temp", "drift", 79, 24),
    Scenario("condenser pump vibration step past critical (6 h)", "cwp-01.vibration", "step", 83, 0.0, 1.3, 6),
)


def simulate(model: Any, faults: list[Any], days: float, seed: int) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    t0 = local_monday()
    src = make_source(model, faults, seed)
    src.started_wall = t0
    src._last_wall = t0
    per_hour = round(3600.0 / PERIOD_S)
    parts: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
    for hour in range(int(days * 24)):
        wall = t0 + hour * 3600.0 + PERIOD_S * np.arange(1, per_hour + 1)
        sensors, stamps, values = src.sample(wall)
        order = np.lexsort((stamps, sensors))
        sensors, stamps, values = sensors[order], stamps[order], values[order]
        cuts = np.flatnonzero(np.diff(sensors)) + 1
        for seg in np.split(np.arange(len(sensors)), cuts):
            parts.setdefault(int(sensors[seg[0]]), []).append((stamps[seg], values[seg]))
    return {k: (np.concatenate([p[0] for p in v]) - t0, np.concatenate([p[1] for p in v])) for k, v in parts.items()}


def equipment_sensors(model: Any) -> dict[str, list[int]]:
    from shared_schemas import protocol
    from sidecar.maintenance.trend import SKIP_QUANTITIES

    out = {}
    for uid, e in model.elements.items():
        if e.kind == protocol.KIND_EQUIPMENT:
            idx = [i for i in model.sensors_of(uid) if model.sensors[i].quantity not in SKIP_QUANTITIES and (math.isfinite(model.sensors[i].limits.high_critical)
                   or math.isfinite(model.sensors[i].limits.low_critical))]
            if idx:
                out[uid] = idx
    return out


def hourly(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hourly means (bucket start, mean), as the engine's ``MinuteBins(width 3600 s)``."""
    start = np.floor(t / 3600.0) * 3600.0
    keys, inverse = np.unique(start, return_inverse=True)
    return keys, np.bincount(inverse, weights=x) / np.bincount(inverse)


def evaluate(model: Any, series: dict[int, tuple[np.ndarray, np.ndarray]], days: float) -> list[dict[str, Any]]:
    """One row per (equipment sensor, evaluation time): z now and before this change (legacy), ttf,
    label, time to the actual crossing, and whether the latest reading is past the critical limit."""
    from sidecar.maintenance.trend import combine, crossing_risk, join, past_critical, risk_now, robust_trend

    rows = []
    for uid, indices in equipment_sensors(model).items():
        for i in indices:
            if i not in series:
                continue
            t, x = series[i]
            hour_t, hour_x = hourly(t, x)
            lim = model.sensors[i].limits
            beyond = (x > lim.high_critical) | (x < lim.low_critical)
            crossings = t[1:][beyond[1:] & ~beyond[:-1]]
            now = WINDOW_H * 3600.0 / 4
            while now <= (days * 24.0 - HORIZON_H) * 3600.0:
                hi = np.searchsorted(t, now, "right")
                lo = np.searchsorted(t, now - WINDOW_H * 3600.0)
                lo_long = np.searchsorted(t, now - LONG_H * 3600.0)
                short = robust_trend(t[lo:hi], x[lo:hi], now) if hi - lo >= 10 else None
                if short is not None:
                    long = robust_trend(t[lo_long:hi], x[lo_long:hi], now) if lo_long < lo else None
                    ref = hour_x[(hour_t + 3600.0 <= now - WINDOW_H * 3600.0)
                                 & (hour_t >= now - REFERENCE_DAYS * 86400.0)]
                    latest = float(x[hi - 1])
                    past = bool(past_critical(latest, lim.low_critical, lim.high_critical))
                    risk = risk_now(join(short, long, ref), latest, lim.low_critical, lim.high_critical, HORIZON_H)
                    legacy = crossing_risk(combine(short, long), lim.low_critical, lim.high_critical, HORIZON_H)
                    nxt = crossings[crossings > now]
                    actual = (float(nxt[0]) - now) / 3600.0 if len(nxt) else math.inf
                    rows.append({"uid": uid, "sensor": i, "t": now, "z": float(np.clip(risk.z, -50, 50)),
                                 "z_legacy": float(np.clip(legacy.z, -50, 50)), "ttf": risk.ttf_hours,
                                 "ttf_legacy": legacy.ttf_hours, "past": past,
                                 "label": int(actual <= HORIZON_H), "actual_h": actual})
                now += STEP_H * 3600.0
    return rows


def fit_isotonic(z: np.ndarray, y: np.ndarray) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Isotonic regression of the label on clip(z), sampled at knots every 0.5 of z."""
    from sklearn.isotonic import IsotonicRegression

    from sidecar.maintenance.trend import Z_CLIP

    iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(np.clip(z, -Z_CLIP, Z_CLIP), y)
    knots = np.arange(-Z_CLIP, Z_CLIP + 0.25, 0.5)
    return tuple(round(float(k), 2) for k in knots), tuple(round(float(p), 4) for p in iso.predict(knots))


def reliability(p: np.ndarray, y: np.ndarray) -> list[dict[str, Any]]:
    bins = np.array([0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 0.95, 1.0001])
    out = []
    for lo, hi in itertools.pairwise(bins):
        sel = (p >= lo) & (p < hi)
        if sel.any():
            out.append({"bin": f"{lo:.2f}-{min(hi, 1.0):.2f}", "n": int(sel.sum()),
                        "mean_predicted": round(float(p[sel].mean()), 3), "observed": round(float(y[sel].mean()), 3)})
    return out


def work_orders(rows: list[dict[str, Any]], a: Any, b: Any, legacy: bool = False, key: str = "uid"
                ) -> dict[Any, list[tuple[float, float, Any]]]:
    """Per equipment (``key`` "uid"; "sensor": as if each sensor were its own equipment, which
    attributes an order to the fault that caused it where one equipment carries two scenarios):
    (time raised, its p, ttf) of each work order, with the engine's hysteresis. A row past its
    critical limit is p 1.0, ttf 0 h (``limit_state``), except for the legacy engine."""
    from sidecar.maintenance.trend import calibrate

    by_eq: dict[Any, dict[float, tuple[float, Any]]] = {}
    for r in rows:
        if r["past"] and not legacy:
            p, ttf = 1.0, 0.0
        else:
            p, ttf = calibrate(r["z_legacy" if legacy else "z"], a, b), r["ttf_legacy" if legacy else "ttf"]
        cur = by_eq.setdefault(r[key], {}).get(r["t"])
        if cur is None or p > cur[0]:
            by_eq[r[key]][r["t"]] = (p, ttf)
    out: dict[Any, list[tuple[float, float, Any]]] = {}
    for uid, points in by_eq.items():
        open_ = False
        for t in sorted(points):
            p, ttf = points[t]
            if not open_ and p >= THRESHOLD:
                open_ = True
                out.setdefault(uid, []).append((t, p, ttf))
            elif open_ and p < CLOSE_BELOW:
                open_ = False
    return out


def scenario_rows(model: Any, scenarios: list[Any], rows: list[dict[str, Any]], a: Any, b: Any,
                  legacy: bool) -> list[dict[str, Any]]:
    orders = work_orders(rows, a, b, legacy, key="sensor")
    out = []
    for sc in scenarios:
        sensor = model.sensors[model.sensor_index[sc.sensor_id]]
        uid = sensor.host
        if uid is None or model.elements[uid].kind != "equipment":
            continue
        uid = sensor.index   # orders of this sensor (see work_orders)
        start = sc.start_h * 3600.0
        sensor_rows = [r for r in rows if r["sensor"] == sensor.index and r["t"] >= start]
        fail = next((r["t"] + r["actual_h"] * 3600.0 for r in sensor_rows if math.isfinite(r["actual_h"])), math.nan)
        if math.isnan(fail):   # already past at the first evaluation after the start
            fail = next((r["t"] for r in sensor_rows if r["past"]), math.nan)
        first = next(((t, pp, ttf) for t, pp, ttf in orders.get(uid, []) if t >= start), None)
        lead = None if first is None or math.isnan(fail) else round((fail - first[0]) / 3600.0, 1)
        ttf_err = None
        if first is not None and first[2] is not None and not math.isnan(fail):
            ttf_err = round(first[2] - (fail - first[0]) / 3600.0, 1)
        out.append({"scenario": sc.name, "sensor": sc.sensor_id,
                    "fault_to_failure_h": None if math.isnan(fail) else round((fail - start) / 3600.0, 1),
                    "work_order_lead_h": lead, "ttf_error_h": ttf_err,
                    "orders_before_fault": len([o for o in orders.get(uid, []) if o[0] < start])})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a 3-day fault-free run instead of 9 days")
    args = ap.parse_args()
    from sidecar.maintenance.trend import calibrate
    from sidecar.model import build_model
    from sidecar.simulation.sample_building import build_demo_building

    tic = time.perf_counter()
    model = build_model(build_demo_building())
    probe = make_source(model, [], 1)
    probe.started_wall = local_monday()
    specs, scenarios = fault_specs(model, probe, probe.started_wall, SCENARIOS + OWN_SCENARIOS)
    days_faults, days_free = 7.0, 3.0 if args.quick else 9.0

    def run(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        faulty = evaluate(model, simulate(model, specs, days_faults, seed), days_faults)
        free = evaluate(model, simulate(model, [], days_free, seed + 100), days_free)
        return faulty, free

    train_faulty, train_free = run(11)
    train = [r for r in train_faulty + train_free if not r["past"]]
    z = np.array([r["z"] for r in train])
    y = np.array([r["label"] for r in train])
    a, b = fit_isotonic(z, y)
    print(f"isotonic calibration fitted on seed 11 ({len(train)} rows, {int(y.sum())} positive):")
    print(f"CALIBRATION_Z = {a}")
    print(f"CALIBRATION_P = {b}")
    print("CIRCULAR: the faults are the simulator's own and the calibration is fitted on the same simulator.")

    test_faulty, test_free = run(12)
    test = [r for r in test_faulty + test_free if not r["past"]]
    zt = np.array([r["z"] for r in test])
    yt = np.array([r["label"] for r in test])
    p = np.array([calibrate(v, a, b) for v in zt])
    p_raw = np.array([1.0 / (1.0 + math.exp(-min(max(v, -30.0), 30.0))) for v in zt])
    brier = float(np.mean((p - yt) ** 2))
    brier_raw = float(np.mean((p_raw - yt) ** 2))
    base = float(np.mean((yt.mean() - yt) ** 2))
    rel = reliability(p, yt)
    pred = p >= THRESHOLD
    tp = int((pred & (yt == 1)).sum())
    prec = tp / max(1, int(pred.sum()))
    rec = tp / max(1, int(yt.sum()))
    print(f"seed 12: {len(test)} rows, {int(yt.sum())} positive; Brier {brier:.4f} (uncalibrated sigmoid(z) "
          f"{brier_raw:.4f}, base rate {base:.4f}); at p >= 0.7 precision {prec:.3f} recall {rec:.3f}")
    for r in rel:
        print(f"  p {r['bin']}: n {r['n']:6d}  predicted {r['mean_predicted']:.3f}  observed {r['observed']:.3f}")

    # Failing now: rows whose latest reading is past the critical limit.
    past = [r for r in test_faulty + test_free if r["past"]]
    p_past_legacy = np.array([calibrate(r["z_legacy"], a, b) for r in past])
    contradictions = int((p_past_legacy < 0.5).sum())
    print(f"past a critical limit (seed 12): {len(past)} rows; the engine says p 1.0, 0 h to failure; the trend "
          f"alone said median p {float(np.median(p_past_legacy)) if len(past) else math.nan:.2f}, "
          f"< 0.5 in {contradictions} rows")

    # Lead times per scenario (equipment sensors only) on seed 12, now and before this change.
    scen = scenario_rows(model, scenarios, test_faulty, a, b, legacy=False)
    scen_legacy = scenario_rows(model, scenarios, test_faulty, a, b, legacy=True)
    for now_row, old_row in zip(scen, scen_legacy):
        now_row["legacy_work_order_lead_h"] = old_row["work_order_lead_h"]
        own = "" if any(sc.name == now_row["scenario"] for sc in SCENARIOS) else " [this file's]"
        print(f"{now_row['scenario'] + own:66s} failure {now_row['fault_to_failure_h']} h after start; work order "
              f"{now_row['work_order_lead_h']} h before it (before this change {old_row['work_order_lead_h']}); "
              f"ttf error {now_row['ttf_error_h']} h; orders before the fault: {now_row['orders_before_fault']}")
    n_eq = len(equipment_sensors(model))
    false_orders = sum(len(v) for v in work_orders(test_free, a, b).values())
    false_legacy = sum(len(v) for v in work_orders(test_free, a, b, legacy=True).values())
    per_eq_day = false_orders / (n_eq * days_free)
    print(f"fault-free (seed 112, {days_free:g} days, {n_eq} equipment): {false_orders} work orders = "
          f"{per_eq_day:.4f} per equipment-day (before this change {false_legacy})")
    print(f"elapsed {time.perf_counter() - tic:.1f} s; machine: {machine()}")
    emit({"maintenance": {"calibration_z": a, "calibration_p": b, "brier": round(brier, 5),
                          "brier_uncalibrated": round(brier_raw, 5), "brier_base_rate": round(base, 5),
                          "precision_at_0.7": round(prec, 3), "recall_at_0.7": round(rec, 3),
                          "reliability": rel, "scenarios": scen, "past_critical_rows": len(past),
                          "past_critical_legacy_p_below_half": contradictions,
                          "false_work_orders_per_equipment_day": round(per_eq_day, 4),
                          "false_work_orders_legacy": false_legacy,
                          "circular": "faults and calibration both from the product's simulator"}})


if __name__ == "__main__":
    main()
