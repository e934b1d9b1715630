"""Equipment health score (0-100), status and the drivers that explain it.

The score starts at 100 and loses points for each kind of evidence, each capped so one noisy
input cannot zero it on its own:

* anomalies: ``anomaly_weight * max(0, score - anomaly_floor) / (1 - anomaly_floor)`` for the
  worst anomaly score among the equipment's sensors (recent window, as given by the caller);
* limit alerts: ``warning_penalty`` per active warning, ``critical_penalty`` per critical one;
* rule faults (G36 and similar): ``fault_penalty`` per active fault condition;
* failure probability: ``failure_weight * p``;
* runtime beyond the service interval: ``runtime_weight * min(1, overrun / interval)``.

Status: ``critical`` below ``critical_below`` (or any critical alert or p >= 0.7), ``warning``
below ``warning_below``, ``watch`` below ``watch_below``, else ``ok``; ``unknown`` when there
is no fresh data. Every deduction above ``driver_min_points`` becomes a human-readable driver.
All weights live in ``HealthScoreConfig`` (the ``[analytics.health]`` section of the config).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared_schemas.protocol import STATUS_CRITICAL, STATUS_OK, STATUS_UNKNOWN, STATUS_WARNING, STATUS_WATCH


@dataclass
class HealthScoreConfig:
    anomaly_floor: float = 0.5
    anomaly_weight: float = 30.0
    warning_penalty: float = 15.0
    critical_penalty: float = 40.0
    alert_cap: float = 60.0
    fault_penalty: float = 20.0
    fault_cap: float = 50.0
    failure_weight: float = 50.0
    runtime_weight: float = 15.0
    watch_below: float = 85.0
    warning_below: float = 60.0
    critical_below: float = 35.0
    failure_critical: float = 0.7
    driver_min_points: float = 1.0

    @classmethod
    def from_mapping(cls, data: dict[str, Any] | None) -> HealthScoreConfig:
        data = dict(data or {})
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown [analytics.health] keys: {', '.join(sorted(unknown))}")
        return cls(**{k: float(v) for k, v in data.items()})


@dataclass
class EquipmentEvidence:
    """What is known about one piece of equipment right now."""

    has_fresh_data: bool = True
    anomaly_scores: dict[str, float] = field(default_factory=dict)  # sensor_id -> recent max score
    warning_alerts: list[str] = field(default_factory=list)  # messages / sensor ids
    critical_alerts: list[str] = field(default_factory=list)
    fault_conditions: list[str] = field(default_factory=list)  # e.g. ["FC2", "FC13"]
    failure_probability: float | None = None
    runtime_hours: float | None = None
    service_interval_hours: float | None = None


@dataclass
class HealthScore:
    score: float
    status: str
    drivers: list[str]


def health_score(ev: EquipmentEvidence, cfg: HealthScoreConfig | None = None) -> HealthScore:
    cfg = cfg or HealthScoreConfig()
    if not ev.has_fresh_data:
        return HealthScore(score=0.0, status=STATUS_UNKNOWN, drivers=["no recent data"])
    deductions: list[tuple[float, str]] = []
    if ev.anomaly_scores:
        sensor, worst = max(ev.anomaly_scores.items(), key=lambda kv: kv[1])
        if worst > cfg.anomaly_floor:
            pts = cfg.anomaly_weight * (worst - cfg.anomaly_floor) / (1.0 - cfg.anomaly_floor)
            deductions.append((pts, f"anomalous readings on {sensor} (score {worst:.2f})"))
    alert_pts = min(cfg.alert_cap, cfg.warning_penalty * len(ev.warning_alerts)
                    + cfg.critical_penalty * len(ev.critical_alerts))
    if alert_pts > 0:
        what = ", ".join(ev.critical_alerts + ev.warning_alerts)
        deductions.append((alert_pts, f"{len(ev.critical_alerts)} critical / {len(ev.warning_alerts)} "
                                      f"warning alert(s): {what}"))
    if ev.fault_conditions:
        pts = min(cfg.fault_cap, cfg.fault_penalty * len(ev.fault_conditions))
        deductions.append((pts, f"fault condition(s) {', '.join(ev.fault_conditions)}"))
    p = ev.failure_probability
    if p is not None and p > 0:
        deductions.append((cfg.failure_weight * p, f"failure probability {p:.0%}"))
    if ev.runtime_hours is not None and ev.service_interval_hours:
        overrun = ev.runtime_hours - ev.service_interval_hours
        if overrun > 0:
            pts = cfg.runtime_weight * min(1.0, overrun / ev.service_interval_hours)
            deductions.append((pts, f"runtime {ev.runtime_hours:.0f} h, service due at "
                                    f"{ev.service_interval_hours:.0f} h"))
    score = max(0.0, 100.0 - sum(d for d, _ in deductions))
    if score < cfg.critical_below or ev.critical_alerts or (p is not None and p >= cfg.failure_critical):
        status = STATUS_CRITICAL
    elif score < cfg.warning_below:
        status = STATUS_WARNING
    elif score < cfg.watch_below:
        status = STATUS_WATCH
    else:
        status = STATUS_OK
    drivers = [text for pts, text in sorted(deductions, key=lambda d: -d[0]) if pts >= cfg.driver_min_points]
    return HealthScore(score=round(score, 1), status=status, drivers=drivers)
