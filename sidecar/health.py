"""Health records: one per equipment and per sensor element, from its sensors' state.

Each sensor has a state code kept in a numpy array (so the pipeline can compute and compare
them for a whole batch at once); a record is recomputed only for the elements whose sensors
changed state, and it is reported only when its status, score or drivers changed.

Status of an element (worst wins): ``critical``/``warning`` when a sensor has an open alert of
that severity; ``watch`` when a value sits within two deadbands of a limit, or some of its
sensors are stale or silent while others report; ``unknown`` when none of its sensors has fresh
data (or it has none); ``ok`` otherwise.

How a sensor's state changes (``HealthSettings``): a worse state shows at once (an alarm is
never delayed: warning and critical follow the alert engine, whose limits' deadband and the
rule's off-delay decide when an alarm returns; ``alarm_dwell_s`` can hold them longer after
it returned). ``watch`` has hysteresis and a dwell: a value
enters it within ``watch_deadbands`` deadbands of a limit and leaves only once it is
``watch_hysteresis`` of the limit span (at least one deadband) further away, and a sensor on
watch returns to ok only after ``dwell_s`` without a reason to watch. So a value oscillating
at the edge of the band is one change, not one per reading.

Score, 0..100: each sensor scores ok 100, watch 75, stale-among-fresh 70, warning 45,
critical 15; the element takes its worst sensor's score minus 5 for each further sensor that is
not ok. ``unknown`` scores 0 (no evidence of health).

Alarm management shows in the drivers: an alert's text carries "[acknowledged by ...]" or
"[shelved until ...]" (unacknowledged alerts show their plain message); a sensor with an open ``stale`` alarm counts as
stale. Equipment-level alerts (failure risk) count like a sensor of their severity, and
analytics evidence (``set_evidence``: failure probability, time to failure, anomaly score)
fills ``failure_probability``/``ttf_hours`` and can only make the status worse: p >= 0.7
critical, >= 0.4 warning, >= 0.2 watch; an anomaly score >= 0.7 watch. The score is capped at
``100 * (1 - p / 2)``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from shared_schemas import protocol
from sidecar.alarms import states as isa
from sidecar.alarms.engine import AlertEngine
from sidecar.alarms.record import KIND_STALE, Alert
from sidecar.model import BuildingModel

# Sensor state codes.
NO_DATA, OK, WATCH, WARNING, CRITICAL, STALE = 0, 1, 2, 3, 4, 5
FRESH_CODES = (OK, WATCH, WARNING, CRITICAL)
CODE_STATUS = {OK: protocol.STATUS_OK, WATCH: protocol.STATUS_WATCH, WARNING: protocol.STATUS_WARNING,
               CRITICAL: protocol.STATUS_CRITICAL, NO_DATA: protocol.STATUS_WATCH, STALE: protocol.STATUS_WATCH}
CODE_SCORE = {OK: 100.0, WATCH: 75.0, WARNING: 45.0, CRITICAL: 15.0, NO_DATA: 70.0, STALE: 70.0}
DRIVER_ORDER = {CRITICAL: 0, WARNING: 1, WATCH: 2, STALE: 3, NO_DATA: 4, OK: 5}
MAX_DRIVERS = 8
# How bad a value state is, for the dwell (stale and no data are about data, not values: no dwell).
VALUE_RANK = np.array([0, 0, 1, 2, 3, 0], dtype=np.int8)  # by code: NO_DATA, OK, WATCH, WARNING, CRITICAL, STALE
FAILURE_CODES = ((0.7, CRITICAL), (0.4, WARNING), (0.2, WATCH))
ANOMALY_WATCH = 0.7
COMPARED = ("status", "health_score", "drivers", "failure_probability", "ttf_hours")


@dataclass(frozen=True, slots=True)
class HealthSettings:
    """How sensor states change (``[health]``)."""

    stale_after_s: float = 60.0     # no reading (arrival time) for this long: stale
    watch_deadbands: float = 2.0    # a value within this many deadbands of a limit: watch
    watch_hysteresis: float = 0.05  # ... which it leaves this fraction of the limit span further away
    dwell_s: float = 60.0           # a sensor on watch returns to ok only after this long without cause
    alarm_dwell_s: float = 0.0      # a sensor in warning/critical shows better this long after its alarm returned


@dataclass(slots=True)
class Evidence:
    """What analytics knows about one element (``HealthEngine.set_evidence``)."""

    failure_probability: float | None = None
    ttf_hours: float | None = None
    anomaly_score: float | None = None
    drivers: list[str] = field(default_factory=list)


def alert_text(alert: Alert) -> str:
    """An alert's message with its alarm-management state, for health drivers."""
    if alert.shelved_until is not None:
        until = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(alert.shelved_until))
        return f"{alert.message} [shelved until {until}]"
    if alert.isa_state == isa.ACK_ACTIVE:
        return f"{alert.message} [acknowledged{' by ' + alert.acked_by if alert.acked_by else ''}]"
    return alert.message


