"""The alert engine: rule conditions -> ISA-18.2 alarm states -> alert events.

The record, the kinds and their texts live in ``sidecar.alarms.record``; the rules that decide
when a condition holds in ``sidecar.alarms.sensor_rules`` (and the analytics hooks of the
pipeline). Every rule runs through one state machine (``evaluate_rule``) with the rule's
on-delay (the condition must hold that long before the alarm raises) and off-delay (it must be
gone that long before the alarm returns).

States (``sidecar.alarms.states``): normal -> unack_active -> ack_active -> normal, or
unack_active -> unack_rtn -> (ack) normal, and unack_rtn -> unack_active when the condition
comes back (same alert_id). A worse condition (warning -> critical) updates the same alert and
makes it unacknowledged again; severity never steps down while the condition is present.
Orthogonal to the state: shelving (keyed by the alert's key, with an expiry), escalation when
unacknowledged too long, and flood suppression (during a flood, new alerts below
``flood_keep_severity`` are tracked but not published until the flood ends).

Every published change goes to ``listener`` after the kind's describer (``describe_kind``), if
one is registered, has given the alert its text.

Time: reading-driven decisions use the readings' timestamps; the timer (``tick``) uses the
engine's clock for shelving expiry, escalation, flood end and for completing on/off-delays of
sensors that went quiet mid-delay.
"""
from __future__ import annotations

import itertools
import math
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from shared_schemas import protocol
from shared_schemas.units import unit_symbol
from sidecar.alarms import states as isa
from sidecar.alarms.metrics import RATE_WINDOW_S, AlarmRates
from sidecar.alarms.record import (
    KIND_ACTIONS,
    KIND_ANOMALY,
    KIND_FAILURE,
    KIND_FLATLINE,
    KIND_HIGH,
    KIND_LOW,
    KIND_RATE,
    KIND_STALE,
    RECOMMENDED_ACTIONS,
    RETURN_TEXT,
    SENSOR_KINDS,
    Alert,
    AlertListener,
    Describer,
    Key,
    ShelveError,
    Subject,
    UnknownAlert,
)
from sidecar.alarms.settings import SEVERITY_LEVEL, AlarmSettings, RuleSettings
from sidecar.model import BuildingModel, Sensor

__all__ = ["AlertEngine"]

LEVEL_SEVERITY = {1: protocol.SEVERITY_WARNING, 2: protocol.SEVERITY_CRITICAL}
SEVERITY_UP_ONE = {protocol.SEVERITY_INFO: protocol.SEVERITY_WARNING,
                   protocol.SEVERITY_WARNING: protocol.SEVERITY_CRITICAL,
                   protocol.SEVERITY_CRITICAL: protocol.SEVERITY_CRITICAL}


@dataclass(slots=True)
class _Shelf:
    until: float
    user: str | None
    reason: str | None


@dataclass(slots=True)
class _Pending:
    """A condition waiting out its on-delay or off-delay."""

    subject: Subject
    kind: str
    on_delay_s: float
    off_delay_s: float
    on_since: float | None = None
    on_value: float = math.nan
    on_threshold: float = math.nan
    on_severity: str = protocol.SEVERITY_WARNING
    off_since: float | None = None
    off_value: float = math.nan


def _unit_text(code: str) -> str:
    """The unit as people read it, after a space (" °C" for ``Cel``); "" for none or a pure number."""
    symbol = unit_symbol(code)
    return f" {symbol}" if symbol else ""


def _fmt(value: float, beside: float | None = None) -> str:
    """A reading for a message: 3 significant digits, more when that would make it print
    the same as the limit it crossed (1000.4 ppm > 1000 ppm, not "1000 > 1000")."""
    text = f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    digits = 3
    while beside is not None and value != beside and float(text) == beside and digits < 12:
        digits += 1
        text = f"{value:.{digits}g}"
    return text


def _limit_threshold(sensor: Sensor, kind: str, level: int) -> float:
    limits = sensor.limits
    if kind == KIND_HIGH:
        value = limits.high_critical if level == 2 else limits.high
        return limits.high_critical if math.isnan(value) else value
    value = limits.low_critical if level == 2 else limits.low
    return limits.low_critical if math.isnan(value) else value


def _rank(severity: str) -> int:
    return SEVERITY_LEVEL[severity]


