"""``MaintenanceEngine``: the analytics models on the live pipeline.

Every ``interval_s`` (an asyncio task of the service):

1. on the loop (fast copies): each equipment sensor's readings that arrived since the last run,
   from the pipeline's ring buffers (``PipelinePort.recent_readings``);
2. in a one-thread executor (the CPU work; the loop keeps serving): one-minute means, the
   anomaly detector (when ``[analytics] anomaly``; ``[analytics] anomaly_model`` names it,
   ``analytics.live``: ``streaming`` by default or ``ensemble-vigilance``), each
   sensor's robust trend toward its critical limit -> time to failure and failure probability
   (calibrated trend estimator, or the learned model when one is loaded);
3. on the loop: per equipment, the alarm state first (``limit_state``: a sensor past a critical
   limit, by its active critical limit alert or its latest reading, is failing now: p 1.0, 0 h
   to failure, "... is past its critical limit ... now"; a limit warning lifts p to at least
   ``warning_floor``), the drivers that explain that evidence (trends; the worst anomaly score
   above ``anomaly_driver_above``), then ``PipelinePort.feed_failure`` (so
   health records carry ``failure_probability``/``ttf_hours``/drivers and the ``failure_risk``
   rule can fire); at p >= ``workorder_threshold`` a work order
   (``analytics.workorders.WorkOrderLog``) and a ``maintenance`` alert (``set_condition``;
   acknowledgeable, shelvable, notified by the notification channels like any alert; its text
   comes from this engine's describer for the kind); below ``close_below`` the order is closed
   and the alert returns to normal.

The engine sees the pipeline only through ``sidecar.port.PipelinePort``.

The learned model (``learned.py``) trains in the executor from the historian's history when it
holds enough failure episodes, is saved under ``<data dir>/models/`` and reloaded at start.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from shared_schemas import protocol
from sidecar.alarms.record import (
    KIND_ANOMALY,
    KIND_FAILURE,
    KIND_HIGH,
    KIND_LOW,
    KIND_MAINTENANCE,
    Alert,
    Description,
)
from sidecar.analytics.workorders import WorkOrder, WorkOrderLog
from sidecar.maintenance import learned
from sidecar.maintenance.orders import select_orders
from sidecar.maintenance.settings import AnalyticsSettings
from sidecar.maintenance.trend import (
    SKIP_QUANTITIES,
    MinuteBins,
    Risk,
    Trend,
    calibrate,
    past_critical,
    risk_now,
    windowed_trend,
)
from sidecar.model import BuildingModel
from sidecar.port import PipelinePort

if TYPE_CHECKING:
    from sidecar.analytics.detectors.base import Detector

log = logging.getLogger(__name__)

WORKORDER_FILE = "workorders.jsonl"
P_DRIVER = 0.05          # a sensor's trend becomes a driver from this probability
STATUS_ORDERS = 50       # open orders listed in status.work_orders (for the dashboard)
EQUIPMENT_KINDS = (("air handling", "air handling unit"), ("ahu", "air handling unit"), ("chiller", "chiller"),
                   ("cooling tower", "cooling tower"), ("boiler", "boiler"), ("pump", "pump"),
                   ("vav", "VAV box"), ("fan", "fan"), ("compressor", "compressor"), ("heat pump", "heat pump"),
                   ("panel", "electrical panel"), ("transformer", "transformer"), ("valve", "valve"))


def equipment_kind(element: Any) -> str:
    text = f"{element.family} {element.type} {element.name}".lower()
    return next((kind for word, kind in EQUIPMENT_KINDS if word in text), "equipment")


@dataclass(frozen=True, slots=True)
class SensorPlan:
    sensor_id: str
    quantity: str
    label: str
    unit: str
    equipment_kind: str
    low_critical: float
    high_critical: float


@dataclass(slots=True)
class SensorResult:
    p: float = 0.0
    risk: Risk | None = None
    trend: Trend | None = None
    anomaly: float | None = None   # max score over the anomaly window (None: detector off)
    latest: float = math.nan       # the sensor's latest reading (nan: none yet)


@dataclass(slots=True)
class EquipmentState:
    p: float = 0.0
    ttf_hours: float | None = None
    drivers: list[str] = field(default_factory=list)


def _fmt(x: float) -> str:
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:.0f}"


class Analysis:
    """The executor side: state touched only by the engine's single worker thread."""

    def __init__(self, settings: AnalyticsSettings) -> None:
        self.settings = settings
        self.bins = MinuteBins(max(settings.window_hours, settings.long_window_hours) * 3600.0)
        self.hours = MinuteBins(settings.reference_days * 86400.0, 3600.0)   # each sensor's normal range
        self.detector: Detector | None = None
        if settings.anomaly:
            from sidecar.analytics.detectors.live import build_anomaly_detector
            self.detector = build_anomaly_detector(settings.anomaly_model, settings.anomaly_warmup_readings)
        self.score_log: dict[str, list[tuple[float, float]]] = {}   # sensor -> (ts, max score) per run
        self.latest: dict[str, tuple[float, float]] = {}   # sensor -> (ts, value) of its newest reading
        self.model: learned.LearnedModel | None = None

    def run(self, collected: list[tuple[str, np.ndarray, np.ndarray]], plans: dict[str, SensorPlan],
            now: float) -> dict[str, SensorResult]:
        s = self.settings
        for sid, ts, value in collected:
            self.bins.add(sid, ts, value)
            self.hours.add(sid, ts, value)
            ok = np.flatnonzero(np.isfinite(ts) & np.isfinite(value))
            if len(ok):
                k = int(ok[np.argmax(ts[ok])])
                if float(ts[k]) >= self.latest.get(sid, (-math.inf, 0.0))[0]:
                    self.latest[sid] = (float(ts[k]), float(value[k]))
        if self.detector is not None and collected:
            keys = [sid for sid, ts, _ in collected for _ in range(len(ts))]
            ts_all = np.concatenate([ts for _, ts, _ in collected])
            values = np.concatenate([v for _, _, v in collected])
            order = np.argsort(ts_all, kind="stable")
            scores = self.detector.score_many([keys[i] for i in order.tolist()], values[order], ts_all[order])
            for k, score in zip(order.tolist(), scores.tolist()):
                entries = self.score_log.setdefault(keys[k], [])
                if entries and entries[-1][0] == now:
                    entries[-1] = (now, max(entries[-1][1], score))
                else:
                    entries.append((now, score))
        results: dict[str, SensorResult] = {}
        rows: list[dict[str, Any]] = []
        row_of: list[str] = []
        for sid, plan in plans.items():
            result = SensorResult(latest=self.latest.get(sid, (0.0, math.nan))[1])
            if self.detector is not None:
                entries = [e for e in self.score_log.get(sid, []) if e[0] > now - s.anomaly_window_s]
                self.score_log[sid] = entries
                result.anomaly = max((e[1] for e in entries), default=0.0)
            t, x = self.bins.series(sid)
            trend = self.trend_of(sid, t, x, now) if plan.quantity not in SKIP_QUANTITIES else None
            if trend is not None and trend.span_h * 60.0 >= s.min_span_minutes:
                risk = risk_now(trend, result.latest, plan.low_critical, plan.high_critical, s.horizon_hours)
                result.trend, result.risk, result.p = trend, risk, calibrate(risk.z)
                if self.model is not None and not risk.beyond:
                    row = learned.feature_row(trend, risk, plan.quantity, plan.equipment_kind, s.horizon_hours)
                    if self.model.knows(row):
                        rows.append(row)
                        row_of.append(sid)
            results[sid] = result
        if self.model is not None and rows:
            for sid, p in zip(row_of, self.model.predict(rows).tolist()):
                results[sid].p = float(p)
        return results

    def trend_of(self, sid: str, t: np.ndarray, x: np.ndarray, now: float) -> Trend | None:
        s = self.settings
        hours_t, hours_x = self.hours.series(sid)
        reference = hours_x[hours_t + 1800.0 <= now - s.window_hours * 3600.0]   # whole hours before the short window
        return windowed_trend(t, x, now, s.window_hours, s.long_window_hours, reference)

    def forget_missing(self, keep: set[str]) -> None:
        for sid in [k for k in self.bins.buckets if k not in keep]:
            self.bins.forget(sid)
        for sid in [k for k in self.hours.buckets if k not in keep]:
            self.hours.forget(sid)
        for sid in [k for k in self.latest if k not in keep]:
            del self.latest[sid]
        for sid in [k for k in self.score_log if k not in keep]:
            del self.score_log[sid]
            if self.detector is not None:  # a sensor that left the model keeps no detector state
                self.detector.forget(sid)


