"""``Sidecar``: the state machine (idle -> configured -> monitoring -> stopping -> configured)
and one handler per PROTOCOL.md request, wired to the bus, the pipeline, the sources and the
in-process hub.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import numpy as np
import zmq
import zmq.asyncio

from shared_schemas import protocol
from sidecar.alarms.engine import AlertEngine
from sidecar.alarms.limits import limits_to_wire
from sidecar.alarms.notify import Notifier
from sidecar.alarms.record import Alert, ShelveError, UnknownAlert
from sidecar.bus import CommandServer, EventPublisher
from sidecar.config import SidecarConfig
from sidecar.errors import RequestError
from sidecar.health import HealthSettings
from sidecar.hub import TOPIC_READINGS, EventHub
from sidecar.ingest_reply import ingest_reply
from sidecar.maintenance.engine import MaintenanceEngine, answer_workorders
from sidecar.model import INGEST_ONLY_SCHEMES, BuildingModel, ModelError, build_model
from sidecar.pipeline import Pipeline
from sidecar.plugins import Plugins
from sidecar.readings import ReadingBatch, parse_ingest
from sidecar.security import redact
from sidecar.sources.base import SourceRunner, source_type
from sidecar.store import historian_from_settings
from sidecar.store.historian import Historian
from sidecar.store.history import answer_history
from sidecar.validation import validate_request

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class Sidecar:
    def __init__(self, config: SidecarConfig, token: str):
        self.config = config
        self.token = token
        self.state = protocol.STATE_IDLE
        self.hub = EventHub()
        self.model: BuildingModel | None = None
        self.pipeline: Pipeline | None = None
        self.runners: dict[str, SourceRunner] = {}
        self.started_monotonic = time.monotonic()
        self._transition = asyncio.Lock()
        self.context: zmq.asyncio.Context | None = None
        self.server: CommandServer | None = None
        self.publisher: EventPublisher | None = None
        self.historian: Historian | None = None
        self.ring_points = config.historian.ring_points
        self.handlers: dict[str, Handler] = {
            protocol.HELLO: self.hello, protocol.CONFIGURE: self.configure, protocol.START: self.start,
            protocol.STOP: self.stop, protocol.STATUS: self.status, protocol.SNAPSHOT: self.snapshot,
            protocol.ACK: self.ack, protocol.INGEST: self.ingest,
        }
        self.handlers[protocol.HISTORY] = self.history
        # Alarm management (additive requests) and notifications.
        self.handlers.update({protocol.SHELVE: self.shelve, protocol.UNSHELVE: self.unshelve,
                              protocol.SET_LIMITS: self.set_limits})
        self.handlers[protocol.WORKORDERS] = self.workorders
        self.maintenance: MaintenanceEngine | None = None   # live predictive maintenance ([analytics])
        self.building_config: dict[str, Any] | None = None   # the accepted BuildingConfig, as sent
        self.plugins = Plugins(config.extra, config.data_dir, token, self.hub, self.request,
                               lambda: self.building_config, pipeline=lambda: self.pipeline)
        self.notifier = Notifier(config.alerts.notifications)
        if self.notifier.channels:
            self.hub.subscribe(protocol.TOPIC_ALERT, self.notifier.on_alert, name="notifications", inline=True)

    def _health_settings(self) -> HealthSettings:
        health = self.config.health
        return HealthSettings(health.stale_after_s, watch_hysteresis=health.watch_hysteresis, dwell_s=health.dwell_s,
                              alarm_dwell_s=health.alarm_dwell_s)

    # -- life cycle ----------------------------------------------------------------------
    def open(self) -> None:
        """Bind both endpoints (raises zmq.ZMQError when an endpoint is taken)."""
        self.context = zmq.asyncio.Context()
        self.server = CommandServer(self.context, self.config.command_endpoint, self.token, self.handlers,
                                    validate_request, self.config.max_payload_bytes, self.config.command_hwm)
        sync_context: zmq.Context[Any] = zmq.Context.shadow(self.context.underlying)
        self.publisher = EventPublisher(sync_context, self.config.event_endpoint, self.config.event_sndhwm)
        self._open_historian()

    def _open_historian(self) -> None:
        """Open the historian (replaying what a killed run left in its journal) and subscribe it
        to every readings batch, inline: it must see each one, before ``ingest`` replies."""
        try:
            self.historian = historian_from_settings(self.config.historian, self.config.data_dir)
            if self.historian is not None:
                self.historian.open()
        except Exception as error:  # noqa: BLE001 - any cause stops start-up with a clear message
            log.error("cannot open the historian: %s", redact(str(error)))
            raise SystemExit(2) from None
        if self.historian is not None:
            self.hub.subscribe(TOPIC_READINGS, self.historian.on_readings, name="historian", inline=True)

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop`` is set, then shut down cleanly."""
        assert self.server is not None
        tasks = [asyncio.create_task(self.server.serve(), name="command-server"),
                 asyncio.create_task(self._every(self.config.status_interval_s, self._heartbeat), name="heartbeat"),
                 asyncio.create_task(self._every(self.config.health.check_interval_s, self._check_stale),
                                     name="staleness")]
        await self.plugins.start()
        if self.config.analytics.enabled:
            self.maintenance = MaintenanceEngine(self.config.analytics, self.config.data_dir, lambda: self.pipeline,
                                                 self.historian, self.config.health.stale_after_s)
            self.maintenance.start()
        self.publish_status()
        try:
            waiter = asyncio.create_task(stop.wait())
            done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not waiter and task.exception() is not None:
                    log.error("%s stopped unexpectedly", task.get_name(), exc_info=task.exception())
            waiter.cancel()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._shutdown()

    async def _shutdown(self) -> None:
        if self.state == protocol.STATE_MONITORING:
            self._set_state(protocol.STATE_STOPPING)
            await self._stop_sources()
        if self.maintenance is not None:
            await self.maintenance.stop()
        await self.plugins.stop()
        self.hub.close()
        await self.notifier.close()
        if self.historian is not None:
            await asyncio.to_thread(self.historian.close)
        if self.server is not None:
            self.server.close()
        if self.publisher is not None:
            self.publisher.close()
        if self.context is not None:
            self.context.term()

    async def _every(self, interval_s: float, action: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(interval_s)
            try:
                action()
            except Exception:
                log.exception("periodic %s failed", getattr(action, "__name__", action))

    def _heartbeat(self) -> None:
        self.publish_status()

    def _check_stale(self) -> None:
        if self.pipeline is not None:
            self.pipeline.check_stale()

    # -- events --------------------------------------------------------------------------
    def emit(self, topic: str, body: Any) -> None:
        if self.publisher is not None:
            self.publisher.publish(topic, body)
        self.hub.publish(topic, body)

    def _on_readings(self, batch: ReadingBatch) -> None:
        self.hub.publish(TOPIC_READINGS, batch)

    def publish_status(self) -> None:
        self.emit(protocol.TOPIC_STATUS, self.status_body())

    def _set_state(self, state: str) -> None:
        if state != self.state:
            log.info("state %s -> %s", self.state, state)
            self.state = state
            self.publish_status()

    def status_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "state": self.state,
            "sensors": self.model.sensor_count if self.model else 0,
            "readings_per_s": round(self.pipeline.rate.rate(), 3) if self.pipeline else 0.0,
            "active_alerts": self.pipeline.alerts.active_count if self.pipeline else 0,
            "uptime_s": round(time.monotonic() - self.started_monotonic, 3),
            "sources": {name: runner.state for name, runner in self.runners.items()},
        }
        if self.model is not None:
            body["building_id"] = self.model.building_id
        if self.pipeline is not None:
            body["alarm_metrics"] = self.pipeline.alarm_metrics()
        if self.notifier.channels:
            body["notifications"] = self.notifier.status()
        if self.historian is not None:
            body["historian"] = self.historian.status()
        if self.maintenance is not None:
            body["maintenance"] = self.maintenance.status()
            body["work_orders"] = self.maintenance.work_orders_status(self.model)
        body.update(self.plugins.status_fields())
        return body

    # -- sources -------------------------------------------------------------------------
    def _source_settings(self, scheme: str) -> Any:
        if scheme == "sim":
            return replace(self.config.simulator, data_dir=self.config.data_dir)
        if scheme in self.config.sources:   # parsed with the config file (sidecar.sources.settings)
            return self.config.sources[scheme]
        return self.config.extra.get(scheme, {})   # a source registered by a plug-in reads its raw table

    def _source_warnings(self, model: BuildingModel) -> list[str]:
        warnings = []
        for scheme, indices in model.sensors_by_scheme().items():
            if scheme in protocol.SOURCE_SCHEMES and scheme not in INGEST_ONLY_SCHEMES and source_type(scheme) is None:
                warnings.append(f"{len(indices)} sensor(s) with source scheme {scheme!r}: this sidecar has no "
                                f"{scheme or 'such'} source yet; they are fed by ingest only")
        return warnings

    def _create_runners(self, model: BuildingModel) -> dict[str, SourceRunner]:
        runners: dict[str, SourceRunner] = {}
        for scheme, indices in model.sensors_by_scheme().items():
            cls = source_type(scheme) if scheme not in INGEST_ONLY_SCHEMES else None
            if cls is None:
                continue

            def sink(sensor: np.ndarray, ts: np.ndarray, value: np.ndarray, model: BuildingModel = model) -> None:
                if self.pipeline is not None:
                    self.pipeline.submit(ReadingBatch(model, sensor, ts, value))

            source = cls(model, np.array(indices, dtype=np.int32), sink, self._source_settings(scheme))
            runners[source.name] = SourceRunner(source)
        return runners

    async def _start_sources(self) -> None:
        assert self.model is not None
        self.runners = self._create_runners(self.model)
        for runner in self.runners.values():
            runner.start()

    async def _stop_sources(self) -> None:
        await asyncio.gather(*(runner.stop() for runner in self.runners.values()))

    async def request(self, type: str, body: dict[str, Any]) -> dict[str, Any]:
        """Run a request for an in-process client (dashboard, cloud commands) through the same
        validation and handler as the ZeroMQ endpoint; errors raise ``RequestError``."""
        handler = self.handlers.get(type)
        if handler is None:
            raise RequestError(protocol.E_UNKNOWN_TYPE, f"unknown request type {type!r}",
                               {"known": sorted(self.handlers)})
        message = {"v": protocol.PROTOCOL_VERSION, "type": type, "id": f"local-{uuid.uuid4().hex}",
                   "ts": time.time(), "token": self.token, "body": body}
        validate_request(message)  # raises RequestError(bad_request) naming the field
        return await handler(message)

    # -- request handlers ----------------------------------------------------------------
    async def hello(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["body"]
        protocols = body.get("protocols")
        if isinstance(protocols, list) and protocol.PROTOCOL_VERSION not in protocols:
            raise RequestError(protocol.E_UNSUPPORTED_VERSION,
                               f"client speaks protocol(s) {protocols!r}; this sidecar speaks "
                               f"{protocol.PROTOCOL_VERSION}", {"supported": list(protocol.SUPPORTED_VERSIONS)})
        log.info("hello from %s %s", body.get("client", "?"), body.get("client_version", ""))
        reply: dict[str, Any] = {"sidecar_version": protocol.__version__, "protocol": protocol.PROTOCOL_VERSION,
                                 "state": self.state}
        if self.model is not None:
            reply["building_id"] = self.model.building_id
        return reply

    async def configure(self, message: dict[str, Any]) -> dict[str, Any]:
        try:
            model = build_model(message["body"])
        except ModelError as error:
            raise RequestError(protocol.E_BAD_REQUEST, str(error), {"field": error.field}) from None
        model.warnings.extend(self._source_warnings(model))
        async with self._transition:
            monitoring = self.state == protocol.STATE_MONITORING
            if monitoring:
                await self._stop_sources()
            self.model = model
            self.building_config = message["body"]
            if self.pipeline is None:
                self.pipeline = Pipeline(model, self.emit, self._on_readings, self.config.health.stale_after_s,
                                         self.config.alerts.recent_cleared, ring_points=self.ring_points,
                                         alarm_settings=self.config.alerts.rules,
                                         health_settings=self._health_settings())
                self.pipeline.initialise()
            else:
                self.pipeline.rebind(model)
            if monitoring:
                await self._start_sources()
            else:
                self.runners = {}
            log.info("configured building %s: %d elements, %d sensors, %d warnings", model.building_id,
                     len(model.elements), model.sensor_count, len(model.warnings))
            for warning in model.warnings[:20]:
                log.info("configuration warning: %s", redact(warning))
            if self.state == protocol.STATE_IDLE:
                self._set_state(protocol.STATE_CONFIGURED)
            else:
                self.publish_status()
        self.plugins.on_config(message["body"])
        return {"building_id": model.building_id, "elements": len(model.elements), "sensors": model.sensor_count,
                "warnings": model.warnings}

    async def start(self, message: dict[str, Any]) -> dict[str, Any]:
        async with self._transition:
            if self.state == protocol.STATE_IDLE or self.model is None:
                raise RequestError(protocol.E_CONFLICT, "no configuration: send configure before start",
                                   {"state": self.state})
            if self.state != protocol.STATE_MONITORING:
                await self._start_sources()
                self._set_state(protocol.STATE_MONITORING)
        return {"state": self.state}

    async def stop(self, message: dict[str, Any]) -> dict[str, Any]:
        async with self._transition:
            if self.state == protocol.STATE_MONITORING:
                self._set_state(protocol.STATE_STOPPING)
                await self._stop_sources()
                self._set_state(protocol.STATE_CONFIGURED)
        return {"state": self.state}

    async def status(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.status_body()

    async def snapshot(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.pipeline is None:
            return {"health": [], "alerts": []}
        unique_ids = message["body"].get("unique_ids")
        return {"health": self.pipeline.health.snapshot(unique_ids),
                "alerts": [a.to_wire() for a in self.pipeline.alerts.standing_alerts(unique_ids)]}

    def _alert_engine(self, alert_id: str) -> AlertEngine:
        """The alert engine, once ``alert_id`` is known to it (else a ``bad_request`` error)."""
        if self.pipeline is None:
            raise RequestError(protocol.E_BAD_REQUEST, f"unknown alert_id {alert_id!r}: no configuration",
                               {"field": "body.alert_id", "alert_id": alert_id})
        try:
            self.pipeline.alerts.get(alert_id)
        except UnknownAlert:
            raise RequestError(protocol.E_BAD_REQUEST, f"unknown alert_id {alert_id!r}",
                               {"field": "body.alert_id", "alert_id": alert_id}) from None
        return self.pipeline.alerts

    def _operator_changed(self, alert: Alert) -> dict[str, Any]:
        """Publish what an operator's ack/shelve/unshelve changed; the reply body."""
        assert self.pipeline is not None
        self.pipeline.flush()
        return {"alert": alert.to_wire()}

    async def ack(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["body"]
        alert_id = body["alert_id"]
        alert = self._alert_engine(alert_id).acknowledge(alert_id, body.get("user"), body.get("note"))
        reply = self._operator_changed(alert)
        log.info("alert %s acknowledged by %s%s", alert_id, body.get("user") or "an unnamed user",
                 f": {redact(body['note'])}" if body.get("note") else "")
        return reply

    async def shelve(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["body"]
        alert_id = body["alert_id"]
        alerts = self._alert_engine(alert_id)
        try:
            alert = alerts.shelve(alert_id, body.get("until_ts"), body.get("duration_s"),
                                  body.get("user"), body.get("reason"))
        except ShelveError as error:
            field = "body.until_ts" if "until_ts" in body else "body.duration_s"
            raise RequestError(protocol.E_BAD_REQUEST, str(error), {"field": field}) from None
        reply = self._operator_changed(alert)
        log.info("alert %s shelved until %s by %s%s", alert_id, alert.shelved_until, body.get("user") or "an unnamed user",
                 f": {redact(body['reason'])}" if body.get("reason") else "")
        return reply

    async def unshelve(self, message: dict[str, Any]) -> dict[str, Any]:
        alert_id = message["body"]["alert_id"]
        alert = self._alert_engine(alert_id).unshelve(alert_id, message["body"].get("user"))
        reply = self._operator_changed(alert)
        log.info("alert %s unshelved by %s", alert_id, message["body"].get("user") or "an unnamed user")
        return reply

    async def set_limits(self, message: dict[str, Any]) -> dict[str, Any]:
        body = message["body"]
        sensor_id = body["sensor_id"]
        if self.pipeline is None or self.model is None or sensor_id not in self.model.sensor_index:
            raise RequestError(protocol.E_BAD_REQUEST, f"unknown sensor_id {sensor_id!r}",
                               {"field": "body.sensor_id", "sensor_id": sensor_id})
        try:
            limits = self.pipeline.set_limits(sensor_id, body["limits"])
        except ValueError as error:
            text = str(error)
            raise RequestError(protocol.E_BAD_REQUEST, text, {"field": "body." + text.split(":")[0]}) from None
        log.info("limits of %s set to %s", sensor_id, limits_to_wire(limits))
        return {"sensor_id": sensor_id, "limits": limits_to_wire(limits)}

    async def ingest(self, message: dict[str, Any]) -> dict[str, Any]:
        if self.state != protocol.STATE_MONITORING or self.pipeline is None or self.model is None:
            raise RequestError(protocol.E_CONFLICT, f"not monitoring (state {self.state}): send configure and "
                               "start before ingest", {"state": self.state})
        batch, rejected = parse_ingest(message["body"]["readings"], self.model, time.time(),
                                       self.config.alerts.max_future_s)
        self.pipeline.submit(batch)
        if self.historian is not None and len(batch):
            await self.historian.durable()  # `accepted` means on disk
        return ingest_reply(len(batch), rejected)  # capped: the first 100 rejections, counts per reason

    async def workorders(self, message: dict[str, Any]) -> dict[str, Any]:
        return await answer_workorders(message["body"], self.config.data_dir, self.model)

    async def history(self, message: dict[str, Any]) -> dict[str, Any]:
        return await answer_history(message["body"], self.historian, self.pipeline.ring if self.pipeline else None,
                                    self.model.sensor_index if self.model else {}, time.time())
