"""``sim:`` — a building simulator for every sensor whose source is ``sim:`` (or absent).

Values follow plausible daily shapes per quantity (occupancy schedule; CO2, VOC, power,
current and flow following occupancy; temperatures and humidity with a gentle daily swing;
steady machine vibration) inside a band derived from the sensor's own limits, so a healthy
simulated building raises no alerts whatever limits the configuration sets. Scripted faults
(``[[simulator.faults]]``: spike, drift, stuck, offline, step) are applied on top; with none
configured and ``demo_faults`` on, two demo faults show alerts being raised and cleared: the
first AHU's supply-fan vibration ramps past its critical limit within ~15 s, and a zone's
CO2 rises past its warning limit and recovers ~30 s after start (both repeat).

The simulator is vectorised: one tick computes every sensor's readings as a (sensors x
samples) array and hands the whole batch to the pipeline.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sidecar.config import FaultSpec, SimulatorConfig
from sidecar.model import BuildingModel
from sidecar.sources.base import RUNNING, Sink, Source, register_source

log = logging.getLogger(__name__)

SHAPE_FLAT, SHAPE_OCCUPANCY, SHAPE_DIURNAL, SHAPE_COUNT, SHAPE_STATUS, SHAPE_ENERGY = range(6)
QUANTITY_SHAPES = {
    "occupancy": SHAPE_COUNT, "co2": SHAPE_OCCUPANCY, "voc": SHAPE_OCCUPANCY, "pm25": SHAPE_DIURNAL,
    "power": SHAPE_OCCUPANCY, "current": SHAPE_OCCUPANCY, "flow": SHAPE_OCCUPANCY,
    "temperature": SHAPE_DIURNAL, "humidity": SHAPE_DIURNAL, "pressure": SHAPE_DIURNAL,
    "vibration": SHAPE_FLAT, "status": SHAPE_STATUS, "energy": SHAPE_ENERGY,
}
# Lower end of the normal band for quantities with only a high limit (outdoor CO2 ~420 ppm).
QUANTITY_FLOORS = {"co2": 420.0, "voc": 40.0, "pm25": 3.0, "vibration": 0.8}
# Normal band when a sensor has no limit at all.
UNLIMITED_BANDS = {"occupancy": (0.0, 20.0), "power": (5.0, 50.0), "energy": (0.0, 25.0),
                   "status": (1.0, 1.0), "current": (2.0, 30.0), "flow": (50.0, 400.0)}
NOISE_FRACTION = 0.03


def occupancy_fraction(wall_ts: np.ndarray) -> np.ndarray:
    """Share of a typical office's occupants present at each (local) time: arrivals 7-9,
    lunch dip 12-13:30, departures 17-19, weekends nearly empty."""
    local = np.asarray(wall_ts) - time.timezone + (3600 if time.localtime().tm_isdst > 0 else 0)
    hours = (local % 86400.0) / 3600.0
    weekday = ((local // 86400.0).astype(np.int64) + 3) % 7   # 1970-01-01 was a Thursday (3)
    rise = np.clip((hours - 7.0) / 2.0, 0.0, 1.0)
    fall = np.clip((19.0 - hours) / 2.0, 0.0, 1.0)
    fraction = np.minimum(rise, fall)
    fraction = np.where((hours >= 12.0) & (hours < 13.5), fraction * 0.75, fraction)
    return np.where(weekday >= 5, fraction * 0.1, fraction)


def diurnal(wall_ts: np.ndarray) -> np.ndarray:
    """0..1, low before dawn, highest mid-afternoon."""
    hours = ((np.asarray(wall_ts) - time.timezone) % 86400.0) / 3600.0
    return 0.5 + 0.35 * np.sin(2.0 * math.pi * (hours - 9.0) / 24.0)


@dataclass(slots=True)
class ActiveFault:
    position: int         # row in this source's sensor set
    spec: FaultSpec
    frozen: float = math.nan

    def window(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(active, seconds since this occurrence began) at simulator times ``t``."""
        spec = self.spec
        since = t - spec.start_s
        duration = spec.duration_s
        if spec.period_s is not None:
            since = np.mod(since, spec.period_s)
            duration = duration if duration is not None else spec.period_s / 2.0
            active = (t >= spec.start_s) & (since < duration)
        else:
            active = since >= 0.0
            if duration is not None:
                active &= since < duration
        return active, since


