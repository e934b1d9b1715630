"""The ``[analytics]`` section: the live maintenance engine's settings.

Parsed once when the configuration is read, so a typo is a start-up error naming the key.
The one health score is the published record's (``sidecar.health``); the ``[analytics.health]``
weights of a former, unpublished second score are ignored with a warning.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sidecar.analytics.detectors.live import (  # numpy-free module
    ANOMALY_MODELS,
    DEFAULT_ANOMALY_MODEL,
    DEFAULT_WARMUP_READINGS,
    MAX_WARMUP_READINGS,
    MIN_WARMUP_READINGS,
)
from sidecar.settings import SettingsError, Table

log = logging.getLogger(__name__)

MODELS = ("auto", "trend")


# A setting of ``[analytics]`` has the wrong type or value; the message names it.
AnalyticsSettingsError = SettingsError


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    enabled: bool = True
    interval_s: float = 15.0          # one evaluation of every equipment this often
    horizon_hours: float = 24.0       # failure probability = P(a critical limit is crossed within this)
    window_hours: float = 6.0         # short trend window: the level now and the recent slope
    long_window_hours: float = 24.0   # long trend window: the slope must agree (one-minute means kept)
    min_span_minutes: float = 10.0    # a trend needs at least this much data
    reference_days: float = 7.0       # each sensor's normal range: its hourly means over this (a week)
    anomaly: bool = True              # run an anomaly detector for health evidence
    anomaly_model: str = DEFAULT_ANOMALY_MODEL   # which (sidecar.analytics.detectors.live.ANOMALY_MODELS)
    anomaly_warmup_readings: int = DEFAULT_WARMUP_READINGS   # per-sensor warm-up of ensemble-vigilance
    anomaly_window_s: float = 600.0   # an equipment's anomaly evidence = its sensors' max score over this
    workorder_threshold: float = 0.7  # raise a work order at this failure probability
    close_below: float = 0.3          # close it when the probability falls below this
    warning_floor: float = 0.4        # the probability while a limit warning stands (a critical: 1.0)
    model: str = "auto"               # auto: a learned model when one is trained/loaded; trend: never
    train_interval_hours: float = 24.0
    history_days: float = 30.0        # history the learned model trains on (historian 1-minute roll-ups)
    min_failures: int = 10            # failure episodes in history needed to train a learned model
    anomaly_driver_above: float = 0.52   # an equipment's worst recent anomaly score above this is a driver


def parse_analytics(section: Any, warnings: list[str] | None = None) -> AnalyticsSettings:
    """The ``[analytics]`` table (absent: the defaults). What is ignored is said in ``warnings``
    (the configuration's, logged before ``ready``), else logged here."""
    if section is None:
        return AnalyticsSettings()
    table = Table(section, "analytics")
    d = AnalyticsSettings()
    if table.has("health"):
        ignored = ("analytics.health: no longer used (the health score is the published record's, see "
                   "docs/sidecar.md); ignored")
        if warnings is None:
            log.warning(ignored)
        else:
            warnings.append(ignored)
    threshold = table.number("workorder_threshold", d.workorder_threshold, 0.0, 1.0, above=True)
    close_below = table.number("close_below", d.close_below, 0.0, 1.0)
    if close_below >= threshold:
        raise AnalyticsSettingsError(f"analytics.close_below ({close_below:g}) must be below "
                                     f"analytics.workorder_threshold ({threshold:g})")
    settings = AnalyticsSettings(
        enabled=table.flag("enabled", d.enabled),
        interval_s=table.number("interval_s", d.interval_s, 0.0, 3600.0, above=True),
        horizon_hours=table.number("horizon_hours", d.horizon_hours, 0.0, 24.0 * 365, above=True),
        window_hours=table.number("window_hours", d.window_hours, 0.0, 24.0 * 14, above=True),
        long_window_hours=table.number("long_window_hours", d.long_window_hours, 0.0, 24.0 * 28, above=True),
        min_span_minutes=table.number("min_span_minutes", d.min_span_minutes, 0.0, 24.0 * 60),
        reference_days=table.number("reference_days", d.reference_days, 1.0, 365.0),
        anomaly=table.flag("anomaly", d.anomaly),
        anomaly_model=table.choice("anomaly_model", ANOMALY_MODELS, d.anomaly_model),
        # "an integer": the wording this key's errors have always had (tests pin it)
        anomaly_warmup_readings=table.integer("anomaly_warmup_readings", d.anomaly_warmup_readings,
                                              MIN_WARMUP_READINGS, MAX_WARMUP_READINGS, expected="an integer"),
        anomaly_window_s=table.number("anomaly_window_s", d.anomaly_window_s, 0.0, 7 * 86400.0, above=True),
        workorder_threshold=threshold, close_below=close_below,
        warning_floor=table.number("warning_floor", d.warning_floor, 0.0, 1.0),
        model=table.choice("model", MODELS, d.model),
        train_interval_hours=table.number("train_interval_hours", d.train_interval_hours, 0.0, 24.0 * 365,
                                          above=True),
        history_days=table.number("history_days", d.history_days, 0.0, 3650.0, above=True),
        min_failures=int(table.number("min_failures", d.min_failures, 1.0, 1e6)),
        anomaly_driver_above=table.number("anomaly_driver_above", d.anomaly_driver_above, 0.0, 1.0),
    )
    table.refuse_unknown(["health"])
    return settings
