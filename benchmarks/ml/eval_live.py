"""The live path: the building simulator's scripted faults through the live anomaly detector.

Builds the demo building (``sidecar.simulation.sample_building.build_demo_building`` -> ``build_model``),
creates the simulator source (``SimSource``, public constructor, scripted ``FaultSpec``s, a
collecting sink is not needed: its vectorised ``sample(wall)`` is driven directly over simulated
time, one reading per sensor per ``--period`` seconds, without sleeping) and scores every reading
with the live detector's ``score_many`` exactly as the pipeline does, one batch per hour. The
detector is ``--model`` (``streaming``, the default, or ``ensemble-vigilance``), built by
``sidecar.analytics.detectors.live.build_anomaly_detector`` as the alert rule and the maintenance engine
build it (``--warmup`` readings per sensor for ensemble-vigilance, default 750).

Alerts, as the alert engine raises them with its defaults (``[alerts.anomaly]``: threshold 0.9,
deadband 0.2, off-delay 300 s; limits from the sensor's config or ``sidecar/limits.py``):

* anomaly alert: a reading scores >= 0.9; the alert clears once scores stay below 0.7 for 300 s,
  after which a new alert can be raised;
* limit alert: a reading beyond the sensor's warning limit (``high``/``low``).

Per fault scenario: the failure point is the first reading beyond the sensor's *critical* limit
(drifts: when the degradation crosses it; steps and spikes: at once); the lead time is failure
point minus the first alert on that sensor at or after the fault's start (positive: the alert came
first). Scenarios without a critical crossing (stuck sensor) report the detection delay from the
fault's start. False alerts: anomaly alerts per sensor-day over every simulated sensor in a
fault-free run (the first day, while the detector learns the daily profile, reported apart).
``--threshold`` replaces 0.9 (the clear level stays 0.2 below it, the rule's default deadband); for
any model but the default the fault-free run also reports the alert rate at a few thresholds, so a
threshold can be chosen on fault-free data alone.
Usage: python benchmarks/ml/eval_live.py [--quick] [--model streaming|ensemble-vigilance]
       [--threshold T] [--warmup N]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, machine

sys.path.insert(0, str(REPO))

ANOMALY_THRESHOLD, ANOMALY_CLEAR, OFF_DELAY_S = 0.9, 0.7, 300.0
DEADBAND = ANOMALY_THRESHOLD - ANOMALY_CLEAR
DAY = 86400.0
SWEEP = (0.3, 0.5, 0.7, 0.9)   # thresholds whose fault-free alert rates are reported (non-default models)


@dataclass(frozen=True)
class Detector:
    """Which live detector to run and the anomaly rule's threshold."""

    model: str = "streaming"
    warmup: int = 750
    threshold: float = ANOMALY_THRESHOLD

    def build(self) -> Any:
        from sidecar.analytics.detectors.live import build_anomaly_detector

        return build_anomaly_detector(self.model, self.warmup)


@dataclass
class Scenario:
    name: str
    sensor_id: str
    kind: str
    start_h: float            # hours after the simulation starts
    ramp_h: float = 1.0       # drifts: hours to reach the end point
    end_over_critical: float = 1.25   # end point of a drift/step as a multiple of the critical span
    duration_h: float | None = None


# Warm-up of three days (a weekend included) before any fault, so the daily profile is learnt.
SCENARIOS = (
    Scenario("AHU supply-fan bearing wear (vibration drift, 24 h)", "ahu-01.supply_fan_vibration", "drift", 80, 24),
    Scenario("chiller compressor vibration drift (72 h)", "ch-01.compressor_vibration", "drift", 76, 72),
    Scenario("AHU filter clogging (pressure drift, 48 h)", "ahu-01.filter_dp", "drift", 78, 48),
    Scenario("chilled-water supply temperature drift (12 h)", "ch-01.chw_supply_temp", "drift", 82, 12),
    Scenario("zone CO2 rise (drift, 6 h)", "", "drift", 84, 6),
    Scenario("supply-air temperature step", "ahu-02.supply_air_temp", "step", 86, 0.0, 1.1, 4),
    Scenario("pump current spike (2 min)", "chwp-01.current", "spike", 88, 0.0, 1.1, 2 / 60),
    Scenario("return-air temperature sensor stuck", "ahu-02.return_air_temp", "stuck", 90, 0.0, 0.0, 12),
)


def local_monday(year: int = 2024) -> float:
    """Epoch seconds of local midnight on the first Monday of ``year`` (2024-01-01 is one)."""
    return time.mktime((year, 1, 1, 0, 0, 0, 0, 1, -1))


def make_source(model: Any, faults: list[Any], seed: int) -> Any:
    from sidecar.config import SimulatorConfig
    from sidecar.sources.sim import SimSource

    sim = np.array([s.index for s in model.sensors if s.scheme == "sim"], dtype=np.int32)
    return SimSource(model, sim, lambda *_: None, SimulatorConfig(demo_faults=False, seed=seed, faults=faults))


