"""Which physical signal each simulated sensor follows, and how it is scaled.

A sensor's role comes from its quantity and keywords in its names (sensor id, label, its own
element's and its host equipment's family, type, name and mark): an AHU's "supply air
temperature", a chiller's "power", a VAV's "damper position"... Every sensor then reads
``offset + gain * driver(t)`` (``drivers``), clipped into a *safe band* inside its alarm limits
(so a healthy building raises nothing whatever limits the configuration sets), plus noise small
enough not to trip the rate-of-change rule. A role whose values would not fit the sensor's
limits (an unusual unit or range) falls back to a generic shape inside the limits.
"""
from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from sidecar.alarms.settings import RateSettings
from sidecar.model import BuildingModel, Sensor
from sidecar.simulation.drivers import DRIVER_INDEX, compute_drivers

# Quantities that cannot be negative.
NON_NEGATIVE = frozenset(("co2", "voc", "pm25", "vibration", "power", "current", "flow", "occupancy", "energy",
                          "position", "humidity"))
# Lower end of the normal band for quantities with only a high limit (outdoor CO2 ~420 ppm).
QUANTITY_FLOORS = {"co2": 420.0, "voc": 40.0, "pm25": 3.0, "vibration": 0.8}
# Normal band when a sensor has no limit at all.
UNLIMITED_BANDS = {"occupancy": (0.0, 20.0), "power": (5.0, 50.0), "energy": (0.0, 25.0),
                   "status": (1.0, 1.0), "current": (2.0, 30.0), "flow": (50.0, 400.0)}
GENERIC_OCCUPANCY = frozenset(("co2", "voc", "power", "current", "flow", "occupancy", "energy"))
GENERIC_DIURNAL = frozenset(("temperature", "humidity", "pm25"))
NOISE_FRACTION = 0.01     # noise sigma as a share of the safe band ...
# ... but no noisier than typical building sensors (temperature within +-0.2 K, ...).
QUANTITY_NOISE = {"temperature": 0.06, "humidity": 0.4, "co2": 5.0, "voc": 4.0, "pm25": 0.3, "vibration": 0.04,
                  "position": 0.3}
SAFE_MARGIN = 0.05        # the safe band keeps this share of the limit span from each limit
RATE_WINDOW_MIN = RateSettings().window_s / 60.0
# Noise sigma never exceeds this share of the change the rate-of-change rule allows per window.
RATE_NOISE_SHARE = 1.0 / 8.0
ROLE_CHECK_HOURS = np.arange(0.0, 7 * 24.0, 0.5)   # a week, to check a role fits the limits


@dataclass(frozen=True, slots=True)
class Role:
    name: str          # what the sensor measures, e.g. "supply_air_temp", "co2", "generic"
    driver: str        # a name in drivers.DRIVER_NAMES
    offset: float
    gain: float


def _tokens(*parts: str) -> str:
    text = " ".join(p for p in parts if p).lower()
    return " " + " ".join(re.findall(r"[a-z]+|\d+|[^\x00-\x7f]+", text)) + " "


def sensor_words(model: BuildingModel, sensor: Sensor) -> str:
    """Space-padded lower-case words naming the sensor and its host equipment."""
    own = model.elements.get(sensor.unique_id)
    parts = [sensor.sensor_id, sensor.label]
    if own is not None:
        parts += [own.family, own.type, own.name]
    return _tokens(*parts) + host_words(model, sensor.host)


def host_words(model: BuildingModel, host: str | None) -> str:
    element = model.elements.get(host or "")
    if element is None:
        return " "
    return _tokens(element.category, element.family, element.type, element.name, element.mark)


def has(words: str, *keys: str) -> bool:
    return any(f" {key} " in words for key in keys)


def is_ahu(words: str) -> bool:
    return bool(re.search(r" ahu\d* |air handling|rooftop unit", words))


def group_rng(key: str) -> np.random.Generator:
    """Per-room / per-equipment variation that is the same in every run."""
    return np.random.default_rng(zlib.crc32(key.encode("utf-8")))


def limit_band(sensor: Sensor) -> tuple[float, float]:
    """(highest low limit, lowest high limit); nan where there is none."""
    lim = sensor.limits
    return float(np.fmax(lim.low, lim.low_critical)), float(np.fmin(lim.high, lim.high_critical))


def safe_band(sensor: Sensor) -> tuple[float, float]:
    """Where healthy values stay: inside the limits by a margin (and at or above 0 for
    quantities that cannot be negative)."""
    low, high = limit_band(sensor)
    deadband = sensor.limits.deadband
    floor = 0.0 if sensor.quantity in NON_NEGATIVE else -math.inf
    if math.isfinite(low) and math.isfinite(high) and high > low:
        margin = min(max(SAFE_MARGIN * (high - low), 2.0 * deadband), 0.25 * (high - low))
        return max(low + margin, floor), high - margin
    if math.isfinite(high):
        return floor, high - max(0.1 * abs(high), 2.0 * deadband)
    if math.isfinite(low):
        return low + max(0.1 * abs(low), 2.0 * deadband), math.inf
    return floor, math.inf


