"""The sidecar's settings, read from one TOML file (stdlib ``tomllib``).

Sections this module understands: ``[sidecar]``, ``[simulator]`` (with ``[[simulator.faults]]``
and ``[[simulator.scenarios]]``),
``[alerts]`` and ``[health]``. Every other top-level section is kept verbatim in
``SidecarConfig.extra`` so later parts (``[mqtt]``, ``[modbus]``, ``[historian]``, ``[cloud.*]``,
``[dashboard]``, ``[analytics]``) read their own settings without this module knowing them.
See ``sidecar/sidecar.example.toml``.
"""
from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared_schemas import paths, protocol
from sidecar.alarms.settings import (
    AlarmSettings,
    ChannelSettings,
    SettingsError,
    parse_alarm_settings,
    parse_notifications,
)
from sidecar.maintenance.settings import AnalyticsSettings, AnalyticsSettingsError, parse_analytics

FAULT_KINDS = ("spike", "drift", "stuck", "offline", "step")
SCENARIO_NAMES = ("bearing_wear", "stuck_damper", "sensor_drift", "flatline", "meter_offline", "failing_chiller")


class ConfigError(ValueError):
    """The TOML file is unreadable or a setting has the wrong type or value."""


@dataclass(slots=True)
class FaultSpec:
    """A scripted simulator fault on one sensor.

    Times are seconds since the simulator started. ``magnitude`` is an offset in the sensor's
    unit (spike, step, and the end point of a drift); ``ramp_s`` is how long a drift takes to
    reach it. ``duration_s`` ends the fault (``None``: never); ``period_s`` repeats it.
    """

    sensor_id: str
    kind: str
    start_s: float = 10.0
    duration_s: float | None = None
    magnitude: float = 0.0
    ramp_s: float = 10.0
    period_s: float | None = None


@dataclass(slots=True)
class ScenarioSpec:
    """A scripted fault scenario with ground truth (``sidecar/simulation/scenarios.py``).

    ``target``: an equipment's unique_id, mark or name, or a sensor_id (``None``: the first
    suitable one). Times are simulated seconds since the simulator started: the scenario begins
    at ``start_s``, fails at ``failure_s`` (default ``start_s + ramp_s``; bearing wear, failing
    chiller, and the end of a drift's ramp) and ends at ``start_s + duration_s`` (``None``: never).
    """

    name: str
    target: str | None = None
    start_s: float = 60.0
    ramp_s: float = 600.0
    failure_s: float | None = None
    duration_s: float | None = None
    severity: float = 1.0


@dataclass(slots=True)
class SimulatorConfig:
    rate_hz: float = 1.0          # readings per second per simulated sensor
    interval_s: float = 1.0       # how often the simulator emits one batch
    demo_faults: bool = True      # inject the demo faults when no faults or scenarios are configured
    seed: int | None = None
    faults: list[FaultSpec] = field(default_factory=list)
    scenarios: list[ScenarioSpec] = field(default_factory=list)
    time_scale: float = 1.0       # simulated seconds per real second
    # Where simulator_ground_truth.json is written (the sidecar's data dir; None: log only).
    data_dir: Path | None = None


@dataclass(slots=True)
class AlertsConfig:
    max_future_s: float = 300.0   # ingest readings further ahead than this are rejected
    recent_cleared: int = 1000    # cleared alerts kept for late `ack`s
    # The rest of [alerts] (rules, delays, escalation, flood, shelving) and [notifications.*].
    rules: AlarmSettings = field(default_factory=AlarmSettings)
    notifications: list[ChannelSettings] = field(default_factory=list)


@dataclass(slots=True)
class HealthConfig:
    stale_after_s: float = 60.0   # a sensor with no reading for this long is stale
    check_interval_s: float = 1.0
    # How health states change (sidecar.health.HealthSettings): watch hysteresis and dwell.
    watch_hysteresis: float = 0.05
    dwell_s: float = 60.0
    alarm_dwell_s: float = 0.0