def fault_specs(model: Any, probe: Any, start: float,
                which: tuple[Scenario, ...] = SCENARIOS) -> tuple[list[Any], list[Scenario]]:
    """FaultSpecs whose end point lies ``end_over_critical`` x the way from baseline to the critical limit."""
    from sidecar.config import FaultSpec

    co2 = next(s.sensor_id for s in model.sensors if s.quantity == "co2" and s.scheme == "sim")
    rows = {int(i): r for r, i in enumerate(probe.sensors.tolist())}
    specs, scenarios = [], []
    for sc in which:
        sid = sc.sensor_id or co2
        sensor = model.sensors[model.sensor_index[sid]]
        base = float(probe._baseline(np.array([start + sc.start_h * 3600.0]))[rows[sensor.index], 0])
        crit = sensor.limits.high_critical
        magnitude = 0.0
        if sc.kind in ("drift", "step", "spike"):
            magnitude = base + sc.end_over_critical * (crit - base) - base
        dur = None if sc.duration_h is None else sc.duration_h * 3600.0
        specs.append(FaultSpec(sid, sc.kind, start_s=sc.start_h * 3600.0, duration_s=dur, magnitude=magnitude,
                               ramp_s=max(sc.ramp_h * 3600.0, 1.0)))
        scenarios.append(Scenario(sc.name, sid, sc.kind, sc.start_h, sc.ramp_h, sc.end_over_critical, sc.duration_h))
    return specs, scenarios