def generic_band(sensor: Sensor) -> tuple[float, float]:
    """The normal band of a sensor without a physical role (the simulator's original shapes)."""
    low, high = limit_band(sensor)
    quantity = sensor.quantity
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


def generic_role(sensor: Sensor) -> Role:
    lo, hi = generic_band(sensor)
    if sensor.quantity in GENERIC_OCCUPANCY:
        return Role("generic", "occ", lo, hi - lo)
    if sensor.quantity in GENERIC_DIURNAL:
        return Role("generic", "diurnal", lo, hi - lo)
    return Role("generic", "one", 0.5 * (lo + hi), 0.0)   # steady (pressure, vibration, unknown)


def _parameter(model: BuildingModel, host: str | None, *names: str) -> float | None:
    element = model.elements.get(host or "")
    if element is None:
        return None
    for name in names:
        value = element.parameters.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def physical_role(model: BuildingModel, sensor: Sensor, words: str) -> Role | None:
    """The sensor's physical role, or None for the generic shapes."""
    q = sensor.quantity
    low, high = limit_band(sensor)
    host = host_words(model, sensor.host)
    group = group_rng(sensor.host or (model.elements[sensor.unique_id].space
                                      if sensor.unique_id in model.elements else "") or sensor.sensor_id)
    if q == "temperature":
        if has(words, "outdoor", "outside", "oat", "ambient"):
            return Role("outdoor_air_temp", "outdoor_c", 0.0, 1.0)
        if has(words, "mixed", "mat"):
            return Role("mixed_air_temp", "mixed_c", 0.0, 1.0)
        if has(words, "chilled", "chw"):
            if has(words, "return", "entering"):
                return Role("chw_return_temp", "chw_return_c", 0.0, 1.0)
            return Role("chw_supply_temp", "chw_supply_c", 0.0, 1.0)
        if has(words, "condenser", "cw", "tower"):
            return Role("cw_supply_temp", "cw_supply_c", 0.0, 1.0)
        if has(words, "heating", "hw", "lthw", "boiler"):
            if has(words, "return"):
                return Role("hw_return_temp", "hw_return_c", 0.0, 1.0)
            return Role("hw_flow_temp", "hw_flow_c", 0.0, 1.0)
        if " return air " in words or has(words, "rat"):
            return Role("return_air_temp", "return_c", 0.0, 1.0)
        if " supply air " in words or " discharge air " in words or has(words, "sat"):
            return Role("supply_air_temp", "supply_c", 0.0, 1.0)
        return Role("zone_temp", "zone_c", float(group.uniform(-0.5, 0.5)), 1.0)
    if q == "humidity":
        return Role("zone_humidity", "zone_rh", float(group.uniform(-3.0, 3.0)), 1.0)
    if q == "co2":   # outdoor air plus what the room's occupants exhale, diluted by ventilation
        return Role("co2", "occ_co2", 420.0, float(group.uniform(250.0, 430.0)))
    if q == "voc":
        return Role("voc", "occ_thermal", 60.0, float(group.uniform(100.0, 200.0)))
    if q == "pm25":
        return Role("pm25", "diurnal", 3.0, float(group.uniform(4.0, 9.0)))
    if q == "occupancy":
        return Role("occupancy", "occ", 0.0, float(np.round(group.uniform(6.0, 30.0))))
    if q == "vibration":
        scale = (high if math.isfinite(high) else 4.5) * float(group.uniform(0.92, 1.08))
        if has(words, "fan") and (is_ahu(words) or has(words, "supply", "extract", "exhaust")):
            return Role("fan_vibration", "fan_vibration", 0.0, scale)
        return Role("machine_vibration", "machine_vibration", 0.0, scale)
    if q == "current":
        rated = high / 1.45 if math.isfinite(high) else 20.0
        if has(words, "fan") or is_ahu(host):
            return Role("fan_current", "fan_current", 0.0, rated)
        if has(words, "pump", "motor"):
            return Role("motor_current", "pump_current", 0.0, rated)
        return None
    if q == "power":
        if has(host, "chiller") or has(words, "chiller"):
            capacity = _parameter(model, sensor.host, "Cooling Capacity (kW)", "Capacity (kW)") or 650.0
            return Role("chiller_power", "chiller_kw", 0.0, capacity)
        rated = 0.6 * high if math.isfinite(high) else 50.0
        if has(words, "heat", "heating", "thermal"):
            return Role("heat_power", "heat_load", 0.0, rated)
        return Role("meter_power", "meter_load", 0.0, rated)
    if q == "energy":
        return Role("meter_energy", "meter_load", 0.0, 0.6 * high if math.isfinite(high) else 50.0)
    if q == "flow":
        if has(words, "chilled", "chw", "water"):
            return Role("chw_flow", "chw_flow", 0.0, high if math.isfinite(high) else 32.0)
        if has(words, "air", "airflow", "vav"):
            nominal = _parameter(model, sensor.host, "Nominal Airflow (L/s)")
            return Role("airflow", "vav_flow", 0.0, nominal or (high / 1.15 if math.isfinite(high) else 500.0))
        return None
    if q == "position":
        if has(words, "damper") and (is_ahu(words) or has(words, "outdoor", "oa")):
            return Role("oa_damper_position", "damper", 0.0, 100.0)
        if has(words, "damper"):
            return Role("damper_position", "vav_damper", 0.0, 1.0)
        return None
    if q == "pressure":
        if has(words, "filter"):
            return Role("filter_dp", "filter_dp", 0.0, 1.0)
        if math.isfinite(low) and math.isfinite(high):   # held at a setpoint by its control loop
            return Role("pressure", "one", 0.5 * (low + high), 0.0)
        return None
    if q == "status":
        return Role("status", "one", 1.0, 0.0)
    return None