class HealthEngine:
    """Per-sensor state codes and per-element records. The pipeline reports what it saw
    (``note_sensor_state``, ``note_alerts``, ``note_quiet``, ``tick``); each returns the records
    that changed, to publish."""

    def __init__(self, model: BuildingModel, alerts: AlertEngine, stale_after_s: float,
                 clock: Callable[[], float] = time.time, settings: HealthSettings | None = None):
        self.model = model
        self.alerts = alerts
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.settings = settings or HealthSettings(stale_after_s=stale_after_s)
        n = model.sensor_count
        self.sensor_state = np.zeros(n, dtype=np.uint8)   # the state shown (read-only outside)
        self.near_limit = np.full(n, np.nan)              # the limit a sensor on watch is near
        self._near_high = np.zeros(n, dtype=bool)         # inside the watch band of each side
        self._near_low = np.zeros(n, dtype=bool)
        self._better_since = np.full(n, np.nan)           # shown state worse than the sensor's since then
        self._better_code = np.zeros(n, dtype=np.uint8)   # ... and the state it would show
        self._dwell = np.full(len(CODE_SCORE), np.inf)    # per shown code (stale, no data: none)
        self._dwell[[WATCH, WARNING, CRITICAL]] = [self.settings.dwell_s, self.settings.alarm_dwell_s,
                                                   self.settings.alarm_dwell_s]
        self.refresh_limits()
        self.records: dict[str, dict[str, Any]] = {}
        self.evidence: dict[str, Evidence] = {}

    def refresh_limits(self) -> None:
        """Recompute the watch bands from the model's limits (at start and after ``set_limits``)."""
        model, s = self.model, self.settings
        high = np.fmin(model.high, model.high_critical)   # lowest high limit (nan: none)
        low = np.fmax(model.low, model.low_critical)      # highest low limit
        with np.errstate(invalid="ignore"):
            span = np.where(np.isfinite(high) & np.isfinite(low) & (high > low), high - low,
                            np.fmax(np.abs(high), np.abs(low)))
            band = np.fmax(model.deadband, s.watch_hysteresis * span)
        self._high, self._low = high, low
        self._enter_high = high - s.watch_deadbands * model.deadband
        self._enter_low = low + s.watch_deadbands * model.deadband
        self._leave_high = self._enter_high - band
        self._leave_low = self._enter_low + band

    # -- what the pipeline reports --------------------------------------------------------
    def note_sensor_state(self, indices: np.ndarray, latest: np.ndarray, seen: np.ndarray,
                          refresh: Iterable[str] = ()) -> list[dict[str, Any]]:
        """The sensors' latest values and arrival times (``indices`` ascending, no repeats):
        their states follow, and the records of the elements whose sensors changed state (and
        of ``refresh``) are recomputed. Returns the records that changed."""
        subjects: dict[str, None] = dict.fromkeys(refresh)
        if len(indices):
            now = self.clock()
            codes = self._codes(indices, latest, seen, now)
            changed = codes != self.sensor_state[indices]
            self.sensor_state[indices] = codes
            for index in indices[changed].tolist():
                subjects.update(dict.fromkeys(self.model.subjects_of_sensor(index)))
        return self.refresh(subjects)

    def note_alerts(self, indices: np.ndarray, latest: np.ndarray, seen: np.ndarray,
                    elements: Iterable[str]) -> list[dict[str, Any]]:
        """Alerts of these sensors and elements changed (severity, acknowledgement, shelving):
        their records are recomputed even when no state changed (the drivers show the alerts)."""
        subjects: dict[str, None] = dict.fromkeys(elements)
        for index in indices.tolist():
            subjects.update(dict.fromkeys(self.model.subjects_of_sensor(index)))
        return self.note_sensor_state(indices, latest, seen, subjects)

    def note_quiet(self, last_seen: np.ndarray) -> list[dict[str, Any]]:
        """Periodic: sensors with no reading (arrival time) for ``stale_after_s`` become stale,
        and sensors whose better state has held for its dwell show it."""
        now = self.clock()
        states = self.sensor_state
        quiet = (now - last_seen > self.stale_after_s) & (states != STALE) & (states != NO_DATA)
        records = self.update(np.flatnonzero(quiet), np.full(int(quiet.sum()), STALE, dtype=np.uint8))
        with np.errstate(invalid="ignore"):
            settled = np.flatnonzero(now - self._better_since >= self._dwell[states])
        if len(settled):
            records += self.update(settled, self._better_code[settled])
        return records

    def _codes(self, indices: np.ndarray, latest: np.ndarray, seen: np.ndarray, now: float) -> np.ndarray:
        level = self.alerts.sensor_level[indices]
        with np.errstate(invalid="ignore"):
            high = latest >= np.where(self._near_high[indices], self._leave_high[indices], self._enter_high[indices])
            low = latest <= np.where(self._near_low[indices], self._leave_low[indices], self._enter_low[indices])
        self._near_high[indices], self._near_low[indices] = high, low
        near = high | low
        codes = np.full(len(indices), OK, dtype=np.uint8)
        codes[near] = WATCH
        if near.any():  # which limit the value is near, for the driver's text
            self.near_limit[indices[near]] = np.where(high, self._high[indices], self._low[indices])[near]
        codes[level == 1] = WARNING
        codes[level == 2] = CRITICAL
        # Dwell: worse shows at once; better only once it has held for the shown state's dwell.
        shown = self.sensor_state[indices]
        better = (VALUE_RANK[codes] < VALUE_RANK[shown]) & (VALUE_RANK[shown] > 0)
        since = self._better_since[indices]
        since = np.where(better, np.where(np.isnan(since), now, since), np.nan)
        self._better_since[indices] = since
        self._better_code[indices] = codes
        with np.errstate(invalid="ignore"):
            hold = better & ~(now - since >= self._dwell[shown])
        codes[hold] = shown[hold]
        codes[now - seen > self.stale_after_s] = STALE
        codes[self.alerts.watch[KIND_STALE][indices]] = STALE   # an open stale alarm
        codes[np.isneginf(seen)] = NO_DATA
        self._better_since[indices[(codes == STALE) | (codes == NO_DATA)]] = np.nan
        return codes

    def set_evidence(self, unique_id: str, failure_probability: float | None = None,
                     ttf_hours: float | None = None, anomaly_score: float | None = None,
                     drivers: list[str] | None = None) -> list[dict[str, Any]]:
        """Analytics evidence for one element (replaces the previous); returns changed records."""
        self.evidence[unique_id] = Evidence(failure_probability, ttf_hours, anomaly_score, list(drivers or []))
        return self.refresh([unique_id])

    def initialise(self) -> list[dict[str, Any]]:
        """Every subject's first record (all ``unknown`` until data arrives)."""
        now = self.clock()
        changed = []
        for unique_id in self.model.health_subjects():
            record = self._compute(unique_id, now)
            self.records[unique_id] = record
            changed.append(record)
        return changed

    def update(self, indices: np.ndarray, codes: np.ndarray) -> list[dict[str, Any]]:
        """Set state codes of some sensors as they are (no dwell); returns the records that changed."""
        if len(indices) == 0:
            return []
        self.sensor_state[indices] = codes
        self._better_since[indices] = np.nan
        subjects: dict[str, None] = {}
        for index in indices.tolist():
            for unique_id in self.model.subjects_of_sensor(index):
                subjects[unique_id] = None
        return self.refresh(subjects)

    def refresh(self, subjects: Iterable[str]) -> list[dict[str, Any]]:
        now = self.clock()
        changed = []
        for unique_id in subjects:
            if unique_id not in self.model.elements:
                continue
            record = self._compute(unique_id, now)
            previous = self.records.get(unique_id)
            if previous is not None and all(previous[k] == record[k] for k in COMPARED):
                continue
            self.records[unique_id] = record
            changed.append(record)
        return changed

    def snapshot(self, unique_ids: list[str] | None = None) -> list[dict[str, Any]]:
        if unique_ids is None:
            return list(self.records.values())
        return [self.records[u] for u in unique_ids if u in self.records]

    def _compute(self, unique_id: str, now: float) -> dict[str, Any]:
        element = self.model.elements[unique_id]
        indices = self.model.sensors_of(unique_id)
        codes = [int(self.sensor_state[i]) for i in indices]
        drivers: list[tuple[int, str]] = []
        # Equipment-level alerts and analytics evidence count like one more sensor each.
        extra: list[int] = []
        level = self.alerts.element_level.get(unique_id, 0)
        if level:
            extra.append(CRITICAL if level == 2 else WARNING)
            drivers.extend((DRIVER_ORDER[extra[-1]], alert_text(a)) for a in self.alerts.open_alerts([unique_id])
                           if a.sensor_index < 0)
        evidence = self.evidence.get(unique_id)
        if evidence is not None:
            p = evidence.failure_probability
            code = next((c for floor, c in FAILURE_CODES if p is not None and p >= floor), OK)
            if evidence.anomaly_score is not None and evidence.anomaly_score >= ANOMALY_WATCH:
                code = max(code, WATCH)
            extra.append(code)
            drivers.extend((DRIVER_ORDER[code], text) for text in evidence.drivers)
        fresh = [c for c in codes + extra if c in FRESH_CODES]
        if not indices and not extra:
            status, score = protocol.STATUS_UNKNOWN, 0.0
            drivers.append((0, "no sensors bound to it"))
        else:
            for index, code in zip(indices, codes):
                if code != OK:
                    drivers.extend((DRIVER_ORDER[code], text) for text in self._describe(index, code))
            if not fresh:
                status, score = protocol.STATUS_UNKNOWN, 0.0
            else:
                everything = codes + extra
                status = protocol.worst_status(CODE_STATUS[c] for c in everything)
                ranked = sorted(CODE_SCORE[c] for c in everything)
                not_ok = sum(1 for c in everything if c != OK)
                score = max(0.0, ranked[0] - 5.0 * max(0, not_ok - 1))
                if evidence is not None and evidence.failure_probability is not None:
                    score = min(score, round(100.0 * (1.0 - evidence.failure_probability / 2.0), 1))
        drivers.sort(key=lambda d: d[0])
        texts = [text for _, text in drivers[:MAX_DRIVERS]]
        if len(drivers) > MAX_DRIVERS:
            texts.append(f"and {len(drivers) - MAX_DRIVERS} more")
        return {"unique_id": unique_id, "element_id": element.element_id, "health_score": score,
                "status": status,
                "failure_probability": evidence.failure_probability if evidence is not None else None,
                "ttf_hours": evidence.ttf_hours if evidence is not None else None,
                "drivers": texts, "updated_ts": now}

    def _describe(self, index: int, code: int) -> list[str]:
        sensor = self.model.sensors[index]
        if code in (WARNING, CRITICAL):
            return [alert_text(a) for a in self.alerts.alerts_of_sensor(index)]
        if code == WATCH:
            limit = float(self.near_limit[index])
            unit = f" {sensor.unit}" if sensor.unit else ""
            return [f"{sensor.label} near its limit {limit:g}{unit}"]
        if code == STALE:
            return [f"{sensor.label}: no data for more than {self.stale_after_s:g} s"]
        if code == NO_DATA:
            return [f"{sensor.label}: no data yet"]
        return []
