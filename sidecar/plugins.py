"""Plug-ins that ride on the event hub: the live dashboard and the cloud connectors.

They never touch the service's internals: they receive events through ``EventHub``
subscriptions and act through ``request(type, body)``, the same handlers (and the same
validation) the ZeroMQ command endpoint uses. Each is optional and configured by its own
TOML section (``[dashboard]``, ``[cloud.azure]``, ``[cloud.aws]``); one that fails to start
is reported in ``status`` and logged, and the sidecar keeps monitoring without it.
"""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sidecar.hub import TOPIC_READINGS, EventHub
from sidecar.readings import ReadingBatch
from sidecar.security import redact

log = logging.getLogger(__name__)

CommandHandler = Callable[[str, dict[str, Any]], Awaitable[dict[str, Any]]]
DEFAULT_DASHBOARD_PORT = 8765


def readings_as_tuples(batch: Any) -> list[tuple[str, float, float]]:
    """The cloud connectors' reading format; the hub carries columnar ``ReadingBatch``es."""
    if isinstance(batch, ReadingBatch):
        return list(zip(batch.sensor_ids(), batch.ts.tolist(), batch.value.tolist(), strict=True))
    return list(batch)


class Plugins:
    """Starts, feeds and stops the dashboard and the cloud connectors of one sidecar."""

    def __init__(self, extra: dict[str, Any], data_dir: Path, token: str, hub: EventHub,
                 request: CommandHandler, building: Callable[[], dict[str, Any] | None]):
        self.extra = extra
        self.data_dir = data_dir
        self.token = token
        self.hub = hub
        self.request = request
        self.building = building
        self.dashboard_url: str | None = None
        self.dashboard_error: str | None = None
        self._dashboard_runner: Any = None
        self.connectors: list[Any] = []
        self.connector_errors: dict[str, str] = {}

    async def start(self) -> None:
        await self._start_dashboard()
        await self._start_cloud()

    async def stop(self) -> None:
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
        cloud = {c.name: c.status() for c in self.connectors}
        for name, error in self.connector_errors.items():
            cloud[name] = {"state": "error", "last_error": error}
        if cloud:
            fields["cloud"] = cloud
        return fields

    # -- dashboard -----------------------------------------------------------------------
    async def _start_dashboard(self) -> None:
        settings = self.extra.get("dashboard") or {}
        if not settings.get("enabled", True):
            return
        from sidecar.dashboard import LiveFeed, SidecarMirror, start_dashboard

        mirror = SidecarMirror(self.request, self.building)
        live = LiveFeed(mirror)
        mirror.add_sink(live)
        try:
            await mirror.prime()
            runner, url = await start_dashboard(mirror, str(settings.get("host", "127.0.0.1")),
                                                int(settings.get("port", DEFAULT_DASHBOARD_PORT)),
                                                token=self.token, allowed_origins=settings.get("allowed_origins"),
                                                live=live)
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
                await connector.start()
            except Exception as error:
                self.connector_errors[kind] = redact(str(error))
                log.error("cloud connector %s not started: %s", kind, redact(str(error)))
                continue
            self.connectors.append(connector)
            self._feed(connector, f"cloud:{kind}")
            config = self.building()
            if config is not None:
                connector.on_config(config)
            log.info("cloud connector %s started", kind)
