"""Calibration and evaluation of the live maintenance engine's failure probability and time to failure.

The demo building is simulated by the product's simulator as in ``eval_live.py`` (one reading per
sensor per minute, the same scripted fault scenarios after three fault-free days, plus a 7-day
fault-free run). Every 30 simulated minutes each equipment sensor with a critical limit is
evaluated causally, exactly as ``MaintenanceEngine`` does (``trend.robust_trend`` over the trend
and long windows joined by ``trend.combine``, ``trend.crossing_risk`` at the horizon): raw evidence ``z``; ground truth = the sensor
crosses its critical limit within the horizon (rows already beyond it are left out).

1. Calibration: isotonic regression of the label on ``clip(z, -8, 8)`` fitted on seed 11 (scenario +
   fault-free runs), sampled at knots; the knots are the constants in ``sidecar/maintenance/trend.py``.
2. Evaluation on seed 12 (other noise, same scenarios): Brier score, reliability table, and per
   equipment (max over its sensors, as the engine does): the lead time of the first p >= 0.7
   (the work order) before the failure, the time-to-failure error at that moment, and false work
   orders per equipment-day on the fault-free run (an order closes below 0.3, as configured).

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
from eval_live import fault_specs, local_monday, make_source

sys.path.insert(0, str(REPO))

HORIZON_H, WINDOW_H, LONG_H, STEP_H, PERIOD_S = 24.0, 6.0, 24.0, 0.5, 60.0
THRESHOLD, CLOSE_BELOW = 0.7, 0.3


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


def evaluate(model: Any, series: dict[int, tuple[np.ndarray, np.ndarray]], days: float) -> list[dict[str, Any]]:
    """One row per (equipment sensor, evaluation time): z, ttf, label, time to the actual crossing."""
    from sidecar.maintenance.trend import combine, crossing_risk, robust_trend

    rows = []
    for uid, indices in equipment_sensors(model).items():
        for i in indices:
            if i not in series:
                continue
            t, x = series[i]
            lim = model.sensors[i].limits
            beyond = (x > lim.high_critical) | (x < lim.low_critical)
            crossings = t[1:][beyond[1:] & ~beyond[:-1]]
            now = WINDOW_H * 3600.0 / 4
            while now <= (days * 24.0 - HORIZON_H) * 3600.0:
                hi = np.searchsorted(t, now, "right")
                lo = np.searchsorted(t, now - WINDOW_H * 3600.0)
                lo_long = np.searchsorted(t, now - LONG_H * 3600.0)
                if hi - lo >= 10 and not beyond[hi - 1]:
                    short = robust_trend(t[lo:hi], x[lo:hi], now)
                    trend = None if short is None else combine(short, robust_trend(t[lo_long:hi], x[lo_long:hi], now))
                    if trend is not None:
                        risk = crossing_risk(trend, lim.low_critical, lim.high_critical, HORIZON_H)
                        nxt = crossings[crossings > now]
                        actual = (float(nxt[0]) - now) / 3600.0 if len(nxt) else math.inf
                        rows.append({"uid": uid, "sensor": i, "t": now, "z": float(np.clip(risk.z, -50, 50)),
                                     "ttf": risk.ttf_hours, "label": int(actual <= HORIZON_H), "actual_h": actual})
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


def work_orders(rows: list[dict[str, Any]], a: Any, b: Any) -> dict[str, list[tuple[float, float, Any]]]:
    """Per equipment: (time raised, its p, ttf) of each work order, with the engine's hysteresis."""
    from sidecar.maintenance.trend import calibrate

    by_eq: dict[str, dict[float, tuple[float, Any]]] = {}
    for r in rows:
        p = calibrate(r["z"], a, b)
        cur = by_eq.setdefault(r["uid"], {}).get(r["t"])
        if cur is None or p > cur[0]:
            by_eq[r["uid"]][r["t"]] = (p, r["ttf"])
    out: dict[str, list[tuple[float, float, Any]]] = {}
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    from sidecar.maintenance.trend import calibrate
    from sidecar.model import build_model
    from sidecar.simulation.sample_building import build_demo_building

    tic = time.perf_counter()
    model = build_model(build_demo_building())
    probe = make_source(model, [], 1)
    probe.started_wall = local_monday()
    specs, scenarios = fault_specs(model, probe, probe.started_wall)
    days_faults, days_free = 6.0, 3.0 if args.quick else 7.0

    def run(seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        faulty = evaluate(model, simulate(model, specs, days_faults, seed), days_faults)
        free = evaluate(model, simulate(model, [], days_free, seed + 100), days_free)
        return faulty, free

    train_faulty, train_free = run(11)
    train = train_faulty + train_free
    z = np.array([r["z"] for r in train])
    y = np.array([r["label"] for r in train])
    a, b = fit_isotonic(z, y)
    print(f"isotonic calibration fitted on seed 11 ({len(train)} rows, {int(y.sum())} positive):")
    print(f"CALIBRATION_Z = {a}")
    print(f"CALIBRATION_P = {b}")

    test_faulty, test_free = run(12)
    test = test_faulty + test_free
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

    # Lead times per scenario (equipment sensors only) on seed 12.
    orders = work_orders(test_faulty, a, b)
    scen_rows = []
    for sc in scenarios:
        sensor = model.sensors[model.sensor_index[sc.sensor_id]]
        uid = sensor.host
        if uid is None or model.elements[uid].kind != "equipment":
            continue
        start = sc.start_h * 3600.0
        sensor_rows = [r for r in test_faulty if r["sensor"] == sensor.index and r["t"] >= start]
        fail = next((r["t"] + r["actual_h"] * 3600.0 for r in sensor_rows if math.isfinite(r["actual_h"])), math.nan)
        first = next(((t, pp, ttf) for t, pp, ttf in orders.get(uid, []) if t >= start), None)
        lead = None if first is None or math.isnan(fail) else round((fail - first[0]) / 3600.0, 1)
        ttf_err = None
        if first is not None and first[2] is not None and not math.isnan(fail):
            ttf_err = round(first[2] - (fail - first[0]) / 3600.0, 1)
        before = len([o for o in orders.get(uid, []) if o[0] < start])
        scen_rows.append({"scenario": sc.name, "sensor": sc.sensor_id,
                          "fault_to_failure_h": None if math.isnan(fail) else round((fail - start) / 3600.0, 1),
                          "work_order_lead_h": lead, "ttf_error_h": ttf_err, "orders_before_fault": before})
        print(f"{sc.name:55s} failure {scen_rows[-1]['fault_to_failure_h']} h after start; work order "
              f"{lead} h before it; ttf error at the order {ttf_err} h; orders before the fault: {before}")
    free_orders = work_orders(test_free, a, b)
    n_eq = len(equipment_sensors(model))
    false_orders = sum(len(v) for v in free_orders.values())
    per_eq_day = false_orders / (n_eq * days_free)
    print(f"fault-free (seed 112, {days_free:g} days, {n_eq} equipment): {false_orders} work orders = "
          f"{per_eq_day:.4f} per equipment-day")
    print(f"elapsed {time.perf_counter() - tic:.1f} s; machine: {machine()}")
    emit({"maintenance": {"calibration_z": a, "calibration_p": b, "brier": round(brier, 5),
                          "brier_uncalibrated": round(brier_raw, 5), "brier_base_rate": round(base, 5),
                          "precision_at_0.7": round(prec, 3), "recall_at_0.7": round(rec, 3),
                          "reliability": rel, "scenarios": scen_rows,
                          "false_work_orders_per_equipment_day": round(per_eq_day, 4)}})


if __name__ == "__main__":
    main()
