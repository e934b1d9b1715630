"""Scripted fault scenarios (``[[simulator.scenarios]]``) and their ground truth.

Each scenario resolves, for one building, to the rows of the signals it affects and changes
them as a pure function of simulated time since the simulator started (``x``, seconds):

* ``bearing_wear``: a machine's vibration rises super-linearly (cube of progress) from its
  healthy level to 1.3 x its critical limit at ``failure_s`` and stays there, rougher; the
  motor current of the same equipment rises up to 8 %.
* ``stuck_damper``: the outdoor-air damper freezes at its position at ``start_s``; the mixed-air
  temperature follows the frozen damper and so drifts away from what the economiser would give.
* ``sensor_drift``: a slowly growing offset, reaching 1.25 x the distance to the sensor's
  warning limit (``severity`` x) after ``ramp_s``.
* ``flatline``: the sensor repeats the value it read at ``start_s``, exactly.
* ``meter_offline``: a meter's registers send nothing.
* ``failing_chiller``: kW/ton degrades (power up to +50 % for the same load) and the chilled
  water supply (and return) temperature creeps up to 0.5 K past its critical limit at
  ``failure_s``; compressor vibration rises a little.

``duration_s`` ends a scenario (the equipment is repaired, the meter is back); without it the
scenario lasts. ``severity`` scales the end point (1: as described).
"""
from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sidecar.simulation.drivers import DRIVER_INDEX
from sidecar.simulation.roles import SensorTable, has, host_words
from sidecar.simulation.settings import ScenarioSpec

log = logging.getLogger(__name__)

CleanAt = Callable[[float], np.ndarray]   # simulated seconds since start -> clean value of every row


@dataclass(slots=True)
class Context:
    """What a scenario sees while changing one batch of values."""

    x: np.ndarray               # simulated seconds since the simulator started, per sample
    drivers: np.ndarray         # compute_drivers at those times
    clean: np.ndarray           # noise-free values of every row at those times
    clean_at: CleanAt
    rng: np.random.Generator