class SensorTable:
    """Per-sensor arrays (in the source's row order) that turn drivers into clean values."""

    def __init__(self, model: BuildingModel, chosen: list[Sensor]):
        self.model = model
        self.sensors = chosen
        n = len(chosen)
        self.words = [sensor_words(model, s) for s in chosen]
        self.safe_lo = np.empty(n)
        self.safe_hi = np.empty(n)
        for row, sensor in enumerate(chosen):
            self.safe_lo[row], self.safe_hi[row] = safe_band(sensor)
        roles = [physical_role(model, s, w) or generic_role(s) for s, w in zip(chosen, self.words)]
        self.roles = self._check_fit(roles)
        self.driver = np.array([DRIVER_INDEX[r.driver] for r in self.roles], dtype=np.intp)
        self.offset = np.array([r.offset for r in self.roles])
        self.gain = np.array([r.gain for r in self.roles])
        self.count = np.array([s.quantity == "occupancy" for s in chosen], dtype=bool)
        self.status = np.array([s.quantity == "status" for s in chosen], dtype=bool)
        self.energy = np.array([s.quantity == "energy" for s in chosen], dtype=bool)
        self.non_negative = np.array([s.quantity in NON_NEGATIVE for s in chosen], dtype=bool)
        self.sigma = self._noise(chosen)
        # A meter's energy counter integrates its own power register when it has one.
        self.power_row = np.arange(n)
        by_host: dict[str, int] = {}
        for row, s in enumerate(chosen):
            if s.quantity == "power" and s.host and s.host not in by_host:
                by_host[s.host] = row
        for row, s in enumerate(chosen):
            if self.energy[row] and s.host in by_host:
                self.power_row[row] = by_host[s.host or ""]

    def _check_fit(self, roles: list[Role]) -> list[Role]:
        """Replace roles whose week of values would leave the sensor's safe band by more than a
        little (clipping covers small excursions) with the generic shape."""
        if not roles:
            return roles
        start = 1704067200.0   # any week will do: 2024-01-01
        drivers = compute_drivers(start + ROLE_CHECK_HOURS * 3600.0)
        out = []
        for row, role in enumerate(roles):
            if role.name in ("generic", "meter_energy", "status", "occupancy"):
                out.append(role)
                continue
            values = role.offset + role.gain * drivers[DRIVER_INDEX[role.driver]]
            lo, hi = self.safe_lo[row], self.safe_hi[row]
            tolerance = 0.2 * (hi - lo) if math.isfinite(hi - lo) else 0.2 * max(abs(values).max(), 1.0)
            fits = values.min() >= lo - tolerance and values.max() <= hi + tolerance
            out.append(role if fits else generic_role(self.sensors[row]))
        return out

    def _noise(self, chosen: list[Sensor]) -> np.ndarray:
        rate_limits = RateSettings().per_quantity
        sigma = np.empty(len(chosen))
        for row, sensor in enumerate(chosen):
            span = self.safe_hi[row] - self.safe_lo[row]
            if not math.isfinite(span):
                lo, hi = generic_band(sensor)
                span = max(hi - lo, abs(hi), 1.0)
            s = min(NOISE_FRACTION * span, QUANTITY_NOISE.get(sensor.quantity, math.inf))
            rate = rate_limits.get(sensor.quantity)
            if rate is not None:
                s = min(s, rate * RATE_WINDOW_MIN * RATE_NOISE_SHARE)
            sigma[row] = 0.0 if (self.status[row] or self.energy[row] or self.count[row]) else s
        return sigma

    def clean(self, drivers: np.ndarray) -> np.ndarray:
        """Noise-free values (rows x samples) from ``compute_drivers`` output; energy rows hold
        the power (kW) their counters integrate."""
        values = self.offset[:, None] + self.gain[:, None] * drivers[self.driver]
        values = np.clip(values, self.safe_lo[:, None], self.safe_hi[:, None])
        if self.energy.any():
            values[self.energy] = values[self.power_row[self.energy]]
        return values

    def describe(self, row: int) -> dict[str, Any]:
        sensor = self.sensors[row]
        return {"sensor_id": sensor.sensor_id, "role": self.roles[row].name, "host": sensor.host}