@register_source
class SimSource(Source):
    scheme = "sim"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: Any):
        super().__init__(model, sensors, sink, settings)
        self.config: SimulatorConfig = settings if isinstance(settings, SimulatorConfig) else SimulatorConfig()
        self.rng = np.random.default_rng(self.config.seed)
        self.started_wall = time.time()
        self._carry = 0.0
        self._last_wall = time.time()
        chosen = [model.sensors[i] for i in sensors.tolist()]
        self.shape = np.array([QUANTITY_SHAPES.get(s.quantity, SHAPE_FLAT) for s in chosen], dtype=np.int8)
        self.band_lo = np.empty(len(chosen))
        self.band_hi = np.empty(len(chosen))
        for row, sensor in enumerate(chosen):
            self.band_lo[row], self.band_hi[row] = self._band(model, sensor.index, sensor.quantity)
        self.energy = np.zeros(len(chosen))
        self.faults = self._resolve_faults(model, chosen)

    @staticmethod
    def _band(model: BuildingModel, index: int, quantity: str) -> tuple[float, float]:
        high = float(np.fmin(model.high[index], model.high_critical[index]))
        low = float(np.fmax(model.low[index], model.low_critical[index]))
        if math.isfinite(high) and math.isfinite(low) and high > low:
            span = high - low
            return low + 0.3 * span, high - 0.3 * span
        if math.isfinite(high):
            floor = QUANTITY_FLOORS.get(quantity, 0.1 * high if high > 0 else high - 10.0)
            top = 0.6 * high if high > 0 else high - 2.0
            return (floor, top) if floor < top else (top - abs(top) * 0.2 - 1.0, top)
        if math.isfinite(low):
            return low + abs(low) * 0.5 + 1.0, low + abs(low) + 2.0
        return UNLIMITED_BANDS.get(quantity, (10.0, 90.0))

    # -- faults --------------------------------------------------------------------------
    def _resolve_faults(self, model: BuildingModel, chosen: list[Any]) -> list[ActiveFault]:
        rows = {sensor.sensor_id: row for row, sensor in enumerate(chosen)}
        faults: list[ActiveFault] = []
        for spec in self.config.faults:
            if spec.sensor_id not in rows:
                log.warning("simulator fault on %s ignored: not a simulated sensor of this building", spec.sensor_id)
                continue
            faults.append(ActiveFault(rows[spec.sensor_id], spec))
        if not self.config.faults and self.config.demo_faults:
            faults.extend(self._demo_faults(model, chosen))
        for fault in faults:
            spec = fault.spec
            log.info("simulator fault: %s on %s from %.0f s (magnitude %g%s)", spec.kind, spec.sensor_id,
                     spec.start_s, spec.magnitude, f", every {spec.period_s:g} s" if spec.period_s else "")
        return faults

    def _demo_faults(self, model: BuildingModel, chosen: list[Any]) -> list[ActiveFault]:
        baseline = self._baseline(np.array([time.time()]))[:, 0]
        faults: list[ActiveFault] = []

        def words(sensor: Any) -> str:
            host = model.elements.get(sensor.host or "")
            parts = [sensor.label, sensor.sensor_id]
            if host is not None:
                parts += [host.category, host.family, host.type, host.name, host.mark]
            return " ".join(parts).lower()

        vibration = [(row, s) for row, s in enumerate(chosen) if s.quantity == "vibration"]
        ahu = [(row, s) for row, s in vibration if "ahu" in words(s) or "air handling" in words(s)]
        pick = sorted(ahu or vibration, key=lambda rs: ("supply" not in words(rs[1]), rs[0]))
        if pick:
            row, sensor = pick[0]
            critical = sensor.limits.high_critical
            target = critical * 1.25 if math.isfinite(critical) else sensor.limits.high * 1.5
            if math.isfinite(target):
                faults.append(ActiveFault(row, FaultSpec(sensor.sensor_id, "drift", start_s=4.0, ramp_s=14.0,
                                                         magnitude=target - baseline[row], duration_s=45.0,
                                                         period_s=90.0)))
        co2 = [(row, s) for row, s in enumerate(chosen) if s.quantity == "co2"]
        if co2:
            row, sensor = co2[0]
            high, critical = sensor.limits.high, sensor.limits.high_critical
            target = high + 0.4 * (critical - high) if math.isfinite(critical) else high * 1.15
            if math.isfinite(target):
                faults.append(ActiveFault(row, FaultSpec(sensor.sensor_id, "drift", start_s=6.0, ramp_s=8.0,
                                                         magnitude=target - baseline[row], duration_s=24.0,
                                                         period_s=60.0)))
        return faults

    # -- values --------------------------------------------------------------------------
    def _baseline(self, wall: np.ndarray) -> np.ndarray:
        """Fault-free, noise-free values, shape (sensors, len(wall))."""
        occupancy = occupancy_fraction(wall)[None, :]
        daily = diurnal(wall)[None, :]
        shape = self.shape[:, None]
        level = np.where(shape == SHAPE_OCCUPANCY, occupancy,
                         np.where(shape == SHAPE_DIURNAL, daily, 0.5))
        level = np.where(shape == SHAPE_COUNT, occupancy, level)
        level = np.where(shape == SHAPE_STATUS, 1.0, level)
        return self.band_lo[:, None] + (self.band_hi - self.band_lo)[:, None] * level

    def sample(self, wall: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Readings of every simulated sensor at wall-clock times ``wall``, flattened to
        (sensor indices, timestamps, values), faults applied."""
        values = self._baseline(wall)
        span = (self.band_hi - self.band_lo)[:, None]
        values = values + NOISE_FRACTION * np.maximum(span, 1e-6) * self.rng.standard_normal(values.shape)
        counts = self.shape == SHAPE_COUNT
        values[counts] = np.maximum(np.round(values[counts]), 0.0)
        status = self.shape == SHAPE_STATUS
        values[status] = 1.0
        energy = self.shape == SHAPE_ENERGY
        if energy.any():
            # A meter counts up: integrate the (occupancy-shaped) load over each sample step.
            step_h = np.diff(np.concatenate(([self._last_wall], wall))) / 3600.0
            load = self.band_lo[energy, None] + (self.band_hi - self.band_lo)[energy, None] * occupancy_fraction(wall)
            values[energy] = self.energy[energy, None] + np.cumsum(load * step_h[None, :], axis=1)
            self.energy[energy] = values[energy][:, -1]
        keep = np.ones(values.shape, dtype=bool)
        t = wall - self.started_wall
        for fault in self.faults:
            active, since = fault.window(t)
            row = fault.position
            kind = fault.spec.kind
            if kind in ("spike", "step"):
                values[row] += np.where(active, fault.spec.magnitude, 0.0)
            elif kind == "drift":
                values[row] += np.where(active, fault.spec.magnitude * np.clip(since / fault.spec.ramp_s, 0, 1), 0.0)
            elif kind == "stuck":
                if active.any() and math.isnan(fault.frozen):
                    fault.frozen = float(values[row][np.argmax(active)])
                values[row] = np.where(active, fault.frozen, values[row])
                if not active[-1]:
                    fault.frozen = math.nan
            elif kind == "offline":
                keep[row] &= ~active
        sensors = np.broadcast_to(self.sensors[:, None], values.shape)
        stamps = np.broadcast_to(wall[None, :], values.shape)
        return sensors[keep].astype(np.int32), stamps[keep].astype(np.float64), values[keep]

    async def run(self) -> None:
        rate, interval = self.config.rate_hz, self.config.interval_s
        self.state = RUNNING
        self._last_wall = time.time()
        next_tick = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick += interval
            now = time.time()
            if now - self._last_wall > 10 * interval:   # the machine slept: do not replay the gap
                self._last_wall = now - interval
            wanted = rate * (now - self._last_wall) + self._carry
            samples = int(wanted)
            self._carry = wanted - samples
            if samples <= 0 or len(self.sensors) == 0:
                continue
            step = (now - self._last_wall) / samples
            wall = self._last_wall + step * np.arange(1, samples + 1)
            self._last_wall = now
            sensors, stamps, values = self.sample(wall)
            self.sink(sensors, stamps, values)