@dataclass(slots=True)
class Scenario:
    spec: ScenarioSpec
    target: str                 # the equipment's unique_id, or the sensor's id
    target_label: str
    rows: dict[str, list[int]]  # what each affected row plays in the scenario
    sensor_ids: list[str]
    table: SensorTable = field(repr=False)

    @property
    def start(self) -> float:
        return self.spec.start_s

    @property
    def failure(self) -> float | None:
        if self.spec.name not in ("bearing_wear", "failing_chiller", "sensor_drift"):
            return None
        if self.spec.failure_s is not None:
            return self.spec.failure_s
        return self.spec.start_s + self.spec.ramp_s

    @property
    def end(self) -> float | None:
        return None if self.spec.duration_s is None else self.spec.start_s + self.spec.duration_s

    def active(self, x: np.ndarray) -> np.ndarray:
        on = x >= self.start
        if self.end is not None:
            on &= x < self.end
        return on

    def progress(self, x: np.ndarray) -> np.ndarray:
        failure = self.failure if self.failure is not None else self.start + self.spec.ramp_s
        return np.clip((x - self.start) / max(failure - self.start, 1e-9), 0.0, 1.0)

    def ground_truth(self, origin: float, time_scale: float) -> dict[str, Any]:
        """The timeline in reading timestamps (epoch seconds)."""
        def ts(offset: float | None) -> float | None:
            return None if offset is None else origin + offset / time_scale
        return {"scenario": self.spec.name, "target": self.target, "target_name": self.target_label,
                "sensor_ids": list(self.sensor_ids), "severity": self.spec.severity,
                "start_ts": ts(self.start), "failure_ts": ts(self.failure), "end_ts": ts(self.end)}

    # -- effects -----------------------------------------------------------------------
    def apply(self, ctx: Context, values: np.ndarray, keep: np.ndarray) -> None:
        on = self.active(ctx.x)
        if not on.any():
            return
        name, rows, sev = self.spec.name, self.rows, self.spec.severity
        if name == "bearing_wear":
            p = self.progress(ctx.x)
            row = rows["vibration"][0]
            healthy = float(ctx.clean_at(self.failure or self.start)[row])
            critical = self.table.sensors[row].limits.high_critical
            failed = 1.3 * critical if math.isfinite(critical) else 4.0 * healthy
            rise = sev * (failed - healthy) * p ** 3
            rough = ctx.rng.standard_normal(len(p)) * 0.05 * rise   # a worn bearing is rougher
            values[row] += np.where(on, rise + rough, 0.0)
            for current in rows.get("current", []):
                values[current] *= np.where(on, 1.0 + 0.08 * sev * p ** 2, 1.0)
        elif name == "stuck_damper":
            frozen = ctx.clean_at(self.start)
            for row in rows["damper"]:
                values[row] = np.where(on, frozen[row], values[row])
            damper = rows["damper"][0]
            stuck_share = frozen[damper] / 100.0 if self.table.roles[damper].driver == "damper" else math.nan
            if math.isfinite(stuck_share):
                expected_share = ctx.clean[damper] / 100.0
                outdoor = ctx.drivers[DRIVER_INDEX["outdoor_c"]]
                ret = ctx.drivers[DRIVER_INDEX["return_c"]]
                for row in rows.get("mixed", []):
                    values[row] += np.where(on, (stuck_share - expected_share) * (outdoor - ret), 0.0)
        elif name == "sensor_drift":
            row = rows["sensor"][0]
            values[row] += np.where(on, self._drift_magnitude(ctx, row) * self.progress(ctx.x), 0.0)
        elif name == "flatline":
            row = rows["sensor"][0]
            values[row] = np.where(on, round(float(ctx.clean_at(self.start)[row]), 3), values[row])
        elif name == "meter_offline":
            for row in rows["meter"]:
                keep[row] &= ~on
        elif name == "failing_chiller":
            p = self.progress(ctx.x)
            for row in rows["power"]:
                values[row] *= np.where(on, 1.0 + 0.5 * sev * p, 1.0)
            supply = rows.get("supply", [])
            if supply:
                row = supply[0]
                healthy = float(ctx.clean_at(self.failure or self.start)[row])
                critical = self.table.sensors[row].limits.high_critical
                target = critical + 0.5 if math.isfinite(critical) else healthy + 6.0
                creep = np.where(on, sev * (target - healthy) * p ** 2, 0.0)
                for r in supply + rows.get("return", []):
                    values[r] += creep
            for row in rows.get("vibration", []):
                values[row] += np.where(on, 0.8 * sev * p ** 2, 0.0)

    def _drift_magnitude(self, ctx: Context, row: int) -> float:
        sensor = self.table.sensors[row]
        nominal = float(ctx.clean_at(self.start)[row])
        high, low = sensor.limits.high, sensor.limits.low
        sev = self.spec.severity
        if math.isfinite(high):
            return sev * 1.25 * (high - nominal)
        if math.isfinite(low):
            return sev * 1.25 * (low - nominal)
        return sev * (0.2 * abs(nominal) + 1.0)


# -- resolving targets ------------------------------------------------------------------
def _equipment_rows(table: SensorTable) -> dict[str, list[int]]:
    hosts: dict[str, list[int]] = {}
    for row, sensor in enumerate(table.sensors):
        if sensor.host:
            hosts.setdefault(sensor.host, []).append(row)
    return hosts


def _match_target(table: SensorTable, target: str) -> tuple[str | None, int | None]:
    """(equipment unique_id, sensor row) named by ``target``: a unique_id, a sensor_id, or an
    equipment's mark or name (case-insensitive)."""
    model = table.model
    for row, sensor in enumerate(table.sensors):
        if target == sensor.sensor_id:
            return sensor.host, row
    if target in model.elements:
        element = model.elements[target]
        own = [row for row, s in enumerate(table.sensors) if s.unique_id == target]
        return (None, own[0]) if own else (element.unique_id, None)
    wanted = target.strip().lower()
    for element in model.elements.values():
        if wanted and wanted in (element.mark.lower(), element.name.lower()):
            return element.unique_id, None
    return None, None


