"""The ``[analytics]`` section: the live maintenance engine's settings.

Parsed once when the configuration is read, so a typo is a start-up error naming the key.
``[analytics.health]`` holds the health score weights (``HealthScoreConfig``); it is checked here
as a table and converted by the engine (the analytics package imports numpy).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.analytics.detectors.live import (  # numpy-free module
    ANOMALY_MODELS,
    DEFAULT_ANOMALY_MODEL,
    DEFAULT_WARMUP_READINGS,
    MAX_WARMUP_READINGS,
    MIN_WARMUP_READINGS,
)

MODELS = ("auto", "trend")


class AnalyticsSettingsError(ValueError):
    """A setting of ``[analytics]`` has the wrong type or value; the message names it."""


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    enabled: bool = True
    interval_s: float = 15.0          # one evaluation of every equipment this often
    horizon_hours: float = 24.0       # failure probability = P(a critical limit is crossed within this)
    window_hours: float = 6.0         # short trend window: the level now and the recent slope
    long_window_hours: float = 24.0   # long trend window: the slope must agree (one-minute means kept)
    min_span_minutes: float = 10.0    # a trend needs at least this much data
    anomaly: bool = True              # run an anomaly detector for health evidence
    anomaly_model: str = DEFAULT_ANOMALY_MODEL   # which (sidecar.analytics.detectors.live.ANOMALY_MODELS)
    anomaly_warmup_readings: int = DEFAULT_WARMUP_READINGS   # per-sensor warm-up of ensemble-vigilance
    anomaly_window_s: float = 600.0   # an equipment's anomaly evidence = its sensors' max score over this
    workorder_threshold: float = 0.7  # raise a work order at this failure probability
    close_below: float = 0.3          # close it when the probability falls below this
    model: str = "auto"               # auto: a learned model when one is trained/loaded; trend: never
    train_interval_hours: float = 24.0
    history_days: float = 30.0        # history the learned model trains on (historian 1-minute roll-ups)
    min_failures: int = 10            # failure episodes in history needed to train a learned model
    health: Mapping[str, Any] = field(default_factory=dict)


def _number(section: Mapping[str, Any], key: str, default: float, minimum: float = 0.0,
            maximum: float = math.inf, strict_min: bool = False) -> float:
    if key not in section:
        return default
    value = section[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AnalyticsSettingsError(f"analytics.{key}: expected a number, got {type(value).__name__}")
    value = float(value)
    low_ok = value > minimum if strict_min else value >= minimum
    if not (math.isfinite(value) and low_ok and value <= maximum):
        raise AnalyticsSettingsError(f"analytics.{key}: must be a number in {'(' if strict_min else '['}"
                                     f"{minimum:g}, {maximum:g}], got {value!r}")
    return value


def _bool(section: Mapping[str, Any], key: str, default: bool) -> bool:
    if key not in section:
        return default
    value = section[key]
    if not isinstance(value, bool):
        raise AnalyticsSettingsError(f"analytics.{key}: expected true or false, got {value!r}")
    return value


KEYS = {"enabled", "interval_s", "horizon_hours", "window_hours", "long_window_hours", "min_span_minutes", "anomaly",
        "anomaly_model", "anomaly_warmup_readings", "anomaly_window_s", "workorder_threshold", "close_below", "model", "train_interval_hours",
        "history_days", "min_failures", "health"}


def parse_analytics(section: Any) -> AnalyticsSettings:
    """The ``[analytics]`` table (absent: the defaults)."""
    if section is None:
        return AnalyticsSettings()
    if not isinstance(section, dict):
        raise AnalyticsSettingsError("[analytics] must be a table")
    unknown = sorted(set(section) - KEYS)
    if unknown:
        raise AnalyticsSettingsError(f"[analytics]: unknown key(s) {', '.join(unknown)}; known: "
                                     f"{', '.join(sorted(KEYS))}")
    d = AnalyticsSettings()
    model = section.get("model", d.model)
    if model not in MODELS:
        raise AnalyticsSettingsError(f"analytics.model: must be one of {', '.join(MODELS)}, got {model!r}")
    anomaly_model = section.get("anomaly_model", d.anomaly_model)
    if anomaly_model not in ANOMALY_MODELS:
        raise AnalyticsSettingsError(f"analytics.anomaly_model: must be one of {', '.join(ANOMALY_MODELS)}, "
                                     f"got {anomaly_model!r}")
    warmup = section.get("anomaly_warmup_readings", d.anomaly_warmup_readings)
    if isinstance(warmup, bool) or not isinstance(warmup, int):
        raise AnalyticsSettingsError(f"analytics.anomaly_warmup_readings: expected an integer, got {warmup!r}")
    if not MIN_WARMUP_READINGS <= warmup <= MAX_WARMUP_READINGS:
        raise AnalyticsSettingsError(f"analytics.anomaly_warmup_readings: must be an integer in "
                                     f"[{MIN_WARMUP_READINGS}, {MAX_WARMUP_READINGS}], got {warmup!r}")
    health = section.get("health", {})
    if not isinstance(health, dict):
        raise AnalyticsSettingsError("[analytics.health] must be a table")
    threshold = _number(section, "workorder_threshold", d.workorder_threshold, 0.0, 1.0, strict_min=True)
    close_below = _number(section, "close_below", d.close_below, 0.0, 1.0)
    if close_below >= threshold:
        raise AnalyticsSettingsError(f"analytics.close_below ({close_below:g}) must be below "
                                     f"analytics.workorder_threshold ({threshold:g})")
    settings = AnalyticsSettings(
        enabled=_bool(section, "enabled", d.enabled),
        interval_s=_number(section, "interval_s", d.interval_s, 0.0, 3600.0, strict_min=True),
        horizon_hours=_number(section, "horizon_hours", d.horizon_hours, 0.0, 24.0 * 365, strict_min=True),
        window_hours=_number(section, "window_hours", d.window_hours, 0.0, 24.0 * 14, strict_min=True),
        long_window_hours=_number(section, "long_window_hours", d.long_window_hours, 0.0, 24.0 * 28, strict_min=True),
        min_span_minutes=_number(section, "min_span_minutes", d.min_span_minutes, 0.0, 24.0 * 60),
        anomaly=_bool(section, "anomaly", d.anomaly),
        anomaly_model=str(anomaly_model), anomaly_warmup_readings=int(warmup),
        anomaly_window_s=_number(section, "anomaly_window_s", d.anomaly_window_s, 0.0, 7 * 86400.0, strict_min=True),
        workorder_threshold=threshold, close_below=close_below, model=str(model),
        train_interval_hours=_number(section, "train_interval_hours", d.train_interval_hours, 0.0, 24.0 * 365,
                                     strict_min=True),
        history_days=_number(section, "history_days", d.history_days, 0.0, 3650.0, strict_min=True),
        min_failures=int(_number(section, "min_failures", d.min_failures, 1.0, 1e6)),
        health=dict(health),
    )
    try:
        from sidecar.analytics.health_score import HealthScoreConfig  # numpy-free module

        HealthScoreConfig.from_mapping(dict(settings.health))
    except (ValueError, TypeError) as error:
        raise AnalyticsSettingsError(str(error)) from None
    return settings
