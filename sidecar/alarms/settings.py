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
from sidecar.settings import SettingsError, Table

SEVERITY_LEVEL = {protocol.SEVERITY_INFO: 0, protocol.SEVERITY_WARNING: 1, protocol.SEVERITY_CRITICAL: 2}
NOTIFY_EVENTS = ("raised", "reactivated", "escalated", "released", "unshelved", "acknowledged", "returned",
                 "normal", "shelved")
DEFAULT_NOTIFY_EVENTS = ("raised", "reactivated", "escalated", "released", "unshelved")


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
RULE_KEYS = {"enabled", "severity", "on_delay_s", "off_delay_s", "deadband"}


def _severity(table: Table, key: str, default: str) -> str:
    return table.choice(key, protocol.SEVERITIES, default)


def _rule(table: Table, default: RuleSettings, keys: set[str] = RULE_KEYS) -> RuleSettings:
    return RuleSettings(
        enabled=table.flag("enabled", default.enabled) if "enabled" in keys else default.enabled,
        severity=_severity(table, "severity", default.severity) if "severity" in keys else default.severity,
        on_delay_s=table.number("on_delay_s", default.on_delay_s, 0.0),
        off_delay_s=table.number("off_delay_s", default.off_delay_s, 0.0),
        deadband=table.number("deadband", default.deadband, 0.0) if "deadband" in keys else default.deadband,
    )


def _number_map(table: Table, key: str, default: Mapping[str, float]) -> dict[str, float]:
    raw = table.mapping(key) if table.has(key) else default
    out = {}
    for name, value in raw.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            raise SettingsError(f"{table.name(key)}.{name}: must be a positive number, got {value!r}")
        out[str(name)] = float(value)
    return out


def _score(table: Table, default: ScoreSettings, anomaly: bool) -> ScoreSettings:
    threshold = table.number("threshold", default.threshold, 0.0, 1.0)
    critical = table.number("critical_threshold", default.critical_threshold, threshold)
    if not anomaly:
        return ScoreSettings(_rule(table, default.rule), threshold, critical)
    return ScoreSettings(_rule(table, default.rule), threshold, critical,
                         table.flag("detector", default.detector),
                         table.choice("model", ANOMALY_MODELS, default.model),
                         table.integer("warmup_readings", default.warmup_readings, MIN_WARMUP_READINGS,
                                       MAX_WARMUP_READINGS))


def parse_alarm_settings(section: Mapping[str, Any] | Table) -> AlarmSettings:
    """The ``[alerts]`` table (``max_future_s``/``recent_cleared`` belong to the config module)."""
    d = AlarmSettings()
    table = section if isinstance(section, Table) else Table(section, "alerts")
    limit = table.table("limit")
    rate = table.table("rate_of_change")
    stale = table.table("stale")
    flat = table.table("flatline")
    anomaly = table.table("anomaly")
    failure = table.table("failure")
    quantities = flat.get("quantities", list, list(d.flatline.quantities))
    if not all(isinstance(q, str) for q in quantities):
        raise SettingsError(f"{flat.name('quantities')}: must be a list of quantity names")
    interval = stale.number("expected_interval_s", None, 0.0, above=True)
    settings = AlarmSettings(
        limit=_rule(limit, d.limit, RULE_KEYS - {"deadband", "severity"}),
        rate_of_change=RateSettings(
            rule=_rule(rate, d.rate_of_change.rule),
            window_s=rate.number("window_s", d.rate_of_change.window_s, 1.0),
            per_quantity=_number_map(rate, "per_quantity", d.rate_of_change.per_quantity),
            per_sensor=_number_map(rate, "per_sensor", {})),
        stale=StaleSettings(
            rule=_rule(stale, d.stale.rule, RULE_KEYS - {"deadband"}),
            factor=stale.number("factor", d.stale.factor, 1.0),
            min_s=stale.number("min_s", d.stale.min_s, 0.001),
            expected_interval_s=interval),
        flatline=FlatlineSettings(
            rule=_rule(flat, d.flatline.rule, RULE_KEYS - {"deadband"}),
            window_s=flat.number("window_s", d.flatline.window_s, 0.001),
            epsilon=flat.number("epsilon", d.flatline.epsilon, 0.0),
            quantities=tuple(quantities),
            per_sensor_window_s=_number_map(flat, "per_sensor_window_s", {})),
        anomaly=_score(anomaly, d.anomaly, anomaly=True),
        failure=_score(failure, d.failure, anomaly=False),
        escalate_after_s=table.number("escalate_after_s", d.escalate_after_s, 0.0),
        max_escalations=int(table.number("max_escalations", d.max_escalations, 0, 100)),
        flood_threshold=int(table.number("flood_threshold", d.flood_threshold, 1)),
        flood_window_s=table.number("flood_window_s", d.flood_window_s, 1.0),
        flood_keep_severity=_severity(table, "flood_keep_severity", d.flood_keep_severity),
        chatter_count=int(table.number("chatter_count", d.chatter_count, 2)),
        chatter_window_s=table.number("chatter_window_s", d.chatter_window_s, 0.001),
        standing_after_s=table.number("standing_after_s", d.standing_after_s, 1.0),
        shelve_default_s=table.number("shelve_default_s", d.shelve_default_s, 1.0),
        shelve_max_s=table.number("shelve_max_s", d.shelve_max_s, 1.0),
    )
    for sub in (limit, rate, stale, flat, anomaly, failure):
        sub.refuse_unknown()
    table.refuse_unknown({"max_future_s", "recent_cleared"})
    return settings