@dataclass(slots=True)
class SidecarConfig:
    command_endpoint: str = protocol.DEFAULT_COMMAND_ENDPOINT
    event_endpoint: str = protocol.DEFAULT_EVENT_ENDPOINT
    data_dir: Path = field(default_factory=lambda: Path(paths.default_data_dir()))
    log_level: str = "INFO"
    max_payload_bytes: int = protocol.DEFAULT_MAX_PAYLOAD_BYTES
    # PUB drops events for a subscriber whose queue holds this many; the per-topic `seq` tells
    # the subscriber, which then asks for a `snapshot`. 10,000 covers a burst of one alert per
    # sensor of a large building without letting a stuck subscriber grow memory without bound.
    event_sndhwm: int = 10_000
    command_hwm: int = 1_000
    status_interval_s: float = 2.0  # heartbeat; PROTOCOL.md promises at most 5 s
    simulator: SimulatorConfig = field(default_factory=SimulatorConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    analytics: AnalyticsSettings = field(default_factory=AnalyticsSettings)   # [analytics]: live maintenance
    extra: dict[str, Any] = field(default_factory=dict)
    source_file: Path | None = None

    @property
    def token_path(self) -> Path:
        return self.data_dir / protocol.TOKEN_FILE_NAME


def _get(section: Mapping[str, Any], key: str, kind: type | tuple[type, ...], default: Any,
         where: str) -> Any:
    if key not in section:
        return default
    value = section[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        raise ConfigError(f"{where}.{key}: expected {'/'.join(k.__name__ for k in kinds)}, got a boolean")
    if not isinstance(value, kinds):
        raise ConfigError(f"{where}.{key}: expected {'/'.join(k.__name__ for k in kinds)}, "
                          f"got {type(value).__name__}")
    return value


def _not_negative(value: float, where: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
        raise ConfigError(f"{where}: must be a number >= 0, got {value!r}")
    return float(value)


def _positive(value: float, where: str) -> float:
    if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
        raise ConfigError(f"{where}: must be a positive number, got {value!r}")
    return float(value)


def _section(data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"[{name}] must be a table")
    return section


def _fault(raw: Any, index: int) -> FaultSpec:
    where = f"simulator.faults[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    kind = _get(raw, "kind", str, None, where)
    if kind not in FAULT_KINDS:
        raise ConfigError(f"{where}.kind: must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
    sensor_id = _get(raw, "sensor_id", str, None, where)
    if not sensor_id:
        raise ConfigError(f"{where}.sensor_id: required")
    number = (int, float)
    duration = _get(raw, "duration_s", number, None, where)
    period = _get(raw, "period_s", number, None, where)
    return FaultSpec(
        sensor_id=sensor_id, kind=kind,
        start_s=float(_get(raw, "start_s", number, 10.0, where)),
        duration_s=None if duration is None else _positive(duration, f"{where}.duration_s"),
        magnitude=float(_get(raw, "magnitude", number, 0.0, where)),
        ramp_s=_positive(_get(raw, "ramp_s", number, 10.0, where), f"{where}.ramp_s"),
        period_s=None if period is None else _positive(period, f"{where}.period_s"),
    )


def _scenario(raw: Any, index: int) -> ScenarioSpec:
    where = f"simulator.scenarios[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: must be a table")
    known = {"name", "target", "start_s", "ramp_s", "failure_s", "duration_s", "severity"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    name = _get(raw, "name", str, None, where)
    if name not in SCENARIO_NAMES:
        raise ConfigError(f"{where}.name: must be one of {', '.join(SCENARIO_NAMES)}, got {name!r}")
    target = _get(raw, "target", str, None, where)
    number = (int, float)
    start = float(_get(raw, "start_s", number, 60.0, where))
    if not (math.isfinite(start) and start >= 0):
        raise ConfigError(f"{where}.start_s: must be a number >= 0, got {start!r}")
    ramp = _positive(_get(raw, "ramp_s", number, 600.0, where), f"{where}.ramp_s")
    failure = _get(raw, "failure_s", number, None, where)
    if failure is not None and not (math.isfinite(failure) and failure > start):
        raise ConfigError(f"{where}.failure_s: must be after start_s ({start:g}), got {failure!r}")
    duration = _get(raw, "duration_s", number, None, where)
    severity = _get(raw, "severity", number, 1.0, where)
    if not (math.isfinite(severity) and 0 < severity <= 10):
        raise ConfigError(f"{where}.severity: must be a number in (0, 10], got {severity!r}")
    return ScenarioSpec(name=name, target=target or None, start_s=start, ramp_s=ramp,
                        failure_s=None if failure is None else float(failure),
                        duration_s=None if duration is None else _positive(duration, f"{where}.duration_s"),
                        severity=float(severity))


KNOWN_SECTIONS = ("sidecar", "simulator", "alerts", "health")


def config_from_mapping(data: Mapping[str, Any], source_file: Path | None = None) -> SidecarConfig:
    config = SidecarConfig(source_file=source_file)
    side = _section(data, "sidecar")
    config.command_endpoint = _get(side, "command_endpoint", str, config.command_endpoint, "sidecar")
    config.event_endpoint = _get(side, "event_endpoint", str, config.event_endpoint, "sidecar")
    data_dir = _get(side, "data_dir", str, None, "sidecar")
    if data_dir:
        config.data_dir = Path(data_dir).expanduser()
    config.log_level = _get(side, "log_level", str, config.log_level, "sidecar").upper()
    config.max_payload_bytes = int(_positive(
        _get(side, "max_payload_bytes", int, config.max_payload_bytes, "sidecar"), "sidecar.max_payload_bytes"))
    config.event_sndhwm = int(_positive(_get(side, "event_sndhwm", int, config.event_sndhwm, "sidecar"),
                                        "sidecar.event_sndhwm"))
    config.command_hwm = int(_positive(_get(side, "command_hwm", int, config.command_hwm, "sidecar"),
                                       "sidecar.command_hwm"))
    interval = _positive(_get(side, "status_interval_s", (int, float), config.status_interval_s, "sidecar"),
                         "sidecar.status_interval_s")
    config.status_interval_s = min(interval, protocol.STATUS_HEARTBEAT_S)

    sim = _section(data, "simulator")
    faults = _get(sim, "faults", list, [], "simulator")
    scenarios = _get(sim, "scenarios", list, [], "simulator")
    seed = _get(sim, "seed", int, None, "simulator")
    config.simulator = SimulatorConfig(
        rate_hz=_positive(_get(sim, "rate_hz", (int, float), 1.0, "simulator"), "simulator.rate_hz"),
        interval_s=_positive(_get(sim, "interval_s", (int, float), 1.0, "simulator"), "simulator.interval_s"),
        demo_faults=_get(sim, "demo_faults", bool, True, "simulator"),
        seed=seed,
        faults=[_fault(raw, i) for i, raw in enumerate(faults)],
        scenarios=[_scenario(raw, i) for i, raw in enumerate(scenarios)],
        time_scale=_positive(_get(sim, "time_scale", (int, float), 1.0, "simulator"), "simulator.time_scale"),
    )
    alerts = _section(data, "alerts")
    config.alerts = AlertsConfig(
        max_future_s=_positive(_get(alerts, "max_future_s", (int, float), 300.0, "alerts"), "alerts.max_future_s"),
        recent_cleared=int(_positive(_get(alerts, "recent_cleared", int, 1000, "alerts"), "alerts.recent_cleared")),
    )
    try:
        config.alerts.rules = parse_alarm_settings(alerts)
        config.alerts.notifications = parse_notifications(data.get("notifications"))
    except SettingsError as error:
        raise ConfigError(str(error)) from None
    health = _section(data, "health")
    config.health = HealthConfig(
        stale_after_s=_positive(_get(health, "stale_after_s", (int, float), 60.0, "health"), "health.stale_after_s"),
        check_interval_s=_positive(_get(health, "check_interval_s", (int, float), 1.0, "health"),
                                   "health.check_interval_s"),
        watch_hysteresis=_not_negative(_get(health, "watch_hysteresis", (int, float), 0.05, "health"),
                                       "health.watch_hysteresis"),
        dwell_s=_not_negative(_get(health, "dwell_s", (int, float), 60.0, "health"), "health.dwell_s"),
        alarm_dwell_s=_not_negative(_get(health, "alarm_dwell_s", (int, float), 0.0, "health"),
                                    "health.alarm_dwell_s"),
    )
    try:
        config.analytics = parse_analytics(data.get("analytics"))
    except AnalyticsSettingsError as error:
        raise ConfigError(str(error)) from None
    config.extra = {key: value for key, value in data.items() if key not in KNOWN_SECTIONS}
    return config


def load_config(path: Path | str | None) -> SidecarConfig:
    """Settings from ``path`` (all defaults when ``None``)."""
    if path is None:
        return SidecarConfig()
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise ConfigError(f"cannot read config file {path}: {error.strerror or error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from error
    return config_from_mapping(data, source_file=path)
