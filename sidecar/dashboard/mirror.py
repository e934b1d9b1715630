"""A ``DashboardBackend`` built only from the plug-in contracts: the command handler
and the event stream. It mirrors health, alerts, status and latest values from the
events (so page loads never touch the service), asks the handler for anything else,
and forwards every event to its sinks (the ``LiveFeed``) after updating itself, so a
snapshot sent to a browser always includes the event that triggered it.
"""
from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sidecar.dashboard.backend import JSON, CommandHandler, EventSink
from sidecar.dashboard.batches import NewestReadings

log = logging.getLogger(__name__)

RECENT_CLEARED_ALERTS = 500
# Minute roll-ups read for one chart at most (two weeks): beyond that hourly points fill it anyway.
MAX_MINUTE_BUCKETS = 14 * 1440
# Batches held before the latest values are brought up to date (when nobody asked sooner).
FOLD_EVERY_BATCHES = 512  # ~5 s of the pipeline's 10 ms batches, ~1 MB at 10,000 readings/s


class SidecarMirror:
    def __init__(self, handle: CommandHandler, building: Callable[[], JSON | None], *,
                 recent_cleared: int = RECENT_CLEARED_ALERTS) -> None:
        self._handle = handle
        self._building = building
        self._recent_cleared = recent_cleared
        self._health: dict[str, JSON] = {}
        self._alerts: OrderedDict[str, JSON] = OrderedDict()
        self._status: JSON = {}
        self._latest: dict[str, tuple[float, float]] = {}
        self._unfolded = NewestReadings()
        self._sinks: list[EventSink] = []

    def add_sink(self, sink: EventSink) -> None:
        self._sinks.append(sink)

    async def prime(self) -> None:
        """Fill the mirror from the service once, before events start flowing."""
        snap = await self._handle("snapshot", {})
        self._health = {h["unique_id"]: h for h in snap.get("health", [])}
        for alert in snap.get("alerts", []):
            self._remember(alert)
        self._status = await self._handle("status", {})

    # ----- DashboardBackend -----
    def building(self) -> JSON | None:
        return self._building()

    def snapshot(self) -> JSON:
        return {"health": list(self._health.values()), "alerts": list(self._alerts.values())}

    def status(self) -> JSON:
        return self._status

    def latest(self) -> dict[str, tuple[float, float]]:
        self._fold()
        return self._latest

    async def history(self, sensor_id: str, start_ts: float, end_ts: float, max_points: int) -> JSON:
        """The ``history`` request's reply (``ts``, ``value``, and ``min``/``max`` when merged or
        rolled up). ``auto`` serves the finest resolution whose points fit ``max_points`` without
        merging: for a week of minutes (10,080) that is hours (168), too coarse for a chart that
        holds 2,000. Then minutes are asked for, which the handler merges in equal groups to
        ``max_points`` with exact min/max, so a one-minute spike still shows in the band."""
        body: JSON = {"sensor_id": sensor_id, "start_ts": start_ts, "end_ts": end_ts, "max_points": max_points}
        try:
            reply = await self._handle("history", body)
            if (reply.get("resolution") == "1h" and len(reply.get("ts") or ()) < max_points // 4
                    and (end_ts - start_ts) / 60.0 <= MAX_MINUTE_BUCKETS):
                reply = await self._handle("history", {**body, "resolution": "1m"})
            return reply
        except Exception as exc:
            if getattr(exc, "code", None) == "unknown_type":  # no historian yet: live points only
                return {"ts": [], "value": [], "min": [], "max": []}
            raise

    async def request(self, type: str, body: JSON) -> JSON:
        return await self._handle(type, body)

    # ----- EventSink -----
    def on_readings(self, batch: Any) -> None:
        """``batch``: ``[(sensor_id, ts, value), ...]`` or the pipeline's columnar ReadingBatch.

        Kept as it came and reduced to latest values only when they are read (or every
        ``FOLD_EVERY_BATCHES`` batches): at 100 batches a second, reducing each one would
        cost more than everything else the dashboard does."""
        self._unfolded.add(batch)
        if len(self._unfolded) >= FOLD_EVERY_BATCHES:
            self._fold()
        for sink in self._sinks:
            sink.on_readings(batch)

    def on_alert(self, alert: JSON) -> None:
        self._remember(alert)
        for sink in self._sinks:
            sink.on_alert(alert)

    def on_health(self, items: list[JSON]) -> None:
        for item in items:
            self._health[item["unique_id"]] = item
        for sink in self._sinks:
            sink.on_health(items)

    def on_status(self, status: JSON) -> None:
        self._status = status
        for sink in self._sinks:
            sink.on_status(status)

    def _fold(self) -> None:
        if len(self._unfolded):
            ids, ts, values = self._unfolded.drain_columns()
            self._latest.update(zip(ids, zip(ts.tolist(), values.tolist())))

    def _remember(self, alert: JSON) -> None:
        alert_id = alert["alert_id"]
        self._alerts.pop(alert_id, None)
        self._alerts[alert_id] = alert  # most recently changed last
        if len(self._alerts) > self._recent_cleared:
            for old_id in [k for k, a in self._alerts.items() if a.get("state") == "cleared"]:
                if len(self._alerts) <= self._recent_cleared:
                    break
                del self._alerts[old_id]
