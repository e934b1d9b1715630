"""``sim:`` — a building simulator for every sensor whose source is ``sim:`` (or absent).

Sensors follow coupled physical signals (``sidecar/simulation``): a weekday occupancy schedule
drives room occupancy counts, CO2 (first-order response with ventilation), VOC and the zones'
internal gains; zone temperatures track their setpoints with gains and an outdoor-temperature
daily cycle; AHUs supply air near their setpoint, mix outdoor and return air by the economiser's
damper position, and run their fans (current, vibration, filter pressure drop) with demand;
chillers draw power for the cooling load at a normal kW/ton; meters follow daily load shapes
and their energy counters only go up. Everything stays inside a band derived from each
sensor's own limits, so a healthy simulated building raises no alerts.

Faults: ``[[simulator.scenarios]]`` (bearing wear, stuck damper, sensor drift, flatline, meter
offline, failing chiller; with ground truth, ``ground_truth()`` and
``<data dir>/simulator_ground_truth.json``) and the lower-level ``[[simulator.faults]]`` (spike,
drift, stuck, offline, step on one sensor). With neither configured and ``demo_faults`` on, two
demo faults show alerts being raised and cleared: the first AHU's supply-fan vibration ramps
past its critical limit within ~15 s, and a zone's CO2 rises past its warning limit and
recovers ~30 s after start (both repeat).

Offline use (no sleeping, any simulated time): ``SimSource(model, indices, sink, config)``, then
``reset(origin)``, ``generate(t0, t1, period_s)`` or ``sample(timestamps)`` (readings at those
times) and ``tick(now)`` (what the live loop emits at ``now``). Reading timestamps are epoch
seconds; with ``time_scale`` s, the building's state at timestamp ``w`` is its state at simulated
time ``origin + s * (w - origin)``.

The simulator is vectorised: one call computes every sensor's readings as a (sensors x
samples) array.
"""
from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sidecar.model import BuildingModel, Sensor
from sidecar.simulation.drivers import compute_drivers, diurnal, occupancy_fraction
from sidecar.simulation.roles import SensorTable, is_ahu, sensor_words
from sidecar.simulation.scenarios import Context, Scenario, resolve_scenarios
from sidecar.simulation.settings import FaultSpec, SimulatorConfig
from sidecar.sources.base import RUNNING, Sink, Source, register_source

__all__ = ["GROUND_TRUTH_FILE", "SimSource", "diurnal", "occupancy_fraction"]

log = logging.getLogger(__name__)

GROUND_TRUTH_FILE = "simulator_ground_truth.json"
MAX_CHUNK_VALUES = 2_000_000     # generate() works in chunks of at most this many readings
NOISE_CLIP = 3.0                 # noise is Gaussian, cut at this many sigma (keeps limits safe)