def _rows_by_role(table: SensorTable, rows: list[int], *roles: str) -> list[int]:
    return [r for r in rows if table.roles[r].name in roles]


def _find(table: SensorTable, spec: ScenarioSpec) -> tuple[str, dict[str, list[int]]] | None:
    """The target and the rows a scenario affects, or None when the building has nothing suitable."""
    hosts = _equipment_rows(table)
    host, row = (None, None) if spec.target is None else _match_target(table, spec.target)
    if spec.target is not None and host is None and row is None:
        return None
    name = spec.name
    if name in ("sensor_drift", "flatline"):
        if row is None:
            quantities = ("temperature",) if name == "sensor_drift" else ("co2", "temperature", "humidity")
            candidates = hosts.get(host, []) if host else range(len(table.sensors))
            picks = [r for q in quantities for r in candidates if table.sensors[r].quantity == q]
            if not picks:
                return None
            row = picks[0]
        return table.sensors[row].sensor_id, {"sensor": [row]}

    def equipment_with(test: Callable[[list[int]], dict[str, list[int]] | None]) -> tuple[str, dict[str, list[int]]] | None:
        if host is not None:
            found = test(hosts.get(host, []))
            return (host, found) if found else None
        for uid, members in hosts.items():
            found = test(members)
            if found:
                return uid, found
        return None

    if name == "bearing_wear":
        def bearing(members: list[int]) -> dict[str, list[int]] | None:
            vib = [r for r in members if table.sensors[r].quantity == "vibration"]
            if row is not None and row in vib:
                vib = [row]
            vib.sort(key=lambda r: table.roles[r].name != "fan_vibration")
            return {"vibration": vib[:1],
                    "current": [r for r in members if table.sensors[r].quantity == "current"]} if vib else None
        return equipment_with(bearing)
    if name == "stuck_damper":
        def damper(members: list[int]) -> dict[str, list[int]] | None:
            dampers = _rows_by_role(table, members, "oa_damper_position")
            if not dampers:
                return None
            return {"damper": dampers, "mixed": _rows_by_role(table, members, "mixed_air_temp")}
        found = equipment_with(damper)
        if found is None and host is not None:   # a VAV box: the damper only
            members = _rows_by_role(table, hosts.get(host, []), "damper_position")
            found = (host, {"damper": members}) if members else None
        return found
    if name == "meter_offline":
        def meter(members: list[int]) -> dict[str, list[int]] | None:
            registers = any(table.sensors[r].quantity == "energy" for r in members)
            return {"meter": members} if registers else None
        return equipment_with(meter)
    if name == "failing_chiller":
        def chiller(members: list[int]) -> dict[str, list[int]] | None:
            power = _rows_by_role(table, members, "chiller_power")
            if not members or not power and not has(host_words(table.model, table.sensors[members[0]].host), "chiller"):
                return None
            power = power or [r for r in members if table.sensors[r].quantity == "power"]
            if not power:
                return None
            return {"power": power, "supply": _rows_by_role(table, members, "chw_supply_temp"),
                    "return": _rows_by_role(table, members, "chw_return_temp"),
                    "vibration": [r for r in members if table.sensors[r].quantity == "vibration"]}
        return equipment_with(chiller)
    return None


def resolve_scenarios(table: SensorTable, specs: list[ScenarioSpec]) -> list[Scenario]:
    """The scenarios that apply to this building (others are logged and ignored)."""
    model = table.model
    out: list[Scenario] = []
    for spec in specs:
        found = _find(table, spec)
        if found is None:
            log.warning("simulator scenario %s ignored: %s", spec.name,
                        f"no simulated sensor or equipment {spec.target!r} suits it" if spec.target
                        else "the building has no suitable simulated equipment")
            continue
        target, rows = found
        element = model.elements.get(target)
        label = (element.label if element else target)
        affected = sorted({r for members in rows.values() for r in members})
        out.append(Scenario(spec, target, label, rows, [table.sensors[r].sensor_id for r in affected], table))
    return out
