"""Alarm rule settings (the ``[alerts]`` section) and notification channels (``[notifications.*]``).

Everything is parsed and checked once, when the configuration file is read, so a typo is a
precise start-up error instead of an alarm that silently never fires. The defaults are the
documented ones (docs/sidecar.md, "Rules and states"); every key is optional.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared_schemas import protocol
from sidecar.analytics.detectors.live import (
    ANOMALY_MODELS,
    DEFAULT_ANOMALY_MODEL,
    DEFAULT_WARMUP_READINGS,
    MAX_WARMUP_READINGS,
    MIN_WARMUP_READINGS,
)

SEVERITY_LEVEL = {protocol.SEVERITY_INFO: 0, protocol.SEVERITY_WARNING: 1, protocol.SEVERITY_CRITICAL: 2}
NOTIFY_EVENTS = ("raised", "reactivated", "escalated", "released", "unshelved", "acknowledged", "returned",
                 "normal", "shelved")
DEFAULT_NOTIFY_EVENTS = ("raised", "reactivated", "escalated", "released", "unshelved")


class SettingsError(ValueError):
    """A setting has the wrong type or value; the message names it."""


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """What every rule has. ``deadband`` is in the rule's own unit: unused by ``limit`` (the
    sensor's limits carry theirs), a fraction of the rate limit for ``rate_of_change``, score
    units for ``anomaly`` and probability units for ``failure``."""

    enabled: bool = True
    severity: str = protocol.SEVERITY_WARNING
    on_delay_s: float = 0.0
    off_delay_s: float = 0.0
    deadband: float = 0.0


@dataclass(frozen=True, slots=True)
class RateSettings:
    rule: RuleSettings = RuleSettings(deadband=0.2)
    window_s: float = 300.0       # the rate is measured against a reading at least this old
    # quantity -> largest plausible change per minute, in the sensor's unit
    per_quantity: Mapping[str, float] = field(default_factory=lambda: {
        "temperature": 1.0, "humidity": 5.0, "co2": 150.0, "vibration": 1.0, "pressure": 50.0})
    per_sensor: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StaleSettings:
    rule: RuleSettings = RuleSettings()
    factor: float = 3.0           # stale after factor x the sensor's expected reading interval
    min_s: float = 60.0           # ... but never sooner than this
    expected_interval_s: float | None = None   # None: learned from each sensor's readings


@dataclass(frozen=True, slots=True)
class FlatlineSettings:
    rule: RuleSettings = RuleSettings()
    window_s: float = 3600.0
    epsilon: float = 0.0          # readings within +-epsilon of the newest count as "no change"
    # Analog process values that always carry some noise; occupancy, status, energy, power and
    # vibration sit still legitimately (a stopped fan reads 0 all night).
    quantities: tuple[str, ...] = ("temperature", "humidity", "co2")
    per_sensor_window_s: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ScoreSettings:
    """A rule on an analytics score in 0..1 (anomaly score, failure probability)."""

    rule: RuleSettings
    threshold: float
    critical_threshold: float = math.inf
    detector: bool = False        # anomaly only: run a detector in the pipeline
    model: str = DEFAULT_ANOMALY_MODEL   # anomaly only: which (sidecar.analytics.detectors.live.ANOMALY_MODELS)
    warmup_readings: int = DEFAULT_WARMUP_READINGS   # anomaly only: per-sensor warm-up of ensemble-vigilance


@dataclass(frozen=True, slots=True)
class AlarmSettings:
    limit: RuleSettings = RuleSettings()
    rate_of_change: RateSettings = RateSettings()
    stale: StaleSettings = StaleSettings()
    flatline: FlatlineSettings = FlatlineSettings()
    anomaly: ScoreSettings = ScoreSettings(RuleSettings(enabled=False, off_delay_s=300.0, deadband=0.2),
                                           threshold=0.9)
    failure: ScoreSettings = ScoreSettings(RuleSettings(deadband=0.05), threshold=0.5, critical_threshold=0.8)
    escalate_after_s: float = 1800.0    # unacknowledged this long -> escalate (0: never)
    max_escalations: int = 1
    flood_threshold: int = 10           # more activations than this per flood window = flood
    flood_window_s: float = 600.0
    flood_keep_severity: str = protocol.SEVERITY_CRITICAL   # annunciated during a flood
    chatter_count: int = 3              # activations within chatter_window_s = chattering
    chatter_window_s: float = 60.0
    standing_after_s: float = 86400.0   # active longer than this = a stale (standing) alarm
    shelve_default_s: float = 3600.0
    shelve_max_s: float = 86400.0


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    name: str
    type: str                           # "webhook" | "email"
    min_severity: str = protocol.SEVERITY_WARNING
    events: tuple[str, ...] = DEFAULT_NOTIFY_EVENTS
    retries: int = 3
    backoff_s: float = 1.0
    timeout_s: float = 10.0
    queue_size: int = 1000
    # webhook
    url: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    headers_env: Mapping[str, str] = field(default_factory=dict)   # header -> environment variable
    # e-mail
    host: str = ""
    port: int = 25
    tls: str = "none"                   # none | starttls | ssl
    username: str = ""
    password_env: str = ""
    sender: str = ""
    to: tuple[str, ...] = ()


# -- parsing ---------------------------------------------------------------------------------
def _get(section: Mapping[str, Any], key: str, kinds: tuple[type, ...], default: Any, where: str) -> Any:
    if key not in section:
        return default
    value = section[key]
    if isinstance(value, bool) and bool not in kinds:
        raise SettingsError(f"{where}.{key}: expected {'/'.join(k.__name__ for k in kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise SettingsError(f"{where}.{key}: expected {'/'.join(k.__name__ for k in kinds)}, "
                            f"got {type(value).__name__}")
    return value


def _number(section: Mapping[str, Any], key: str, default: float, where: str, minimum: float = 0.0,
            maximum: float = math.inf) -> float:
    value = float(_get(section, key, (int, float), default, where))
    if not (math.isfinite(value) or value == math.inf == default) or not minimum <= value <= maximum:
        raise SettingsError(f"{where}.{key}: must be a number in [{minimum:g}, {maximum:g}], got {value!r}")
    return value


def _severity(section: Mapping[str, Any], key: str, default: str, where: str) -> str:
    value = _get(section, key, (str,), default, where)
    if value not in protocol.SEVERITIES:
        raise SettingsError(f"{where}.{key}: must be one of {', '.join(protocol.SEVERITIES)}, got {value!r}")
    return str(value)


def _choice(section: Mapping[str, Any], key: str, choices: tuple[str, ...], default: str, where: str) -> str:
    value = _get(section, key, (str,), default, where)
    if value not in choices:
        raise SettingsError(f"{where}.{key}: must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def _integer(section: Mapping[str, Any], key: str, default: int, where: str, minimum: int,
             maximum: int) -> int:
    value = _get(section, key, (int,), default, where)
    if not minimum <= value <= maximum:
        raise SettingsError(f"{where}.{key}: must be an integer in [{minimum}, {maximum}], got {value!r}")
    return int(value)


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise SettingsError(f"[{where}.{key}] must be a table")
    return value


def _unknown(section: Mapping[str, Any], known: set[str], where: str) -> None:
    extra = sorted(set(section) - known)
    if extra:
        raise SettingsError(f"[{where}]: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}")


RULE_KEYS = {"enabled", "severity", "on_delay_s", "off_delay_s", "deadband"}


def _rule(section: Mapping[str, Any], default: RuleSettings, where: str) -> RuleSettings:
    return RuleSettings(
        enabled=bool(_get(section, "enabled", (bool,), default.enabled, where)),
        severity=_severity(section, "severity", default.severity, where),
        on_delay_s=_number(section, "on_delay_s", default.on_delay_s, where),
        off_delay_s=_number(section, "off_delay_s", default.off_delay_s, where),
        deadband=_number(section, "deadband", default.deadband, where),
    )


def _number_map(section: Mapping[str, Any], key: str, default: Mapping[str, float], where: str) -> dict[str, float]:
    raw = _table(section, key, where) if key in section else default
    out = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise SettingsError(f"{where}.{key}.{name}: must be a positive number, got {value!r}")
        out[str(name)] = float(value)
    return out


ALARM_KEYS = {"max_future_s", "recent_cleared", "limit", "rate_of_change", "stale", "flatline", "anomaly",
              "failure", "escalate_after_s", "max_escalations", "flood_threshold", "flood_window_s",
              "flood_keep_severity", "chatter_count", "chatter_window_s", "standing_after_s",
              "shelve_default_s", "shelve_max_s"}


def parse_alarm_settings(section: Mapping[str, Any]) -> AlarmSettings:
    """The ``[alerts]`` table (``max_future_s``/``recent_cleared`` belong to the config module)."""
    d = AlarmSettings()
    w = "alerts"
    _unknown(section, ALARM_KEYS, w)
    limit = _table(section, "limit", w)
    _unknown(limit, RULE_KEYS - {"deadband", "severity"}, f"{w}.limit")
    rate = _table(section, "rate_of_change", w)
    _unknown(rate, RULE_KEYS | {"window_s", "per_quantity", "per_sensor"}, f"{w}.rate_of_change")
    stale = _table(section, "stale", w)
    _unknown(stale, RULE_KEYS - {"deadband"} | {"factor", "min_s", "expected_interval_s"}, f"{w}.stale")
    flat = _table(section, "flatline", w)
    _unknown(flat, RULE_KEYS - {"deadband"} | {"window_s", "epsilon", "quantities", "per_sensor_window_s"},
             f"{w}.flatline")
    anomaly = _table(section, "anomaly", w)
    _unknown(anomaly, RULE_KEYS | {"threshold", "critical_threshold", "detector", "model", "warmup_readings"},
             f"{w}.anomaly")
    failure = _table(section, "failure", w)
    _unknown(failure, RULE_KEYS | {"threshold", "critical_threshold"}, f"{w}.failure")
    quantities = _get(flat, "quantities", (list,), list(d.flatline.quantities), f"{w}.flatline")
    if not all(isinstance(q, str) for q in quantities):
        raise SettingsError(f"{w}.flatline.quantities: must be a list of quantity names")
    interval = _get(stale, "expected_interval_s", (int, float), None, f"{w}.stale")
    if interval is not None and not (math.isfinite(interval) and interval > 0):
        raise SettingsError(f"{w}.stale.expected_interval_s: must be a positive number, got {interval!r}")

    def score(raw: Mapping[str, Any], default: ScoreSettings, where: str) -> ScoreSettings:
        threshold = _number(raw, "threshold", default.threshold, where, 0.0, 1.0)
        critical = _number(raw, "critical_threshold", default.critical_threshold, where, threshold)
        return ScoreSettings(_rule(raw, default.rule, where), threshold, critical,
                             bool(_get(raw, "detector", (bool,), default.detector, where)),
                             _choice(raw, "model", ANOMALY_MODELS, default.model, where),
                             _integer(raw, "warmup_readings", default.warmup_readings, where,
                                      MIN_WARMUP_READINGS, MAX_WARMUP_READINGS))

    return AlarmSettings(
        limit=_rule(limit, d.limit, f"{w}.limit"),
        rate_of_change=RateSettings(
            rule=_rule(rate, d.rate_of_change.rule, f"{w}.rate_of_change"),
            window_s=_number(rate, "window_s", d.rate_of_change.window_s, f"{w}.rate_of_change", 1.0),
            per_quantity=_number_map(rate, "per_quantity", d.rate_of_change.per_quantity, f"{w}.rate_of_change"),
            per_sensor=_number_map(rate, "per_sensor", {}, f"{w}.rate_of_change")),
        stale=StaleSettings(
            rule=_rule(stale, d.stale.rule, f"{w}.stale"),
            factor=_number(stale, "factor", d.stale.factor, f"{w}.stale", 1.0),
            min_s=_number(stale, "min_s", d.stale.min_s, f"{w}.stale", 0.001),
            expected_interval_s=None if interval is None else float(interval)),
        flatline=FlatlineSettings(
            rule=_rule(flat, d.flatline.rule, f"{w}.flatline"),
            window_s=_number(flat, "window_s", d.flatline.window_s, f"{w}.flatline", 0.001),
            epsilon=_number(flat, "epsilon", d.flatline.epsilon, f"{w}.flatline"),
            quantities=tuple(quantities),
            per_sensor_window_s=_number_map(flat, "per_sensor_window_s", {}, f"{w}.flatline")),
        anomaly=score(anomaly, d.anomaly, f"{w}.anomaly"),
        failure=score(failure, d.failure, f"{w}.failure"),
        escalate_after_s=_number(section, "escalate_after_s", d.escalate_after_s, w),
        max_escalations=int(_number(section, "max_escalations", d.max_escalations, w, 0, 100)),
        flood_threshold=int(_number(section, "flood_threshold", d.flood_threshold, w, 1)),
        flood_window_s=_number(section, "flood_window_s", d.flood_window_s, w, 1.0),
        flood_keep_severity=_severity(section, "flood_keep_severity", d.flood_keep_severity, w),
        chatter_count=int(_number(section, "chatter_count", d.chatter_count, w, 2)),
        chatter_window_s=_number(section, "chatter_window_s", d.chatter_window_s, w, 0.001),
        standing_after_s=_number(section, "standing_after_s", d.standing_after_s, w, 1.0),
        shelve_default_s=_number(section, "shelve_default_s", d.shelve_default_s, w, 1.0),
        shelve_max_s=_number(section, "shelve_max_s", d.shelve_max_s, w, 1.0),
    )


CHANNEL_KEYS = {"type", "min_severity", "events", "retries", "backoff_s", "timeout_s", "queue_size",
                "url", "headers", "headers_env", "host", "port", "tls", "username", "password_env",
                "from", "to", "enabled"}


def _strings(raw: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    table = _table(raw, key, where)
    if not all(isinstance(v, str) for v in table.values()):
        raise SettingsError(f"{where}.{key}: values must be strings")
    return {str(k): str(v) for k, v in table.items()}


def parse_notifications(section: Any) -> list[ChannelSettings]:
    """``[notifications.<name>]`` tables, each with ``type = "webhook"`` or ``"email"``."""
    if section is None:
        return []
    if not isinstance(section, dict):
        raise SettingsError("[notifications] must be a table of [notifications.<name>] tables")
    channels = []
    for name, raw in section.items():
        w = f"notifications.{name}"
        if not isinstance(raw, dict):
            raise SettingsError(f"[{w}] must be a table")
        _unknown(raw, CHANNEL_KEYS, w)
        if not _get(raw, "enabled", (bool,), True, w):
            continue
        kind = _get(raw, "type", (str,), None, w)
        if kind not in ("webhook", "email"):
            raise SettingsError(f"{w}.type: must be \"webhook\" or \"email\", got {kind!r}")
        events = _get(raw, "events", (list,), list(DEFAULT_NOTIFY_EVENTS), w)
        bad = [e for e in events if e not in NOTIFY_EVENTS]
        if bad:
            raise SettingsError(f"{w}.events: unknown event(s) {bad}; known: {', '.join(NOTIFY_EVENTS)}")
        to = _get(raw, "to", (list, str), [], w)
        to = [to] if isinstance(to, str) else to
        tls = _get(raw, "tls", (str,), "none", w)
        if tls not in ("none", "starttls", "ssl"):
            raise SettingsError(f"{w}.tls: must be none, starttls or ssl, got {tls!r}")
        channel = ChannelSettings(
            name=str(name), type=kind, min_severity=_severity(raw, "min_severity", protocol.SEVERITY_WARNING, w),
            events=tuple(events), retries=int(_number(raw, "retries", 3, w, 0, 20)),
            backoff_s=_number(raw, "backoff_s", 1.0, w, 0.0, 3600.0),
            timeout_s=_number(raw, "timeout_s", 10.0, w, 0.01, 600.0),
            queue_size=int(_number(raw, "queue_size", 1000, w, 1, 1_000_000)),
            url=_get(raw, "url", (str,), "", w), headers=_strings(raw, "headers", w),
            headers_env=_strings(raw, "headers_env", w),
            host=_get(raw, "host", (str,), "", w), port=int(_number(raw, "port", 25, w, 1, 65535)), tls=tls,
            username=_get(raw, "username", (str,), "", w), password_env=_get(raw, "password_env", (str,), "", w),
            sender=_get(raw, "from", (str,), "", w), to=tuple(str(t) for t in to))
        if kind == "webhook" and not channel.url.startswith(("http://", "https://")):
            raise SettingsError(f"{w}.url: an http:// or https:// URL is required")
        if kind == "email" and (not channel.host or not channel.sender or not channel.to):
            raise SettingsError(f"{w}: e-mail needs host, from and to")
        channels.append(channel)
    return channels