class MaintenanceEngine:
    def __init__(self, settings: AnalyticsSettings, data_dir: Path, pipeline: Callable[[], PipelinePort | None],
                 historian: Any = None, stale_after_s: float = 60.0, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.data_dir = Path(data_dir)
        self.get_pipeline = pipeline
        self.historian = historian
        self.stale_after_s = stale_after_s
        self.clock = clock
        self.orders = WorkOrderLog(self.data_dir / WORKORDER_FILE, settings.workorder_threshold)
        self.analysis = Analysis(settings)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="maintenance")
        self.last_ts: dict[str, float] = {}
        self.states: dict[str, EquipmentState] = {}
        self.equipment_evaluated = 0
        self.last_run_ts: float | None = None
        self.last_run_ms: float | None = None
        self.model_note = "trend"
        self.training = False
        self._alert_orders: dict[str, WorkOrder] = {}   # unique_id -> order its maintenance alert is about
        self._task: asyncio.Task[None] | None = None
        self._train_task: asyncio.Task[None] | None = None

    @property
    def model_path(self) -> Path:
        return self.data_dir / "models" / learned.MODEL_FILE

    # -- life cycle ----------------------------------------------------------------------
    def load_model(self) -> None:
        """Reload a persisted learned model (``[analytics] model = "auto"``); else the trend estimator."""
        if self.settings.model != "auto" or not self.model_path.is_file():
            return
        from sidecar.analytics.offline.models import ModelFileError
        try:
            self.analysis.model = learned.LearnedModel.load(self.model_path)
            self.model_note = "trend"
            log.info("maintenance: learned model %s loaded from %s", self.analysis.model.version, self.model_path)
        except ModelFileError as error:
            self.model_note = f"trend (learned model not loaded: {error})"
            log.warning("maintenance: %s", error)

    def start(self) -> None:
        self.load_model()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="maintenance")

    async def stop(self) -> None:
        for task in (self._task, self._train_task):
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in (self._task, self._train_task) if t is not None), return_exceptions=True)
        self.executor.shutdown(wait=True, cancel_futures=True)

    async def _loop(self) -> None:
        next_training = 0.0
        while True:
            await asyncio.sleep(self.settings.interval_s)
            try:
                await self.run_once()
            except Exception:  # one bad run must not end predictive maintenance
                log.exception("maintenance run failed")
            now = self.clock()
            if (self.settings.model == "auto" and self.historian is not None and now >= next_training
                    and self._train_task is None):
                next_training = now + self.settings.train_interval_hours * 3600.0
                self._train_task = asyncio.get_running_loop().create_task(self._train_guarded(), name="maintenance-train")

    # -- one run -------------------------------------------------------------------------
    def _plans(self, model: BuildingModel) -> tuple[dict[str, list[int]], dict[str, SensorPlan]]:
        equipment: dict[str, list[int]] = {}
        plans: dict[str, SensorPlan] = {}
        for uid, element in model.elements.items():
            if element.kind != protocol.KIND_EQUIPMENT:
                continue
            indices = model.sensors_of(uid)
            equipment[uid] = indices
            kind = equipment_kind(element)
            for index in indices:
                sensor = model.sensors[index]
                plans[sensor.sensor_id] = SensorPlan(sensor.sensor_id, sensor.quantity, sensor.label, sensor.unit,
                                                     kind, float(sensor.limits.low_critical),
                                                     float(sensor.limits.high_critical))
        return equipment, plans

    def _collect(self, pipeline: PipelinePort, model: BuildingModel,
                 plans: dict[str, SensorPlan]) -> list[tuple[str, np.ndarray, np.ndarray]]:
        collected = []
        for sid in plans:
            ts, value = pipeline.recent_readings(model.sensor_index[sid], self.last_ts.get(sid, -math.inf))
            if len(ts):
                collected.append((sid, ts, value))
                self.last_ts[sid] = float(ts[-1])
        return collected

    async def run_once(self) -> None:
        pipeline = self.get_pipeline()
        if pipeline is None:
            return
        tic = time.perf_counter()
        now = self.clock()
        model = pipeline.model
        pipeline.describe_kind(KIND_MAINTENANCE, self._describe)
        equipment, plans = self._plans(model)
        collected = self._collect(pipeline, model, plans)
        loop = asyncio.get_running_loop()
        analysis = self.analysis
        analysis_keep = set(plans)
        results = await loop.run_in_executor(self.executor, analysis.run, collected, plans, now)
        await loop.run_in_executor(self.executor, analysis.forget_missing, analysis_keep)
        if pipeline is not self.get_pipeline() or pipeline.model is not model:
            return   # reconfigured while the executor worked: the next run uses the new model
        evaluated = 0
        for uid, indices in equipment.items():
            if self._apply(pipeline, model, uid, indices, plans, results, now):
                evaluated += 1
        self.equipment_evaluated = evaluated
        self.last_run_ts = now
        self.last_run_ms = round((time.perf_counter() - tic) * 1000.0, 1)

    def _apply(self, pipeline: PipelinePort, model: BuildingModel, uid: str, indices: list[int], plans: dict[str, SensorPlan],
               results: dict[str, SensorResult], now: float) -> bool:
        if not indices:
            return False
        seen = pipeline.seen_at(indices)
        fresh = bool(np.any(now - seen <= self.stale_after_s))
        if not fresh:
            return False
        sensors = [model.sensors[i] for i in indices]
        own = (KIND_FAILURE, KIND_MAINTENANCE)
        alerts = [a for a in pipeline.open_alerts([uid]) if a.kind not in own]
        anomaly_scores: dict[str, float] = {}
        for sensor in sensors:
            r = results.get(sensor.sensor_id)
            if r is not None and r.anomaly is not None:
                anomaly_scores[sensor.label] = r.anomaly
        if self.analysis.detector is None:
            # The alert rule's detector (``[alerts.anomaly] detector``) is on instead: its open
            # anomaly alerts carry the score.
            for a in alerts:
                if a.kind == KIND_ANOMALY and a.sensor_index >= 0:
                    label = model.sensors[a.sensor_index].label
                    anomaly_scores[label] = max(anomaly_scores.get(label, 0.0), float(a.value))
        # The equipment's failure probability: its most threatened sensor's (max, not a product of
        # complements: sensors of one machine degrade together, and max stays calibrated).
        ranked = sorted(((results[s.sensor_id].p, s.sensor_id) for s in sensors if s.sensor_id in results),
                        reverse=True)
        p = ranked[0][0] if ranked else 0.0
        # The alarm state comes first: the figures never contradict the equipment's limit alarms.
        failing, warned = limit_state(alerts, sensors, plans, results)
        trend_drivers: list[str] = []
        ttf: float | None = None
        for sp, sid in ranked:
            r, plan = results[sid], plans[sid]
            if sid in failing or sp < P_DRIVER or r.risk is None or r.trend is None:
                continue
            unit = f" {plan.unit}" if plan.unit else ""
            if r.risk.beyond:
                trend_drivers.append(f"{plan.label} ({plan.quantity}) beyond its critical limit "
                                     f"{_fmt(r.risk.limit)}{unit}")
                ttf = 0.0 if ttf is None else ttf
                continue
            text = (f"{plan.label} ({plan.quantity}) {'rising' if r.trend.slope_h >= 0 else 'falling'} "
                    f"{_fmt(abs(r.trend.slope_h))}{unit}/h toward its critical limit {_fmt(r.risk.limit)}{unit}")
            if r.risk.ttf_hours is not None:
                text += f": ~{r.risk.ttf_hours:.1f} h to failure"
                if r.risk.ttf_sd_hours is not None:
                    text += f" (± {r.risk.ttf_sd_hours:.1f} h)"
                if sid == ranked[0][1]:
                    ttf = r.risk.ttf_hours
            trend_drivers.append(text + f", {sp:.0%} within {self.settings.horizon_hours:g} h")
        if failing:
            # Past a critical limit now: failing now, whatever the trend says.
            p, ttf = 1.0, 0.0
            trend_drivers = list(failing.values()) + trend_drivers
        elif warned:
            # A limit warning: at least ``warning_floor`` (the trend may say more).
            p = max(p, self.settings.warning_floor)
            trend_drivers = list(warned.values()) + trend_drivers
        p = round(min(1.0, max(0.0, p)), 2)
        # The one health score is the published record's (sidecar.health): this adds evidence to
        # it. Alerts already show in the record; the analytics drivers add what they do not.
        drivers = trend_drivers + anomaly_drivers(anomaly_scores, self.settings.anomaly_driver_above)
        ttf_out = None if ttf is None else round(ttf, 1)
        anomaly = max(anomaly_scores.values(), default=None) if anomaly_scores else None
        pipeline.feed_failure(uid, p, now, ttf_out, drivers, None if anomaly is None else round(anomaly, 2))
        self.states[uid] = EquipmentState(p, ttf_out, drivers)
        self._work_orders(pipeline, model, uid, p, ttf_out, drivers, now)
        return True

    # -- work orders and the maintenance alert ---------------------------------------------
    def _work_orders(self, pipeline: PipelinePort, model: BuildingModel, uid: str, p: float, ttf: float | None, drivers: list[str],
                     now: float) -> None:
        element = model.elements[uid]
        if p >= self.settings.workorder_threshold:
            order = self.orders.consider(uid, p, drivers, ttf, equipment_kind(element), now)
            if order is not None:
                log.info("work order %s raised for %s (p %.2f): %s", order.work_order_id, element.label, p,
                         order.recommended_action)
                self._alert_orders[uid] = order
                severity = protocol.SEVERITY_CRITICAL if order.priority == "high" else protocol.SEVERITY_WARNING
                pipeline.set_condition(KIND_MAINTENANCE, True, unique_id=uid, value=p, ts=now,
                                       threshold=self.settings.workorder_threshold, severity=severity)
        elif p < self.settings.close_below and uid in self.orders.open_:
            closed = self.orders.close(uid, now)
            if closed is not None:
                log.info("work order %s closed: %s recovered (p %.2f)", closed.work_order_id, element.label, p)
                self._alert_orders[uid] = closed
                pipeline.set_condition(KIND_MAINTENANCE, False, unique_id=uid, value=p, ts=now,
                                       threshold=self.settings.workorder_threshold)

    def _describe(self, alert: Alert) -> Description | None:
        """The describer of ``maintenance`` alerts: their work order's action, probability and
        text (the alert engine knows only generic kinds)."""
        order = self._alert_orders.get(alert.unique_id)
        if order is None:
            return None
        pipeline = self.get_pipeline()
        element = pipeline.model.elements.get(alert.unique_id) if pipeline is not None else None
        label = element.label if element is not None else alert.unique_id
        if alert.condition:
            due = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(order.due_ts))
            ttf = f", ~{order.ttf_hours:g} h to failure" if order.ttf_hours is not None else ""
            message = (f"{label}: maintenance work order {order.work_order_id[:8]} ({order.priority}), "
                       f"failure probability {order.failure_probability:.0%}{ttf}, due {due}")
        else:
            message = f"{label}: work order {order.work_order_id[:8]} closed, the equipment recovered"
        return Description(message, order.recommended_action, order.failure_probability)

    # -- learned model -------------------------------------------------------------------
    async def _train_guarded(self) -> None:
        try:
            await self.train_from_historian()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("maintenance: training failed")
        finally:
            self._train_task = None

    async def train_from_historian(self) -> None:
        pipeline = self.get_pipeline()
        if pipeline is None or self.historian is None:
            return
        now = self.clock()
        start = now - self.settings.history_days * 86400.0
        _, plans = self._plans(pipeline.model)
        histories = []
        for sid, plan in plans.items():
            if not (math.isfinite(plan.low_critical) or math.isfinite(plan.high_critical)):
                continue
            series = await self.historian.query(sid, start, now, "1m")
            if series is None or len(series) == 0:
                continue
            histories.append(learned.SensorHistory(sid, plan.quantity, plan.equipment_kind, plan.low_critical,
                                                   plan.high_critical, np.asarray(series.ts, dtype=float),
                                                   np.asarray(series.value, dtype=float)))
        await self.train(histories)

    async def train(self, histories: list[learned.SensorHistory]) -> bool:
        """Train in the executor, persist, and switch to the learned model; False (status says
        why) when the history is not enough."""
        self.training = True
        loop = asyncio.get_running_loop()
        s = self.settings
        try:
            await loop.run_in_executor(self.executor, learned.train, histories, self.model_path, s.horizon_hours,
                                       s.window_hours, s.min_failures)
        except learned.NotEnoughHistory as why:
            if self.analysis.model is None:
                self.model_note = f"trend (no learned model: {why})"
            return False
        finally:
            self.training = False
        model = await loop.run_in_executor(self.executor, learned.LearnedModel.load, self.model_path)
        self.analysis.model = model
        log.info("maintenance: learned model %s trained: %s", model.version, model.card.metrics.get("pr_auc"))
        return True

    # -- status and requests ------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        model = self.analysis.model
        body: dict[str, Any] = {
            "equipment_evaluated": self.equipment_evaluated,
            "open_workorders": len(self.orders.open_),
            "model": f"learned {model.version}" if model is not None else "trend",
            "last_run_ts": self.last_run_ts, "last_run_ms": self.last_run_ms,
            "horizon_hours": self.settings.horizon_hours,
            "anomaly_detector": self.analysis.detector is not None,
        }
        if model is None and self.model_note != "trend":
            body["model_note"] = self.model_note
        if self.training:
            body["training"] = True
        return body

    def work_orders_status(self, model: Any) -> list[dict[str, Any]]:
        """Open orders for ``status.work_orders`` (what the dashboard's Maintenance view lists)."""
        out = []
        for order in sorted(self.orders.open_.values(), key=lambda o: -o.failure_probability)[:STATUS_ORDERS]:
            element = model.elements.get(order.unique_id) if model is not None else None
            label = element.label if element is not None else order.unique_id
            out.append({"id": order.work_order_id[:8], "work_order_id": order.work_order_id,
                        "unique_id": order.unique_id, "title": f"{label}: {order.recommended_action}",
                        "state": order.status, "priority": order.priority, "due_ts": order.due_ts,
                        "failure_probability": order.failure_probability})
        return out


