"""Default alarm limits per quantity, and how a sensor's own ``limits`` override them.

The defaults are deliberately conservative "is this plausible and comfortable" limits for a
commercial building; every sensor can override any of them with its ``limits`` map
(PROTOCOL.md). The table is documented in docs/sidecar.md: keep the two in step.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared_schemas.protocol import QUANTITY_UNITS

LIMIT_KEYS = ("low", "high", "low_critical", "high_critical")


@dataclass(frozen=True, slots=True)
class Limits:
    """Warning and critical limits in the sensor's unit; ``nan`` means "no limit".

    ``deadband`` is the hysteresis: an alert raised above ``high`` clears only once the value
    is back at or below ``high - deadband`` (mirrored for the low side), so a value hovering
    at a limit raises one alert instead of chattering.
    """

    low: float = math.nan
    high: float = math.nan
    low_critical: float = math.nan
    high_critical: float = math.nan
    deadband: float = 0.0

    def is_empty(self) -> bool:
        return all(math.isnan(getattr(self, key)) for key in LIMIT_KEYS)


NAN = math.nan

# quantity -> (unit the defaults are in, Limits). Sources for the numbers: EN 16798-1 / ASHRAE 55
# comfort bands (temperature, humidity), EN 16798-1 / ASHRAE 62.1 practice (CO2), WHO 2021
# guideline (PM2.5), ISO 10816-3 group 1 zone boundaries (vibration: B/C 4.5, C/D 7.1 mm/s).
# power/current/flow/pressure have no universal value: the defaults only catch implausible
# readings and are meant to be overridden per sensor.
DEFAULT_LIMITS: dict[str, tuple[str, Limits]] = {
    "temperature": ("Cel", Limits(low=18.0, high=27.0, low_critical=12.0, high_critical=32.0, deadband=0.5)),
    "humidity": ("%", Limits(low=25.0, high=65.0, low_critical=15.0, high_critical=80.0, deadband=2.0)),
    "co2": ("ppm", Limits(high=1000.0, high_critical=1500.0, deadband=50.0)),
    "voc": ("ppb", Limits(high=500.0, high_critical=1000.0, deadband=25.0)),
    "pm25": ("ug/m3", Limits(high=25.0, high_critical=50.0, deadband=2.0)),
    "vibration": ("mm/s", Limits(high=4.5, high_critical=7.1, deadband=0.3)),
    "pressure": ("Pa", Limits(high=400.0, high_critical=600.0, low_critical=-50.0, deadband=10.0)),
    "power": ("kW", Limits(high=250.0, high_critical=400.0, low_critical=-1.0, deadband=5.0)),
    "current": ("A", Limits(high=100.0, high_critical=150.0, low_critical=-1.0, deadband=2.0)),
    "flow": ("L/s", Limits(high=5000.0, high_critical=8000.0, low_critical=-1.0, deadband=50.0)),
    "energy": ("kW.h", Limits(low_critical=-1.0, deadband=0.0)),
    "occupancy": ("{persons}", Limits()),
    "status": ("1", Limits()),
}

# The deadband never exceeds this fraction of the span between a sensor's low and high limits
# (of its largest |limit| when it has one side only): a quantity default like 50 L/s suits a
# main air flow, not a chiller's 12..32 L/s water flow. Quantities without a default deadband
# get a fifth of that cap.
DEADBAND_CAP_FRACTION = 0.1


def _as_limit(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return NAN
    number = float(value)
    return number if math.isfinite(number) else NAN


def effective_limits(quantity: str, unit: str | None, overrides: Mapping[str, Any] | None,
                     warnings: list[str] | None = None, label: str = "") -> Limits:
    """The limits that apply to one sensor: the quantity's defaults (when the sensor's unit is
    the unit they are written in), each key replaced by the sensor's own ``limits``."""
    default_unit, defaults = DEFAULT_LIMITS.get(quantity, (QUANTITY_UNITS.get(quantity, ""), Limits()))
    if unit and default_unit and unit != default_unit and not defaults.is_empty():
        # No silent unit conversion: limits in the wrong unit would raise nonsense alerts.
        if warnings is not None and not overrides:
            warnings.append(f"sensor {label}: unit {unit!r} differs from {default_unit!r}, the unit of "
                            f"the default {quantity} limits; set its limits to get alerts")
        defaults = Limits(deadband=defaults.deadband)
    values = {key: getattr(defaults, key) for key in LIMIT_KEYS}
    for key in LIMIT_KEYS:
        if overrides and key in overrides and overrides[key] is not None:
            values[key] = _as_limit(overrides[key])
    limits = Limits(deadband=_deadband(defaults.deadband, values), **values)
    _check_order(limits, warnings, label)
    return limits


def _deadband(default: float, values: Mapping[str, float]) -> float:
    lows = [v for v in (values["low"], values["low_critical"]) if not math.isnan(v)]
    highs = [v for v in (values["high"], values["high_critical"]) if not math.isnan(v)]
    if lows and highs and min(highs) > max(lows):
        cap = DEADBAND_CAP_FRACTION * (min(highs) - max(lows))
    elif lows or highs:
        cap = DEADBAND_CAP_FRACTION * max(abs(v) for v in lows + highs)
    else:
        return max(default, 0.0)
    if cap <= 0.0:
        return max(default, 0.0)
    return min(default, cap) if default > 0.0 else cap / 5.0


def _check_order(limits: Limits, warnings: list[str] | None, label: str) -> None:
    if warnings is None:
        return
    ordered = [limits.low_critical, limits.low, limits.high, limits.high_critical]
    known = [v for v in ordered if not math.isnan(v)]
    if known != sorted(known):
        warnings.append(f"sensor {label}: limits are not ordered low_critical <= low <= high <= "
                        f"high_critical ({', '.join(f'{k}={getattr(limits, k)}' for k in LIMIT_KEYS)})")