def simulate(model: Any, faults: list[Any], days: float, period_s: float, seed: int,
             detector: Any) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Drive the simulator over simulated time, scoring each hour's batch. Returns per sensor
    index (timestamps, values, scores). Also returns the scoring time via ``detector.busy_s``."""
    t0 = local_monday()
    src = make_source(model, faults, seed)
    src.started_wall = t0
    src._last_wall = t0
    per_hour = round(3600.0 / period_s)
    parts: dict[int, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    busy = 0.0
    for hour in range(int(days * 24)):
        wall = t0 + hour * 3600.0 + period_s * np.arange(1, per_hour + 1)
        sensors, stamps, values = src.sample(wall)
        tic = time.perf_counter()
        scores = detector.score_many(sensors.tolist(), values, stamps)
        busy += time.perf_counter() - tic
        order = np.lexsort((stamps, sensors))
        sensors, stamps, values, scores = sensors[order], stamps[order], values[order], scores[order]
        cuts = np.flatnonzero(np.diff(sensors)) + 1
        for seg in np.split(np.arange(len(sensors)), cuts):
            parts.setdefault(int(sensors[seg[0]]), []).append((stamps[seg], values[seg], scores[seg]))
    detector.busy_s = busy
    return {k: (np.concatenate([p[0] for p in v]) - t0, np.concatenate([p[1] for p in v]),
                np.concatenate([p[2] for p in v])) for k, v in parts.items()}


def anomaly_alerts(t: np.ndarray, score: np.ndarray, threshold: float = ANOMALY_THRESHOLD) -> list[float]:
    """Times at which the engine's default anomaly rule raises an alert (threshold, deadband,
    off-delay), one per episode."""
    raised: list[float] = []
    active, below_since = False, math.nan
    clear = threshold - DEADBAND
    for ti, s in zip(t.tolist(), score.tolist()):
        if not active:
            if s >= threshold:
                active, below_since = True, math.nan
                raised.append(ti)
        elif s < clear:
            below_since = ti if math.isnan(below_since) else below_since
            if ti - below_since >= OFF_DELAY_S:
                active = False
        else:
            below_since = math.nan
    return raised


def first_at_or_after(times: np.ndarray | list[float], start: float) -> float:
    arr = np.asarray(times, dtype=float)
    arr = arr[arr >= start]
    return float(arr[0]) if len(arr) else math.nan


def run_scenarios(model: Any, days: float, period_s: float, detector: Detector = Detector()) -> list[dict[str, Any]]:
    probe = make_source(model, [], 1)
    probe.started_wall = local_monday()
    specs, scenarios = fault_specs(model, probe, probe.started_wall)
    series = simulate(model, specs, days, period_s, 1, detector.build())
    threshold = detector.threshold
    out = []
    for sc in scenarios:
        sensor = model.sensors[model.sensor_index[sc.sensor_id]]
        t, x, s = series[sensor.index]
        start = sc.start_h * 3600.0
        lim = sensor.limits
        beyond_crit = (x > lim.high_critical) | (x < lim.low_critical)
        beyond_warn = (x > lim.high) | (x < lim.low)
        fail = first_at_or_after(t[beyond_crit], start)
        alerts = anomaly_alerts(t, s, threshold)
        anomaly = first_at_or_after(alerts, start)
        limit = first_at_or_after(t[beyond_warn], start)
        first = np.nanmin([anomaly, limit]) if not (math.isnan(anomaly) and math.isnan(limit)) else math.nan
        ref = fail if not math.isnan(fail) else start

        def minutes(v: float, ref: float = ref) -> float | None:
            return None if math.isnan(v) else round((ref - v) / 60.0, 1)

        pre_fault = [a for a in alerts if a < start]
        out.append({"scenario": sc.name, "sensor": sc.sensor_id, "kind": sc.kind,
                    "failure_point": "critical limit crossed" if not math.isnan(fail) else "fault start",
                    "fault_to_failure_min": None if math.isnan(fail) else round((fail - start) / 60.0, 1),
                    "lead_anomaly_min": minutes(anomaly), "lead_limit_warning_min": minutes(limit),
                    "lead_first_alert_min": minutes(first), "alerts_before_fault": len(pre_fault)})
    return out


def false_alerts(model: Any, days: float, period_s: float, detector: Detector = Detector()) -> dict[str, Any]:
    det = detector.build()
    series = simulate(model, [], days, period_s, 2, det)
    sensors = len(series)
    first_day = later = 0
    limit_alerts = 0
    for index, (t, x, s) in series.items():
        raised = np.asarray(anomaly_alerts(t, s, detector.threshold))
        first_day += int((raised < DAY).sum())
        later += int((raised >= DAY).sum())
        lim = model.sensors[index].limits
        limit_alerts += int(((x > lim.high) | (x < lim.low)).sum())
    readings = sum(len(v[0]) for v in series.values())
    out = {"sensors": sensors, "days": days, "period_s": period_s,
           "anomaly_alerts_per_sensor_day": round(later / (sensors * (days - 1)), 4),
           "anomaly_alerts_per_sensor_day_first_day": round(first_day / sensors, 4),
           "limit_readings_beyond_warning": limit_alerts,
           "readings": readings, "score_many_readings_per_s": round(readings / det.busy_s)}
    if detector != Detector():
        # After day 1 only: the basis for choosing a threshold without the fault scenarios.
        out["alerts_per_sensor_day_by_threshold"] = {
            str(th): round(sum(int((np.asarray(anomaly_alerts(t, s, th)) >= DAY).sum())
                               for t, _, s in series.values()) / (sensors * (days - 1)), 4) for th in SWEEP}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--period", type=float, default=60.0, help="seconds between readings of a sensor")
    ap.add_argument("--model", choices=("streaming", "ensemble-vigilance"), default="streaming",
                    help="the live detector ([alerts.anomaly] model)")
    ap.add_argument("--threshold", type=float, default=ANOMALY_THRESHOLD,
                    help="anomaly alert threshold (clears 0.2 below it)")
    ap.add_argument("--warmup", type=int, default=750, help="ensemble-vigilance: warm-up readings per sensor")
    args = ap.parse_args()
    detector = Detector(args.model, args.warmup, args.threshold)
    from sidecar.model import build_model
    from sidecar.simulation.sample_building import build_demo_building

    model = build_model(build_demo_building())
    t0 = time.perf_counter()
    if detector != Detector():
        print(f"model {detector.model}, threshold {detector.threshold:g}, warm-up {detector.warmup} readings")
    rows = run_scenarios(model, days=6.0, period_s=args.period, detector=detector)
    for r in rows:
        print(f"{r['scenario']:55s} {r['sensor']:30s} fault->failure {r['fault_to_failure_min']} min; lead: anomaly "
              f"{r['lead_anomaly_min']} min, limit warning {r['lead_limit_warning_min']} min "
              f"(alerts before the fault: {r['alerts_before_fault']})")
    fa = false_alerts(model, days=3.0 if args.quick else 7.0, period_s=args.period, detector=detector)
    print(f"fault-free: {fa['anomaly_alerts_per_sensor_day']} anomaly alerts per sensor-day after day 1 "
          f"({fa['anomaly_alerts_per_sensor_day_first_day']} on day 1), {fa['sensors']} sensors x {fa['days']} days; "
          f"readings beyond a warning limit: {fa['limit_readings_beyond_warning']}")
    if detector != Detector():
        print("fault-free alerts per sensor-day after day 1 by threshold: "
              + ", ".join(f"{k}: {v}" for k, v in fa["alerts_per_sensor_day_by_threshold"].items()))
        print(f"scoring: {fa['score_many_readings_per_s']} readings/s (score_many, hourly batches of "
              f"{fa['sensors']} sensors)")
    print(f"elapsed {time.perf_counter() - t0:.1f} s; machine: {machine()}")
    figures: dict[str, Any] = {"scenarios": rows, "fault_free": fa}
    if detector != Detector():
        figures.update(model=detector.model, threshold=detector.threshold, warmup=detector.warmup)
    emit({"live": figures})


if __name__ == "__main__":
    main()
