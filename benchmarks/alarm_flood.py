"""An alarm flood: does ingest get slower as the alarms in the 10-minute window pile up?

500 vibration sensors flip between normal (2 mm/s) and critical (9 mm/s) on every reading; each
5,000-reading batch (10 readings per sensor) through ``Pipeline.submit`` raises 2,500
activations, so the ISA-18.2 rate window holds 2.5k alarms after the first batch and 40k after
the 16th. Issue 15.3 measured 0.45 s -> 4.7 s per batch over that range when every activation
rescanned the window. Prints the batch times at 2.5k and 40k alarms and their ratio (target:
within 2x); ``--reference`` also runs the old rescanning accounting in the same process.

    python benchmarks/alarm_flood.py [--quick] [--reference]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from sidecar.alarms.metrics import RATE_WINDOW_S, RescanRates
from sidecar.alarms.settings import parse_alarm_settings
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch

SENSORS = 500
BATCH = 5_000


def building() -> dict[str, Any]:
    elements = [{"unique_id": f"fan-{i}", "element_id": i, "kind": "sensor", "category": "Sensors",
                 "location": [0, 0, 0], "parameters": {},
                 "sensor": {"sensor_id": f"vib{i}", "quantity": "vibration", "unit": "mm/s", "source": "ingest:"}}
                for i in range(SENSORS)]
    return {"building_id": "flood", "model": {"title": "flood"}, "exported_ts": 0, "levels": [], "spaces": [],
            "elements": elements}


def run(batches: int, reference: bool) -> list[tuple[int, float]]:
    """(alarms in the window after the batch, seconds for the batch) per batch."""
    model = build_model(building())
    pipeline = Pipeline(model, lambda t, b: None, lambda b: None, alarm_settings=parse_alarm_settings({}))
    pipeline.initialise()
    rates = pipeline.alerts.rates
    if reference:
        rates = pipeline.alerts.rates = RescanRates(rates.flood_threshold, rates.flood_window_s,
                                                    rates.chatter_count, rates.chatter_window_s)
    per_sensor = BATCH // SENSORS
    sensor = np.tile(np.arange(SENSORS, dtype=np.int32), per_sensor)
    step = np.repeat(np.arange(per_sensor), SENSORS)
    value = np.where(step % 2 == 0, 9.0, 2.0)     # critical, normal, critical, ...
    t = time.time() - 60
    figures = []
    for _ in range(batches):
        ts = t + step * 0.001
        t += per_sensor * 0.001
        start = time.perf_counter()
        pipeline.submit(ReadingBatch(model, sensor, ts.astype(float), value))
        elapsed = time.perf_counter() - start
        figures.append((rates.count(time.time(), RATE_WINDOW_S), elapsed))
    return figures


def summary(figures: list[tuple[int, float]]) -> dict[str, float]:
    first = [s for alarms, s in figures if alarms <= 2_500]
    last = [s for alarms, s in figures if alarms >= 37_500]
    small, large = statistics.median(first), statistics.median(last)
    return {"batch_s_at_2500_alarms": small, "batch_s_at_40000_alarms": large, "ratio": large / small}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="one run (default: median of 3)")
    parser.add_argument("--reference", action="store_true", help="also time the old rescanning accounting")
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    print(f"{platform.machine()} {platform.python_version()} cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")
    results: dict[str, Any] = {}
    for label, reference in [("o1", False)] + ([("rescan", True)] if args.reference else []):
        per_run = [summary(run(16, reference)) for _ in range(runs)]
        figures = {k: statistics.median(r[k] for r in per_run) for k in per_run[0]}
        print(f"  {label:7s} batch of {BATCH} readings: {figures['batch_s_at_2500_alarms'] * 1000:8.1f} ms at "
              f"2.5k alarms, {figures['batch_s_at_40000_alarms'] * 1000:8.1f} ms at 40k alarms "
              f"(ratio {figures['ratio']:.2f})")
        results.update({f"{label}_{k}": round(v, 4) for k, v in figures.items()})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
