"""Plug-ins that ride on the event hub: the live dashboard and the cloud connectors.

They never touch the service's internals: they receive events through ``EventHub``
subscriptions and act through ``request(type, body)``, the same handlers (and the same
validation) the ZeroMQ command endpoint uses. Each is optional and configured by its own
TOML section (``[dashboard]``, ``[cloud.azure]``, ``[cloud.aws]``); one that fails to start
is reported in ``status`` and logged, and the sidecar keeps monitoring without it.

Cloud data loss (a connector's outbox over its bound during a long outage) is never silent:
it is logged at ERROR, counted in ``status.cloud.<name>`` (``dropped``, ``data_loss_events``,
``last_data_loss``) and, once the service hands over its pipeline (``pipeline=``, a
``PipelinePort``), raised as a building-level ``cloud_data_loss`` alert that an operator
acknowledges.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shared_schemas import protocol
from sidecar.alarms.record import KIND_CLOUD_DATA_LOSS, Alert
from sidecar.hub import TOPIC_READINGS, EventHub
from sidecar.port import PipelinePort
from sidecar.readings import ReadingBatch
from sidecar.security import redact

log = logging.getLogger(__name__)

CommandHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
DEFAULT_DASHBOARD_PORT = 8765
LOSS_RECOVERY_CHECK_S = 1.0
LOSS_LOG_INTERVAL_S = 60.0


def readings_as_tuples(batch: Any) -> list[tuple[str, float, float]]:
    """The cloud connectors' reading format; the hub carries columnar ``ReadingBatch``es."""
    if isinstance(batch, ReadingBatch):
        return list(zip(batch.sensor_ids(), batch.ts.tolist(), batch.value.tolist(), strict=True))
    return list(batch)


def set_data_loss_alert(pipeline: PipelinePort, active: bool, info: dict[str, Any] | None = None,
                        now: float | None = None) -> Alert | None:
    """Set or clear the building-level ``cloud_data_loss`` alert (warning) through the
    pipeline's port; returns the alert (None once back to normal).

    The subject is the building itself (``unique_id`` = building id, ``element_id`` -1, no
    sensor): one alert per building, whichever connector lost data. The condition holds from a
    loss until the connectors that lost data are connected again; as with every alarm, the
    alert then waits for an acknowledgement (``unack_rtn``) unless one came before, and a
    further loss re-activates the same alert."""
    when = time.time() if now is None else now
    info = info or {}
    readings = int(info.get("readings") or 0)
    label = (f"Cloud connector {info.get('connector', '?')}: outbox full during an outage, "
             f"{readings} readings / {int(info.get('messages') or 0)} messages dropped:")
    return pipeline.set_condition(KIND_CLOUD_DATA_LOSS, active, value=float(readings), ts=when,
                                  severity=protocol.SEVERITY_WARNING, label=label)