CHANNEL_TYPES = ("webhook", "email")
TLS_MODES = ("none", "starttls", "ssl")


def _channel(name: str, table: Table) -> ChannelSettings | None:
    if not table.flag("enabled", True):
        return None   # a switched-off channel may be half written
    kind = table.get("type", str, None)
    if kind not in CHANNEL_TYPES:
        raise table.fail("type", f"must be \"webhook\" or \"email\", got {kind!r}")
    events = table.get("events", list, list(DEFAULT_NOTIFY_EVENTS))
    bad = [e for e in events if e not in NOTIFY_EVENTS]
    if bad:
        raise table.fail("events", f"unknown event(s) {bad}; known: {', '.join(NOTIFY_EVENTS)}")
    tls = table.get("tls", str, "none")
    if tls not in TLS_MODES:
        raise table.fail("tls", f"must be none, starttls or ssl, got {tls!r}")
    channel = ChannelSettings(
        name=name, type=kind, min_severity=_severity(table, "min_severity", protocol.SEVERITY_WARNING),
        events=tuple(events), retries=int(table.number("retries", 3, 0, 20)),
        backoff_s=table.number("backoff_s", 1.0, 0.0, 3600.0),
        timeout_s=table.number("timeout_s", 10.0, 0.01, 600.0),
        queue_size=int(table.number("queue_size", 1000, 1, 1_000_000)),
        url=table.text("url", ""), headers=table.string_map("headers"),
        headers_env=table.string_map("headers_env"),
        host=table.text("host", ""), port=table.port("port", 25), tls=tls,
        username=table.text("username", ""), password_env=table.text("password_env", ""),
        sender=table.text("from", ""), to=table.strings("to"))
    table.refuse_unknown()
    if kind == "webhook" and not channel.url.startswith(("http://", "https://")):
        raise table.fail("url", "an http:// or https:// URL is required")
    if kind == "email" and (not channel.host or not channel.sender or not channel.to):
        raise SettingsError(f"{table.where}: e-mail needs host, from and to")
    return channel


def parse_notifications(section: Any) -> list[ChannelSettings]:
    """``[notifications.<name>]`` tables, each with ``type = "webhook"`` or ``"email"``."""
    if section is None:
        return []
    if not isinstance(section, Mapping):
        raise SettingsError("[notifications] must be a table of [notifications.<name>] tables")
    channels = []
    for name, raw in section.items():
        channel = _channel(str(name), Table(raw, f"notifications.{name}"))
        if channel is not None:
            channels.append(channel)
    return channels