class AlertEngine:
    """Owns every alert of one building; ``listener`` hears every published change."""

    def __init__(self, model: BuildingModel, listener: AlertListener, recent_cleared: int = 1000,
                 clock: Callable[[], float] = time.time, settings: AlarmSettings | None = None):
        self.model = model
        self.listener = listener
        self.clock = clock
        self.recent_cleared = recent_cleared
        self.settings = settings or AlarmSettings()
        s = self.settings
        self.rates = AlarmRates(s.flood_threshold, s.flood_window_s, s.chatter_count, s.chatter_window_s)
        self._alerts: dict[Key, Alert] = {}          # every alert not in normal
        self._by_id: dict[str, Alert] = {}
        self._cleared: OrderedDict[str, Alert] = OrderedDict()
        self._pending: dict[Key, _Pending] = {}
        self._shelves: dict[Key, _Shelf] = {}
        self._ids = itertools.count(1)
        self._id_prefix = f"{int(time.time()):x}{os.getpid():x}"
        self._dirty_sensors: set[int] = set()        # sensors whose alerts changed (health follows)
        self._dirty_elements: set[str] = set()       # elements with equipment-level alert changes
        self._describers: dict[str, Describer] = {}
        self._bind(model)

    def _bind(self, model: BuildingModel) -> None:
        n = model.sensor_count
        # Per sensor: highest severity level (0 none/info, 1 warning, 2 critical) of its alerts
        # whose condition is present, for the vectorised paths of the pipeline and health.
        self.sensor_level = np.zeros(n, dtype=np.int8)
        # Per kind: sensors whose in-range readings must still be evaluated (an open condition
        # or a pending delay); everything else is skipped by the vectorised pre-check.
        self.watch: dict[str, np.ndarray] = {kind: np.zeros(n, dtype=bool) for kind in SENSOR_KINDS}
        self.element_level: dict[str, int] = {}
        self._keys_of_sensor: dict[int, set[Key]] = {}
        self._subjects = [self._sensor_subject(model, s) for s in model.sensors]

    @staticmethod
    def _sensor_subject(model: BuildingModel, sensor: Sensor) -> Subject:
        element = model.elements.get(sensor.alert_unique_id)
        element_id = element.element_id if element is not None else sensor.element_id
        return Subject(sensor.alert_unique_id, element_id, sensor.sensor_id, sensor.index, sensor.label,
                       sensor.unit, sensor.quantity)

    def describe_kind(self, kind: str, describer: Describer) -> None:
        """Let ``describer`` give alerts of ``kind`` their message, recommended action and
        failure probability before each change is published (replaces an earlier one)."""
        self._describers[kind] = describer

    def subject(self, index: int) -> Subject:
        return self._subjects[index]

    def equipment_subject(self, unique_id: str) -> Subject:
        element = self.model.elements[unique_id]
        return Subject(unique_id, element.element_id, "", -1, element.label, "", "")

    def building_subject(self, label: str) -> Subject:
        """The building itself (``unique_id`` = building id, ``element_id`` -1, no sensor)."""
        return Subject(self.model.building_id, -1, "", -1, label, "", "")

    # -- queries -------------------------------------------------------------------------
    @property
    def active_count(self) -> int:
        """Alerts whose condition is present (unack_active + ack_active)."""
        return sum(1 for a in self._alerts.values() if a.condition)

    def _filter(self, alerts: Iterable[Alert], unique_ids: Iterable[str] | None) -> list[Alert]:
        ordered = sorted(alerts, key=lambda a: a.raised_ts)
        if unique_ids is None:
            return ordered
        wanted = set(unique_ids)
        sensors = self.model.sensors
        return [a for a in ordered if a.unique_id in wanted or a.sensor_id in wanted
                or (a.sensor_index >= 0 and sensors[a.sensor_index].unique_id in wanted)]

    def open_alerts(self, unique_ids: Iterable[str] | None = None) -> list[Alert]:
        """Alerts whose condition is present."""
        return self._filter((a for a in self._alerts.values() if a.condition), unique_ids)

    def standing_alerts(self, unique_ids: Iterable[str] | None = None) -> list[Alert]:
        """What a snapshot shows: every published alert not in normal (unack_rtn included: it
        waits for an acknowledgement)."""
        return self._filter((a for a in self._alerts.values() if not a.suppressed), unique_ids)

    def alerts_of_sensor(self, index: int) -> list[Alert]:
        """The sensor's alerts whose condition is present."""
        return [a for key in self._keys_of_sensor.get(index, ()) if (a := self._alerts.get(key)) is not None
                and a.condition]

    def has_condition(self, subject: Subject, kind: str) -> bool:
        """Whether ``subject`` has an alert of ``kind`` whose condition is present."""
        alert = self._alerts.get((subject.unique_id, kind, subject.sensor_id))
        return alert is not None and alert.condition

    def standing_alert(self, subject: Subject, kind: str) -> Alert | None:
        """``subject``'s published alert of ``kind`` that is not in normal, if any."""
        alert = self._alerts.get((subject.unique_id, kind, subject.sensor_id))
        return alert if alert is not None and not alert.suppressed else None

    def get(self, alert_id: str) -> Alert:
        alert = self._by_id.get(alert_id) or self._cleared.get(alert_id)
        if alert is None:
            raise UnknownAlert(alert_id)
        return alert

    # -- the limit rule (both sides; levels from ``SensorRules.limit_levels``) -------------
    def evaluate(self, index: int, ts: np.ndarray, values: np.ndarray, hi_level: np.ndarray,
                 hi_clear: np.ndarray, lo_level: np.ndarray, lo_clear: np.ndarray) -> None:
        """Readings of one sensor, in time order, with their per-reading limit levels."""
        subject = self._subjects[index]
        sensor = self.model.sensors[index]
        sides = [(KIND_HIGH, hi_level, hi_clear), (KIND_LOW, lo_level, lo_clear)]
        # The side with an open alert goes first, so a swing from low to high publishes the
        # low alert's clear before the high alert's raise.
        if self.has_condition(subject, KIND_LOW) and not self.has_condition(subject, KIND_HIGH):
            sides.reverse()
        rule = self.settings.limit
        for kind, level, clear in sides:
            if self.watch[kind][index] or level.any():
                thresholds = {lvl: _limit_threshold(sensor, kind, lvl) for lvl in (1, 2)}
                self.evaluate_rule(subject, kind, ts, values, level, clear, thresholds, LEVEL_SEVERITY, rule)

    # -- the generic rule state machine --------------------------------------------------
    def evaluate_rule(self, subject: Subject, kind: str, ts: np.ndarray, values: np.ndarray, level: np.ndarray,
                      clear: np.ndarray, thresholds: Mapping[int, float], severities: Mapping[int, str],
                      rule: RuleSettings) -> None:
        """One subject's readings of one rule, in time order: ``level`` > 0 where the condition
        holds (1, 2: index into ``severities``/``thresholds``), ``clear`` where it is gone beyond
        the rule's deadband (neither: inside the deadband, nothing changes)."""
        if not rule.enabled:
            return
        key = (subject.unique_id, kind, subject.sensor_id)
        # Within a run of equal (level, clear) only the run's first reading can change the
        # state (or, with a delay, the reading that completes it), so a long steady excursion
        # costs one step, not one per reading.
        code = level.astype(np.int16) * 2 + clear
        starts = np.flatnonzero(np.concatenate(([True], code[1:] != code[:-1]))).tolist()
        bounds = starts + [len(code)]
        for a, b in itertools.pairwise(bounds):
            self._step(key, subject, kind, ts, values, a, b, int(level[a]), bool(clear[a]), thresholds,
                       severities, rule)
        self._refresh_watch(subject, kind, key)

    def set_condition(self, subject: Subject, kind: str, active: bool, value: float, ts: float,
                      threshold: float, severity: str, rule: RuleSettings) -> None:
        """A condition evaluated once (stale, flat line, failure probability)."""
        self.evaluate_rule(subject, kind, np.array([ts]), np.array([value]), np.array([1 if active else 0]),
                           np.array([not active]), {1: threshold}, {1: severity}, rule)

    def _step(self, key: Key, subject: Subject, kind: str, ts: np.ndarray, values: np.ndarray, a: int, b: int,
              lvl: int, clr: bool, thresholds: Mapping[int, float], severities: Mapping[int, str],
              rule: RuleSettings) -> None:
        alert = self._alerts.get(key)
        active = alert is not None and alert.condition
        pending = self._pending.get(key)
        if lvl > 0:
            severity, threshold = severities[lvl], thresholds[lvl]
            if pending is not None:
                pending.off_since = None
            if active:
                assert alert is not None
                if _rank(severity) > _rank(alert.severity):
                    self._severity_up(alert, severity, float(values[a]), float(ts[a]), threshold)
            else:
                since = pending.on_since if pending is not None and pending.on_since is not None else float(ts[a])
                j = a if rule.on_delay_s <= 0 else a + int(np.searchsorted(ts[a:b], since + rule.on_delay_s))
                if j < b:
                    self._pending.pop(key, None)
                    pending = None
                    self._activate(key, subject, kind, alert, severity, float(values[j]), float(ts[j]), threshold)
                else:
                    if pending is None:
                        pending = self._pending[key] = _Pending(subject, kind, rule.on_delay_s, rule.off_delay_s)
                    pending.on_since, pending.on_value = since, float(values[b - 1])
                    pending.on_threshold, pending.on_severity = threshold, severity
        else:
            if pending is not None:
                pending.on_since = None
            if active and clr:
                assert alert is not None
                since = pending.off_since if pending is not None and pending.off_since is not None else float(ts[a])
                j = a if rule.off_delay_s <= 0 else a + int(np.searchsorted(ts[a:b], since + rule.off_delay_s))
                if j < b:
                    self._pending.pop(key, None)
                    pending = None
                    self._return(alert, float(values[j]), float(ts[j]), RETURN_TEXT.get(kind, "back to normal"))
                else:
                    if pending is None:
                        pending = self._pending[key] = _Pending(subject, kind, rule.on_delay_s, rule.off_delay_s)
                    pending.off_since, pending.off_value = since, float(values[b - 1])
            elif pending is not None:
                pending.off_since = None
        if pending is not None and pending.on_since is None and pending.off_since is None:
            self._pending.pop(key, None)

    def _refresh_watch(self, subject: Subject, kind: str, key: Key) -> None:
        if subject.sensor_index >= 0 and kind in self.watch:
            alert = self._alerts.get(key)
            self.watch[kind][subject.sensor_index] = key in self._pending or (alert is not None and alert.condition)

    # -- transitions ---------------------------------------------------------------------
    def _message(self, kind: str, subject: Subject, value: float, threshold: float, severity: str) -> str:
        """A sentence for people: units as symbols ("31.2 °C > 30 °C"); ``unit`` stays UCUM on the wire."""
        unit = _unit_text(subject.unit)
        label = subject.label
        if kind in (KIND_HIGH, KIND_LOW):
            relation = ">" if kind == KIND_HIGH else "<"
            return f"{label} {_fmt(value, threshold)}{unit} {relation} {threshold:g}{unit} ({severity})"
        if kind == KIND_RATE:
            return f"{label} changing {value:+.3g}{unit}/min, limit ±{threshold:g}{unit}/min ({severity})"
        if kind == KIND_STALE:
            return f"{label}: no reading for {value:.0f} s (stale after {threshold:.0f} s)"
        if kind == KIND_FLATLINE:
            return f"{label} flat at {_fmt(value)}{unit} for more than {threshold / 60:.0f} min"
        if kind == KIND_ANOMALY:
            return f"{label} anomalous readings (score {value:.2f} >= {threshold:.2f})"
        if kind == KIND_FAILURE:
            return f"{label} failure probability {value:.0%} >= {threshold:.0%} ({severity})"
        return f"{label} {kind} {_fmt(value)} ({severity})"

    def _activate(self, key: Key, subject: Subject, kind: str, alert: Alert | None, severity: str, value: float,
                  ts: float, threshold: float) -> None:
        now = self.clock()
        message = self._message(kind, subject, value, threshold, severity)
        if alert is not None:          # unack_rtn -> unack_active: the same alert comes back
            alert.isa_state, alert.severity, alert.message = isa.UNACK_ACTIVE, severity, message
            alert.value, alert.threshold, alert.activated_at = value, threshold, now
            alert.updated_ts = max(ts, alert.updated_ts)
            alert.escalations = 0
            change = isa.REACTIVATED
        else:
            action = (RECOMMENDED_ACTIONS.get(subject.quantity) if kind in (KIND_HIGH, KIND_LOW)
                      else KIND_ACTIONS.get(kind))
            alert = Alert(alert_id=f"A{self._id_prefix}-{next(self._ids)}", building_id=self.model.building_id,
                          unique_id=subject.unique_id, element_id=subject.element_id, sensor_id=subject.sensor_id,
                          sensor_index=subject.sensor_index, kind=kind, severity=severity,
                          isa_state=isa.UNACK_ACTIVE, message=message, value=value, threshold=threshold,
                          raised_ts=ts, updated_ts=ts, activated_at=now, recommended_action=action)
            if kind == KIND_FAILURE:
                alert.failure_probability = min(1.0, max(0.0, value))
            shelf = self._shelves.get(key)
            if shelf is not None and shelf.until > now:
                alert.shelved_until, alert.shelved_by, alert.shelve_reason = shelf.until, shelf.user, shelf.reason
            self._alerts[key] = alert
            self._by_id[alert.alert_id] = alert
            if subject.sensor_index >= 0:
                self._keys_of_sensor.setdefault(subject.sensor_index, set()).add(key)
            change = isa.RAISED
        if alert.shelved_until is None:  # shelved alarms are not annunciated: they do not count
            self.rates.record(key, now)
            if self.rates.flood and _rank(severity) < _rank(self.settings.flood_keep_severity):
                alert.suppressed = True
        self._changed(alert, change)

    def _severity_up(self, alert: Alert, severity: str, value: float, ts: float, threshold: float) -> None:
        subject = self._subject_of(alert)
        alert.severity, alert.value, alert.threshold = severity, value, threshold
        alert.message = self._message(alert.kind, subject, value, threshold, severity)
        alert.isa_state = isa.UNACK_ACTIVE   # the operator acknowledged something milder
        alert.acked_by = alert.ack_note = alert.acked_ts = None
        alert.updated_ts = max(ts, alert.updated_ts)
        alert.activated_at = self.clock()
        if alert.suppressed and _rank(severity) >= _rank(self.settings.flood_keep_severity):
            alert.suppressed = False
        self._changed(alert, isa.SEVERITY_UP)

    def _subject_of(self, alert: Alert) -> Subject:
        if alert.sensor_index >= 0:
            return self._subjects[alert.sensor_index]
        element = self.model.elements.get(alert.unique_id)
        label = element.label if element is not None else alert.sensor_id or alert.unique_id
        return Subject(alert.unique_id, alert.element_id, alert.sensor_id, -1, label, "", "")

    def _return(self, alert: Alert, value: float, ts: float, why: str) -> None:
        """The condition is gone: ack_active -> normal, unack_active -> unack_rtn (a suppressed
        alert was never annunciated, so nobody has to acknowledge it: normal)."""
        subject = self._subject_of(alert)
        unit = _unit_text(subject.unit) + ("/min" if alert.kind == KIND_RATE and subject.unit else "")
        alert.value = value
        alert.updated_ts = max(ts, alert.updated_ts)
        shown = value if alert.kind != KIND_STALE else math.nan
        alert.message = f"{subject.label} {why} ({_fmt(shown)}{unit})" if math.isfinite(shown) else \
            f"{subject.label} {why}"
        if alert.isa_state == isa.ACK_ACTIVE or alert.suppressed:
            self._to_normal(alert)
        else:
            alert.isa_state = isa.UNACK_RTN
            self._changed(alert, isa.RETURNED)

    def _to_normal(self, alert: Alert) -> None:
        alert.isa_state = isa.NORMAL
        self._alerts.pop(alert.key, None)
        self._by_id.pop(alert.alert_id, None)
        if alert.sensor_index >= 0:
            keys = self._keys_of_sensor.get(alert.sensor_index)
            if keys is not None:
                keys.discard(alert.key)
        self._cleared[alert.alert_id] = alert
        while len(self._cleared) > self.recent_cleared:
            self._cleared.popitem(last=False)
        self._changed(alert, isa.CLEARED)

    def _changed(self, alert: Alert, change: str) -> None:
        alert.change = change
        if alert.sensor_index >= 0:
            index = alert.sensor_index
            self.sensor_level[index] = max((SEVERITY_LEVEL[a.severity] for a in self.alerts_of_sensor(index)),
                                           default=0)
            if alert.kind in self.watch:
                self.watch[alert.kind][index] = alert.key in self._pending or alert.condition
            self._dirty_sensors.add(index)
        else:
            self.element_level[alert.unique_id] = max(
                (SEVERITY_LEVEL[a.severity] for a in self._alerts.values()
                 if a.sensor_index < 0 and a.unique_id == alert.unique_id and a.condition), default=0)
            self._dirty_elements.add(alert.unique_id)
        describer = self._describers.get(alert.kind)
        if describer is not None:
            self._apply_description(alert, describer)
        if not alert.suppressed:
            self.listener(alert)

    @staticmethod
    def _apply_description(alert: Alert, describer: Describer) -> None:
        description = describer(alert)
        if description is None:
            return
        if description.message is not None:
            alert.message = description.message
        if description.recommended_action is not None:
            alert.recommended_action = description.recommended_action
        if description.failure_probability is not None:
            alert.failure_probability = description.failure_probability

    # -- operator actions ----------------------------------------------------------------
    def acknowledge(self, alert_id: str, user: str | None = None, note: str | None = None) -> Alert:
        """unack_active -> ack_active, unack_rtn -> normal. Acknowledging an acknowledged or
        normal alert changes nothing and publishes nothing (the operator's click raced it)."""
        alert = self.get(alert_id)
        if alert.isa_state not in (isa.UNACK_ACTIVE, isa.UNACK_RTN):
            return alert
        alert.acked_by, alert.ack_note = user, note
        alert.acked_ts = alert.updated_ts = max(self.clock(), alert.updated_ts)
        if alert.isa_state == isa.UNACK_ACTIVE:
            alert.isa_state = isa.ACK_ACTIVE
            self._changed(alert, isa.ACKNOWLEDGED)
        else:
            self._to_normal(alert)
        return alert

    def shelve(self, alert_id: str, until_ts: float | None = None, duration_s: float | None = None,
               user: str | None = None, reason: str | None = None) -> Alert:
        """Shelve the alert's point (its key) until ``until_ts`` (or for ``duration_s``): it stays
        tracked and published with ``shelved_until``, but is not notified, escalated or counted,
        and a new alert of the same key raised before expiry is shelved too."""
        alert = self.get(alert_id)
        now = self.clock()
        if until_ts is None:
            until_ts = now + (self.settings.shelve_default_s if duration_s is None else duration_s)
        if not math.isfinite(until_ts) or until_ts <= now:
            raise ShelveError(f"shelving must end in the future (until_ts {until_ts!r} <= now {now:.3f})")
        if until_ts - now > self.settings.shelve_max_s + 1e-6:
            raise ShelveError(f"shelving is limited to {self.settings.shelve_max_s:g} s "
                              f"(asked for {until_ts - now:.0f} s)")
        self._shelves[alert.key] = _Shelf(until_ts, user, reason)
        alert.shelved_until, alert.shelved_by, alert.shelve_reason = until_ts, user, reason
        alert.updated_ts = max(now, alert.updated_ts)
        if self._alerts.get(alert.key) is alert:
            self._changed(alert, isa.SHELVED)
        return alert

    def unshelve(self, alert_id: str, user: str | None = None) -> Alert:
        alert = self.get(alert_id)
        self._shelves.pop(alert.key, None)
        if alert.shelved_until is not None:
            self._unshelve(alert)
        return alert

    def _unshelve(self, alert: Alert) -> None:
        alert.shelved_until = alert.shelved_by = alert.shelve_reason = None
        alert.updated_ts = max(self.clock(), alert.updated_ts)
        if self._alerts.get(alert.key) is alert:
            self._changed(alert, isa.UNSHELVED)

    # -- the timer -----------------------------------------------------------------------
    def tick(self) -> None:
        """Periodic: shelving expiry, delays of quiet sensors, escalation, flood end."""
        now = self.clock()
        for key, shelf in list(self._shelves.items()):
            if shelf.until <= now:
                del self._shelves[key]
                alert = self._alerts.get(key)
                if alert is not None and alert.shelved_until is not None:
                    self._unshelve(alert)
        for key, pending in list(self._pending.items()):
            alert = self._alerts.get(key)
            if pending.on_since is not None and now - pending.on_since >= pending.on_delay_s:
                del self._pending[key]
                self._activate(key, pending.subject, pending.kind, alert, pending.on_severity, pending.on_value,
                               pending.on_since + pending.on_delay_s, pending.on_threshold)
            elif pending.off_since is not None and now - pending.off_since >= pending.off_delay_s:
                del self._pending[key]
                if alert is not None and alert.condition:
                    self._return(alert, pending.off_value, pending.off_since + pending.off_delay_s,
                                 RETURN_TEXT.get(pending.kind, "back to normal"))
            else:
                continue
            self._refresh_watch(pending.subject, pending.kind, key)
        s = self.settings
        if s.escalate_after_s > 0:
            for alert in list(self._alerts.values()):
                if (alert.isa_state == isa.UNACK_ACTIVE and alert.shelved_until is None and not alert.suppressed
                        and alert.escalations < s.max_escalations
                        and now - alert.activated_at >= s.escalate_after_s * (alert.escalations + 1)):
                    alert.escalations += 1
                    alert.severity = SEVERITY_UP_ONE[alert.severity]
                    alert.updated_ts = max(now, alert.updated_ts)
                    self._changed(alert, isa.ESCALATED)
        if self.rates.update_flood(now) and not self.rates.flood:
            for alert in list(self._alerts.values()):
                if alert.suppressed:
                    alert.suppressed = False
                    self._changed(alert, isa.RELEASED)

    # -- metrics -------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any]:
        """ISA-18.2 alarm-rate metrics for ``status.alarm_metrics``."""
        now = self.clock()
        alerts = list(self._alerts.values())
        shown = [a for a in alerts if not a.suppressed]
        body: dict[str, Any] = {
            "alarms_per_10min": self.rates.count(now, RATE_WINDOW_S),
            "active": sum(1 for a in shown if a.condition),
            "unacknowledged": sum(1 for a in shown if a.isa_state in (isa.UNACK_ACTIVE, isa.UNACK_RTN)),
            "acknowledged": sum(1 for a in shown if a.isa_state == isa.ACK_ACTIVE),
            "returned_unacknowledged": sum(1 for a in shown if a.isa_state == isa.UNACK_RTN),
            "chattering": self.rates.chattering(now),
            "stale_alarms": sum(1 for a in shown if a.condition and now - a.activated_at >= self.settings.standing_after_s),
            "shelved": sum(1 for s in self._shelves.values() if s.until > now),
            "escalated": sum(1 for a in shown if a.escalations > 0 and a.condition),
            "suppressed": len(alerts) - len(shown),
            "flood": self.rates.flood,
            "floods": self.rates.floods,
        }
        if self.rates.flood_since is not None:
            body["flood_since_ts"] = self.rates.flood_since
        return body

    def take_dirty(self) -> tuple[set[int], set[str]]:
        """Sensors and elements whose alerts changed since the last call (health follows)."""
        sensors, elements = self._dirty_sensors, self._dirty_elements
        self._dirty_sensors, self._dirty_elements = set(), set()
        return sensors, elements

    # -- reconfiguration -----------------------------------------------------------------
    def rebind(self, model: BuildingModel) -> None:
        """Carry alerts over to a new configuration of the same building: alerts whose subject
        is still there (the sensor on the same element, or the equipment) stay; the others
        return to normal ("removed from the configuration"). Pending delays restart."""
        old = list(self._alerts.values())
        self.model = model
        self._pending.clear()
        self._bind(model)
        now = self.clock()
        for alert in old:
            same = model.building_id == alert.building_id
            if alert.sensor_index >= 0 or alert.sensor_id:
                index = model.sensor_index.get(alert.sensor_id, -1)
                same = same and index >= 0 and model.sensors[index].alert_unique_id == alert.unique_id
                alert.sensor_index = index if same else -1
            else:
                same = same and alert.unique_id in model.elements
            if same:
                if alert.sensor_index >= 0:
                    self._keys_of_sensor.setdefault(alert.sensor_index, set()).add(alert.key)
                self._changed_quietly(alert)
            else:
                label = self._subject_of(alert).label
                alert.message = f"{label} removed from the configuration"
                alert.updated_ts = max(now, alert.updated_ts)
                alert.suppressed = False
                self._to_normal(alert)

    def _changed_quietly(self, alert: Alert) -> None:
        if alert.sensor_index >= 0:
            index = alert.sensor_index
            self.sensor_level[index] = max((SEVERITY_LEVEL[a.severity] for a in self.alerts_of_sensor(index)),
                                           default=0)
            if alert.kind in self.watch:
                self.watch[alert.kind][index] = alert.condition
        elif alert.condition:
            self.element_level[alert.unique_id] = max(self.element_level.get(alert.unique_id, 0),
                                                      SEVERITY_LEVEL[alert.severity])