class Plugins:
    """Starts, feeds and stops the dashboard and the cloud connectors of one sidecar."""

    def __init__(self, extra: dict[str, Any], data_dir: Path, token: str, hub: EventHub,
                 request: CommandHandler, building: Callable[[], dict[str, Any] | None],
                 pipeline: Callable[[], PipelinePort | None] | None = None):
        self.extra = extra
        self.data_dir = data_dir
        self.token = token
        self.hub = hub
        self.request = request
        self.building = building
        self.pipeline = pipeline  # the service's current Pipeline (or None): for the data-loss alert
        self.dashboard_url: str | None = None
        self.dashboard_error: str | None = None
        self._dashboard_runner: Any = None
        self.connectors: list[Any] = []
        self.connector_errors: dict[str, str] = {}
        self.data_loss: dict[str, dict[str, Any]] = {}  # connector name -> {events, last}
        self._losing: set[str] = set()  # connectors that lost data and are not connected again yet
        self._recovery_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self._start_dashboard()
        await self._start_cloud()

    async def stop(self) -> None:
        if self._recovery_task is not None:
            self._recovery_task.cancel()
            await asyncio.gather(self._recovery_task, return_exceptions=True)
            self._recovery_task = None
        for connector in self.connectors:
            try:
                await connector.stop()
            except Exception:
                log.exception("cloud connector %s failed while stopping", connector.name)
        if self._dashboard_runner is not None:
            await self._dashboard_runner.cleanup()
            self._dashboard_runner = None

    def on_config(self, config: dict[str, Any]) -> None:
        for connector in self.connectors:
            connector.on_config(config)

    def status_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if self.dashboard_url:
            fields["dashboard_url"] = self.dashboard_url
        elif self.dashboard_error:
            fields["dashboard_error"] = self.dashboard_error
        cloud = {c.name: self._connector_status(c) for c in self.connectors}
        for name, error in self.connector_errors.items():
            cloud[name] = {"state": "error", "last_error": error}
        if cloud:
            fields["cloud"] = cloud
        return fields

    def _connector_status(self, connector: Any) -> dict[str, Any]:
        status: dict[str, Any] = connector.status()
        loss = self.data_loss.get(connector.name)
        status["data_loss_events"] = loss["events"] if loss else 0
        status["last_data_loss"] = loss["last"] if loss else None
        return status

    # -- dashboard -----------------------------------------------------------------------
    async def _start_dashboard(self) -> None:
        from sidecar.config import parse_dashboard

        settings = parse_dashboard(self.extra.get("dashboard"))   # checked at start-up already
        if not settings.enabled:
            return
        from sidecar.dashboard import LiveFeed, SidecarMirror, start_dashboard

        mirror = SidecarMirror(self.request, self.building)
        live = LiveFeed(mirror)
        mirror.add_sink(live)
        try:
            await mirror.prime()
            runner, url = await start_dashboard(mirror, settings.host, settings.port, token=self.token,
                                                allowed_origins=settings.allowed_origins or None, live=live)
        except OSError as error:  # port taken: keep monitoring, say why in status and the log
            self.dashboard_error = f"dashboard not started: {error}"
            log.warning("%s (set [dashboard] port, or port = 0 for any free port)", self.dashboard_error)
            return
        self._dashboard_runner, self.dashboard_url = runner, url
        self.hub.subscribe(TOPIC_READINGS, mirror.on_readings, inline=True, name="dashboard")
        self.hub.subscribe("alert", mirror.on_alert, inline=True, name="dashboard")
        self.hub.subscribe("health", lambda body: mirror.on_health(body.get("items", [])), inline=True,
                           name="dashboard")
        self.hub.subscribe("status", mirror.on_status, inline=True, name="dashboard")
        log.info("dashboard at %s", url)

    # -- cloud ---------------------------------------------------------------------------
    def _on_data_loss(self, info: dict[str, Any]) -> None:
        """A connector dropped data (its loss listener, on the loop thread): never silent."""
        name = str(info.get("connector", "?"))
        entry = self.data_loss.setdefault(name, {"events": 0, "last": None})
        entry["events"] += 1
        entry["last"] = {"ts": time.time(), "reason": str(info.get("reason", "")),
                         "readings": int(info.get("readings") or 0), "messages": int(info.get("messages") or 0),
                         "first_ts": info.get("first_ts"), "last_ts": info.get("last_ts")}
        entry["readings"] = entry.get("readings", 0) + entry["last"]["readings"]
        # every loss is counted; the ERROR line repeats at most once a minute per connector
        # (a long outage drops on every batch), with the running total
        if name not in self._losing or time.monotonic() - entry.get("logged", 0.0) >= LOSS_LOG_INTERVAL_S:
            entry["logged"] = time.monotonic()
            log.error("cloud connector %s lost data: %s readings in %s messages dropped (%s; %s readings "
                      "in %d losses since start); the cloud has a gap for this period", name,
                      entry["last"]["readings"], entry["last"]["messages"], entry["last"]["reason"],
                      entry["readings"], entry["events"])
        self._losing.add(name)
        self._set_loss_alert(True, info)

    def _set_loss_alert(self, active: bool, info: dict[str, Any] | None = None) -> None:
        pipeline = self.pipeline() if self.pipeline is not None else None
        if pipeline is None:
            return
        try:
            set_data_loss_alert(pipeline, active, info)
        except Exception:  # the alert comes on top of the ERROR log and the counts
            log.exception("could not set the cloud_data_loss alert")

    async def _watch_recovery(self) -> None:
        """Clear the data-loss condition once every connector that lost data is connected again."""
        while True:
            await asyncio.sleep(LOSS_RECOVERY_CHECK_S)
            if self._losing and all(c.status().get("state") == "connected"
                                    for c in self.connectors if c.name in self._losing):
                self._losing.clear()
                log.info("cloud connectors connected again after data loss")
                self._set_loss_alert(False)

    def _feed(self, connector: Any, name: str) -> None:
        def on_readings(batch: Any) -> None:
            connector.on_readings(readings_as_tuples(batch))

        def on_health(body: dict[str, Any]) -> None:
            connector.on_health(body.get("items", []))

        self.hub.subscribe(TOPIC_READINGS, on_readings, inline=True, name=name)
        self.hub.subscribe("alert", connector.on_alert, inline=True, name=name)
        self.hub.subscribe("health", on_health, inline=True, name=name)
        self.hub.subscribe("status", connector.on_status, inline=True, name=name)

    async def _start_cloud(self) -> None:
        sections = self.extra.get("cloud") or {}
        if not sections:
            return
        from sidecar.cloud import create_connector

        for kind, settings in sections.items():
            if not isinstance(settings, dict) or not settings.get("enabled", True):
                continue
            try:
                connector = create_connector(kind, settings, self.data_dir, self.request)
                connector.add_loss_listener(self._on_data_loss)
                await connector.start()
            except Exception as error:  # noqa: BLE001 - a connector that fails to start must not stop monitoring
                self.connector_errors[kind] = redact(str(error))
                log.error("cloud connector %s not started: %s", kind, redact(str(error)))
                continue
            self.connectors.append(connector)
            self._feed(connector, f"cloud:{kind}")
            config = self.building()
            if config is not None:
                connector.on_config(config)
            log.info("cloud connector %s started", kind)
        if self.connectors:
            self._recovery_task = asyncio.create_task(self._watch_recovery(), name="cloud-loss-recovery")
