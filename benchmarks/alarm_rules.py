"""Cost of the alarm rules on the pipeline's hot path.

Feeds batches of in-range readings (1,000 sensors of mixed quantities) through
``Pipeline.submit`` with: every rule off but limits, the default rules, and the default rules
plus the live anomaly detector (``--model``, ``[alerts.anomaly] model``: ``streaming`` by default).
Prints medians and a last-line JSON of figures. With ``--model ensemble-vigilance`` the detector is
timed twice: during the sensors' warm-up (``[alerts.anomaly] warmup_readings``, 750) and after it
(the steady state, which is what a running building pays).

    python benchmarks/alarm_rules.py [--quick] [--model streaming|ensemble-vigilance]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from sidecar.alarms.settings import parse_alarm_settings
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch

QUANTITIES = [("temperature", "Cel", 21.0), ("co2", "ppm", 600.0), ("vibration", "mm/s", 2.0),
              ("humidity", "%", 45.0), ("power", "kW", 50.0)]


def building(n: int) -> dict:
    elements = []
    for i in range(n):
        quantity, unit, _ = QUANTITIES[i % len(QUANTITIES)]
        elements.append({"unique_id": f"s-{i}", "element_id": i, "kind": "sensor", "category": "Sensors",
                         "location": [0, 0, 0], "parameters": {},
                         "sensor": {"sensor_id": f"s{i}", "quantity": quantity, "unit": unit, "source": "ingest:"}})
    return {"building_id": "bench", "model": {"title": "bench"}, "exported_ts": 0, "levels": [], "spaces": [],
            "elements": elements}


def run(config: dict, sensors: int, batch: int, batches: int, skip: int = 1) -> float:
    """Median cost per reading of a ``Pipeline.submit`` batch, the first ``skip`` batches unmeasured."""
    model = build_model(building(sensors))
    pipeline = Pipeline(model, lambda t, b: None, lambda b: None, alarm_settings=parse_alarm_settings(config))
    pipeline.initialise()
    rng = np.random.default_rng(1)
    base = np.array([QUANTITIES[i % len(QUANTITIES)][2] for i in range(sensors)])
    per_sensor = batch // sensors
    t = time.time() - 3600
    timings = []
    for _ in range(batches):
        sensor = np.tile(np.arange(sensors, dtype=np.int32), per_sensor)
        ts = t + np.repeat(np.arange(per_sensor, dtype=float), sensors) * 0.01
        value = base[sensor] * (1 + 0.01 * rng.standard_normal(len(sensor)))
        t += per_sensor * 0.01 + 1
        start = time.perf_counter()
        pipeline.submit(ReadingBatch(model, sensor, ts, value))
        timings.append(time.perf_counter() - start)
    return statistics.median(timings[skip:]) / batch * 1e6   # us per reading


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--model", choices=("streaming", "ensemble-vigilance"), default="streaming",
                        help="the anomaly detector of the with-detector run")
    args = parser.parse_args()
    batches = 6 if args.quick else 21
    sensors, batch = 1000, 100_000
    off = {"rate_of_change": {"enabled": False}, "flatline": {"enabled": False}, "stale": {"enabled": False}}
    detector: dict = {"enabled": True, "detector": True}
    if args.model == "streaming":
        with_detector = {"with_detector_us_per_reading": run({"anomaly": detector}, sensors, batch,
                                                             max(3, batches // 3))}
    else:
        warmup = 750
        detector.update(model=args.model, warmup_readings=warmup)
        warm_batches = -(-warmup // (batch // sensors))   # batches until every sensor is past warm-up
        steady = 3 if args.quick else 5
        with_detector = {
            "with_detector_warmup_us_per_reading": run({"anomaly": detector}, sensors, batch, 3),
            "with_detector_us_per_reading": run({"anomaly": detector}, sensors, batch, warm_batches + 1 + steady,
                                                skip=warm_batches + 1),
        }
    figures = {
        "limits_only_us_per_reading": run(off, sensors, batch, batches),
        "default_rules_us_per_reading": run({}, sensors, batch, batches),
        **with_detector,
    }
    figures["rules_overhead_us_per_reading"] = (figures["default_rules_us_per_reading"]
                                                - figures["limits_only_us_per_reading"])
    for name, value in figures.items():
        print(f"  {name:34s} {value:8.3f}")
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