def labels_of(model: Any) -> dict[str, tuple[int, str]]:
    if model is None:
        return {}
    return {uid: (e.element_id, e.label) for uid, e in model.elements.items() if e.kind == protocol.KIND_EQUIPMENT}


async def answer_workorders(body: dict[str, Any], data_dir: Path, model: Any) -> dict[str, Any]:
    """The ``workorders`` request: read the log off the loop."""
    status = body.get("status", "open")
    limit = int(body.get("limit", 100))
    orders = await asyncio.to_thread(select_orders, Path(data_dir) / WORKORDER_FILE, status, limit, labels_of(model))
    return {"workorders": orders}


def limit_state(alerts: list[Alert], sensors: list[Any], plans: dict[str, SensorPlan],
                results: dict[str, SensorResult]) -> tuple[dict[str, str], dict[str, str]]:
    """(sensors past a critical limit now, sensors past a warning limit) -> their driver text.

    Past a critical limit: an active critical limit alert, or the latest reading beyond the
    sensor's critical limit (the alert may still be in its on-delay). Past a warning limit: an
    active warning limit alert. Quantities whose critical limits are end stops (``SKIP_QUANTITIES``)
    are left to their alarms."""
    failing: dict[str, str] = {}
    warned: dict[str, str] = {}
    by_index: dict[int, list[Alert]] = {}
    for a in alerts:
        if a.kind in (KIND_HIGH, KIND_LOW) and a.sensor_index >= 0:
            by_index.setdefault(a.sensor_index, []).append(a)
    for sensor in sensors:
        plan = plans.get(sensor.sensor_id)
        if plan is None or plan.quantity in SKIP_QUANTITIES:
            continue
        r = results.get(sensor.sensor_id)
        latest = r.latest if r is not None else math.nan
        limit_alerts = by_index.get(sensor.index, [])
        critical = next((a for a in limit_alerts if a.severity == protocol.SEVERITY_CRITICAL), None)
        unit = f" {plan.unit}" if plan.unit else ""
        if critical is not None or past_critical(latest, plan.low_critical, plan.high_critical):
            value = latest if math.isfinite(latest) else (critical.value if critical is not None else math.nan)
            high = value > plan.high_critical if critical is None or past_critical(
                value, plan.low_critical, plan.high_critical) else critical.kind == KIND_HIGH
            limit = plan.high_critical if high else plan.low_critical
            if not math.isfinite(limit) and critical is not None:
                limit = critical.threshold
            if past_critical(value, plan.low_critical, plan.high_critical) or not math.isfinite(value):
                shown = f" {_fmt(value)}{unit}" if math.isfinite(value) else ""
                failing[plan.sensor_id] = (f"{plan.label}{shown} is past its critical limit "
                                           f"{_fmt(limit)}{unit} now")
            else:   # the alarm is still active (deadband, off-delay) though the reading is back
                failing[plan.sensor_id] = (f"{plan.label} is in critical alarm (critical limit {_fmt(limit)}{unit}, "
                                           f"latest {_fmt(value)}{unit})")
            continue
        warning = next((a for a in limit_alerts if a.severity != protocol.SEVERITY_CRITICAL), None)
        if warning is not None:
            value = latest if math.isfinite(latest) else warning.value
            shown = f" {_fmt(value)}{unit}" if math.isfinite(value) else ""
            limit_text = f" {_fmt(warning.threshold)}{unit}" if math.isfinite(warning.threshold) else ""
            warned[plan.sensor_id] = f"{plan.label}{shown} is past its warning limit{limit_text}"
    return failing, warned


def anomaly_drivers(anomaly_scores: dict[str, float], above: float) -> list[str]:
    """The anomaly evidence worth a line in the record's drivers: the worst sensor, if above ``above``."""
    if not anomaly_scores:
        return []
    sensor, worst = max(anomaly_scores.items(), key=lambda item: item[1])
    return [f"anomalous readings on {sensor} (score {worst:.2f})"] if worst > above else []