@dataclass(slots=True)
class ActiveFault:
    position: int         # row in this source's sensor set
    spec: FaultSpec
    frozen: float = math.nan

    def window(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(active, seconds since this occurrence began) at simulated seconds ``t``."""
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
class SimSource(Source[SimulatorConfig]):
    scheme = "sim"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: SimulatorConfig | None):
        config = settings if isinstance(settings, SimulatorConfig) else SimulatorConfig()
        super().__init__(model, sensors, sink, config)
        self.config: SimulatorConfig = config
        self.time_scale = self.config.time_scale
        self.rng = np.random.default_rng(self.config.seed)
        chosen = [model.sensors[i] for i in sensors.tolist()]
        self.table = SensorTable(model, chosen)
        # Meter readings: a plausible counter reading to start from, integrated onwards.
        self.energy = np.round(np.random.default_rng(7).uniform(2e4, 2e5, len(chosen)), 1)
        self._energy_t = math.nan          # simulated time the counters were last integrated to
        self.started_wall = time.time()    # the origin: simulated second 0 (reading timestamp)
        self._last_wall = self.started_wall
        self._carry = 0.0
        self.faults = self._resolve_faults(model, chosen)
        self.scenarios: list[Scenario] = resolve_scenarios(self.table, self.config.scenarios)
        for scenario in self.scenarios:
            gt = scenario.ground_truth(0.0, self.time_scale)
            log.info("simulator scenario: %s on %s (%s) from %.0f s%s", scenario.spec.name, scenario.target_label,
                     ", ".join(scenario.sensor_ids), gt["start_ts"],
                     "" if gt["failure_ts"] is None else f", failure at {gt['failure_ts']:.0f} s")

    # -- time ----------------------------------------------------------------------------
    def reset(self, origin: float) -> None:
        """Restart simulated time at ``origin`` (epoch seconds): scenario and fault times count
        from there, and the next ``tick`` emits readings after it."""
        self.started_wall = float(origin)
        self._last_wall = float(origin)
        self._carry = 0.0
        self._energy_t = math.nan
        for fault in self.faults:
            fault.frozen = math.nan

    def _offsets(self, wall: np.ndarray) -> np.ndarray:
        """Simulated seconds since the origin at reading timestamps ``wall``."""
        return self.time_scale * (np.asarray(wall, dtype=np.float64) - self.started_wall)

    def ground_truth(self) -> list[dict[str, Any]]:
        """The scenario timeline: per scenario ``{scenario, target, target_name, sensor_ids,
        severity, start_ts, failure_ts, end_ts}``, timestamps in reading time (epoch seconds,
        ``None`` where it does not apply)."""
        return [s.ground_truth(self.started_wall, self.time_scale) for s in self.scenarios]

    def write_ground_truth(self, directory: Path | str | None = None) -> Path | None:
        """Write ``simulator_ground_truth.json`` to ``directory`` (default: the configured data
        dir) atomically; log the timeline either way. Returns the path written, if any."""
        truth = self.ground_truth()
        if not truth:
            return None
        document = {"building_id": self.model.building_id, "origin_ts": self.started_wall,
                    "time_scale": self.time_scale, "scenarios": truth}
        target_dir = directory if directory is not None else self.config.data_dir
        if target_dir is None:
            log.info("simulator ground truth: %s", json.dumps(document))
            return None
        path = Path(target_dir) / GROUND_TRUTH_FILE
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".json.tmp")
            temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
            os.replace(temporary, path)
        except OSError as error:   # evaluation output must never stop the simulator
            log.warning("cannot write %s (%s); ground truth: %s", path, error, json.dumps(document))
            return None
        log.info("simulator ground truth written to %s", path)
        return path

    # -- faults --------------------------------------------------------------------------
    def _resolve_faults(self, model: BuildingModel, chosen: list[Sensor]) -> list[ActiveFault]:
        rows = {sensor.sensor_id: row for row, sensor in enumerate(chosen)}
        faults: list[ActiveFault] = []
        for spec in self.config.faults:
            if spec.sensor_id not in rows:
                log.warning("simulator fault on %s ignored: not a simulated sensor of this building", spec.sensor_id)
                continue
            faults.append(ActiveFault(rows[spec.sensor_id], spec))
        if not self.config.faults and not self.config.scenarios and self.config.demo_faults:
            faults.extend(self._demo_faults(model, chosen))
        for fault in faults:
            spec = fault.spec
            log.info("simulator fault: %s on %s from %.0f s (magnitude %g%s)", spec.kind, spec.sensor_id,
                     spec.start_s, spec.magnitude, f", every {spec.period_s:g} s" if spec.period_s else "")
        return faults

    def _demo_faults(self, model: BuildingModel, chosen: list[Sensor]) -> list[ActiveFault]:
        baseline = self._baseline(np.array([time.time()]))[:, 0]
        faults: list[ActiveFault] = []
        vibration = [(row, s) for row, s in enumerate(chosen) if s.quantity == "vibration"]
        words = {row: sensor_words(model, s) for row, s in vibration}
        ahu = [(row, s) for row, s in vibration if is_ahu(words[row])]
        pick = sorted(ahu or vibration, key=lambda rs: (" supply " not in words[rs[0]], rs[0]))
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
    def _clean_at_offset(self, offset: float) -> np.ndarray:
        """Noise-free, fault-free value of every row at ``offset`` simulated seconds."""
        t = np.array([self.started_wall + offset])
        return self.table.clean(compute_drivers(t))[:, 0]

    def baseline(self, wall: np.ndarray) -> np.ndarray:
        """Fault-free, noise-free values at reading timestamps ``wall``: what a healthy building
        would read, shape (sensors, len(wall)) in this source's row order."""
        return self._baseline(wall)

    def _baseline(self, wall: np.ndarray) -> np.ndarray:
        """Fault-free, noise-free values at reading timestamps ``wall``, shape (sensors,
        len(wall)); energy counters read their current value."""
        sim_t = self.started_wall + self._offsets(wall)
        values = self.table.clean(compute_drivers(sim_t))
        energy = self.table.energy
        if energy.any():
            values[energy] = self.energy[energy, None]
        return values

    def sample(self, wall: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Readings of every simulated sensor at reading timestamps ``wall`` (ascending), as
        flattened (sensor indices, timestamps, values) with scenarios and faults applied.
        Energy counters integrate from the previous call's last sample."""
        wall = np.asarray(wall, dtype=np.float64)
        table = self.table
        x = self._offsets(wall)
        sim_t = self.started_wall + x
        drivers = compute_drivers(sim_t)
        clean = table.clean(drivers)
        noise = np.clip(self.rng.standard_normal(clean.shape), -NOISE_CLIP, NOISE_CLIP)
        values = clean + table.sigma[:, None] * noise
        if table.count.any():
            # Arrivals and departures are Poisson-like: the spread grows with the head count.
            expected = clean[table.count]
            people = expected + 0.5 * np.sqrt(np.maximum(expected, 0.0)) * noise[table.count]
            values[table.count] = np.maximum(np.round(people), 0.0)
        values[table.status] = 1.0
        if table.non_negative.any():
            values[table.non_negative] = np.maximum(values[table.non_negative], 0.0)
        if table.energy.any():
            self._integrate_energy(sim_t, clean, values)
        keep = np.ones(values.shape, dtype=bool)
        if self.scenarios:
            context = Context(x=x, drivers=drivers, clean=clean, clean_at=self._clean_at_offset, rng=self.rng)
            for scenario in self.scenarios:
                scenario.apply(context, values, keep)
        self._apply_faults(x, values, keep)
        sensors = np.broadcast_to(self.sensors[:, None], values.shape)
        stamps = np.broadcast_to(wall[None, :], values.shape)
        return sensors[keep].astype(np.int32), stamps[keep].astype(np.float64), values[keep]

    def _integrate_energy(self, sim_t: np.ndarray, clean: np.ndarray, values: np.ndarray) -> None:
        """A meter counts up: each sample adds its power (kW) over the simulated step (h)."""
        energy = self.table.energy
        previous = sim_t[0] if math.isnan(self._energy_t) else self._energy_t
        steps_h = np.maximum(np.diff(np.concatenate(([previous], sim_t))), 0.0) / 3600.0
        counters = self.energy[energy, None] + np.cumsum(clean[energy] * steps_h[None, :], axis=1)
        values[energy] = counters
        self.energy[energy] = counters[:, -1]
        self._energy_t = max(float(sim_t[-1]), previous)

    def _apply_faults(self, x: np.ndarray, values: np.ndarray, keep: np.ndarray) -> None:
        for fault in self.faults:
            active, since = fault.window(x)
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

    def generate(self, t0: float, t1: float, period_s: float | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Readings at ``t0 + period_s, t0 + 2 period_s, ... <= t1`` (reading timestamps; default
        period ``1 / rate_hz``), computed in chunks, without sleeping. Counters carry on from the
        previous call, so consecutive calls make one continuous series."""
        period = period_s if period_s is not None else 1.0 / self.config.rate_hz
        if not (period > 0 and math.isfinite(period)):
            raise ValueError(f"period_s must be a positive number, got {period_s!r}")
        count = math.floor((t1 - t0) / period + 1e-9)
        per_chunk = max(1, MAX_CHUNK_VALUES // max(len(self.sensors), 1))
        parts = []
        for first in range(1, count + 1, per_chunk):
            steps = np.arange(first, min(first + per_chunk, count + 1), dtype=np.float64)
            parts.append(self.sample(t0 + period * steps))
        if not parts:
            return np.empty(0, np.int32), np.empty(0), np.empty(0)
        return (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                np.concatenate([p[2] for p in parts]))

    def tick(self, now: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The readings due between the previous tick and ``now`` (default: the clock) at
        ``rate_hz``, evenly spaced, the last one at ``now``. What the live loop emits."""
        now = time.time() if now is None else float(now)
        interval = self.config.interval_s
        if now - self._last_wall > 10 * interval:   # the machine slept: do not replay the gap
            self._last_wall = now - interval
        wanted = self.config.rate_hz * (now - self._last_wall) + self._carry
        samples = int(wanted)
        if samples <= 0 or len(self.sensors) == 0:   # nothing due yet: the time stays owed
            return np.empty(0, np.int32), np.empty(0), np.empty(0)
        self._carry = wanted - samples
        step = (now - self._last_wall) / samples
        wall = self._last_wall + step * np.arange(1, samples + 1)
        self._last_wall = now
        return self.sample(wall)

    async def run(self) -> None:
        self.state = RUNNING
        self._last_wall = time.time()
        self.write_ground_truth()
        interval = self.config.interval_s
        next_tick = time.monotonic() + interval
        while True:
            await asyncio.sleep(max(0.0, next_tick - time.monotonic()))
            next_tick += interval
            sensors, stamps, values = self.tick()
            if len(sensors):
                self.sink(sensors, stamps, values)
