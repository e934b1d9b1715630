"""An in-test dashboard backend holding real data: the sample building, health records,
alerts, latest values and a week of 1-minute history per sensor. It behaves like the
sidecar does toward a plug-in: commands change state and the change comes back as an
event through the dashboard's event methods."""
from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from sidecar.dashboard.live import LiveFeed
from sidecar.dashboard.resample import envelope
from sidecar.simulation.floor_plans import with_outlines
from sidecar.simulation.sample_building import build_demo_building

WEEK_S = 7 * 86400

# The level the dashboard tests leave without outlines: the fallback (boxes) stays covered.
LEVEL_WITHOUT_OUTLINES = "Level 4"


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class DemoBackend:
    def __init__(self, now: float | None = None, *, history_s: float = WEEK_S) -> None:
        self.now = now if now is not None else time.time()
        self.history_s = history_s  # how far back the history goes (a fresh demo: minutes)
        self.config = with_outlines(build_demo_building(), without=(LEVEL_WITHOUT_OUTLINES,))
        self.elements = {e["unique_id"]: e for e in self.config["elements"]}
        self.sensors = {e["sensor"]["sensor_id"]: e for e in self.config["elements"] if e.get("sensor")}
        self.equipment = [e for e in self.config["elements"] if e["kind"] == "equipment"]
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.live: LiveFeed | None = None
        self.state = "monitoring"
        self.health: dict[str, dict[str, Any]] = {}
        for index, eq in enumerate(self.equipment):
            status = "ok" if index % 7 else "watch"
            self.health[eq["unique_id"]] = self.health_record(eq["unique_id"], status)
        self.alerts: dict[str, dict[str, Any]] = {}
        self._latest: dict[str, tuple[float, float]] = {}
        self._history_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for sensor_id in self.sensors:
            ts, values = self.series(sensor_id)
            self._latest[sensor_id] = (float(ts[-1]), float(values[-1]))

    # ----- data -----
    def health_record(self, unique_id: str, status: str, **extra: Any) -> dict[str, Any]:
        element = self.elements[unique_id]
        scores = {"ok": 92, "watch": 74, "warning": 55, "critical": 21, "unknown": 0}
        record = {"unique_id": unique_id, "element_id": element["element_id"], "health_score": scores[status],
                  "status": status, "failure_probability": {"ok": 0.03, "watch": 0.18, "warning": 0.41,
                                                            "critical": 0.83, "unknown": None}[status],
                  "ttf_hours": {"ok": None, "watch": 900.0, "warning": 240.0, "critical": 18.0,
                                "unknown": None}[status],
                  "drivers": [] if status == "ok" else ["vibration trend"], "updated_ts": self.now}
        record.update(extra)
        return record

    def series(self, sensor_id: str) -> tuple[np.ndarray, np.ndarray]:
        """A deterministic week of 1-minute readings (daily cycle, noise, one spike)."""
        if sensor_id not in self._history_cache:
            rng = np.random.default_rng(abs(hash(sensor_id)) % 2**32)
            ts = np.arange(self.now - self.history_s, self.now, 60.0)
            limits = self.sensors[sensor_id]["sensor"].get("limits") or {}
            low, high = limits.get("low", 0.0), limits.get("high", 100.0)
            mid, amp = (low + high) / 2, (high - low) / 4
            values = mid + amp * np.sin((ts % 86400) / 86400 * 2 * math.pi) + rng.normal(0, amp / 10, ts.size)
            values[ts.size // 2] = high + (high - low) * 0.3  # one spike the envelope must keep
            self._history_cache[sensor_id] = (ts, values)
        return self._history_cache[sensor_id]

    def make_alert(self, sensor_id: str, severity: str, value: float, threshold: float) -> dict[str, Any]:
        element = self.sensors[sensor_id]
        host = element["sensor"].get("host") or element["unique_id"]
        alert = {"alert_id": f"al-{len(self.alerts) + 1}", "building_id": self.config["building_id"],
                 "unique_id": host, "element_id": self.elements[host]["element_id"], "sensor_id": sensor_id,
                 "kind": "limit_high", "severity": severity, "state": "active",
                 "message": f"{element['name']} above {threshold:g}", "value": value, "threshold": threshold,
                 "raised_ts": time.time(), "updated_ts": time.time()}
        self.alerts[alert["alert_id"]] = alert
        return alert

    # ----- DashboardBackend -----
    def building(self) -> dict[str, Any] | None:
        return self.config

    def snapshot(self) -> dict[str, Any]:
        return {"health": list(self.health.values()), "alerts": list(self.alerts.values())}

    def status(self) -> dict[str, Any]:
        return {"state": self.state, "building_id": self.config["building_id"], "sensors": len(self.sensors),
                "readings_per_s": 238.0, "active_alerts": sum(a["state"] != "cleared" for a in self.alerts.values()),
                "uptime_s": 5400.0, "sources": {"sim": "running", "mqtt://broker/site/#": "connected"},
                # the shapes the real sidecar sends (sidecar/plugins.py, sidecar/cloud/base.py)
                "cloud": {"azure": {"name": "azure", "kind": "azure", "state": "connected", "backlog": 12,
                                    "backlog_bytes": 2048, "oldest_backlog_s": 3.5, "last_error": "",
                                    "last_error_ts": None, "messages_per_s": 4.2, "delivered": 1234},
                          "aws": {"state": "error", "last_error": "aws: endpoint is required"}},
                "alarm_metrics": {"alarms_per_10min": 2, "active": 1, "unacknowledged": 1, "acknowledged": 0,
                                  "returned_unacknowledged": 0, "chattering": 0, "stale_alarms": 1, "shelved": 0,
                                  "escalated": 0, "suppressed": 0, "flood": False, "floods": 0},
                "historian": {"backend": "sqlite", "rows": 4_000_000, "backlog": 0, "rows_written": 4_000_000,
                              "too_old": 0, "replayed": 0, "last_flush_ts": self.now, "last_flush_ms": 3.1,
                              "journal_unsynced_bytes": 0, "errors": 0, "last_error": ""},
                "work_orders": [{"unique_id": self.equipment[0]["unique_id"], "id": "WO-1042",
                                 "title": "Inspect supply fan bearings", "state": "open"}]}

    def latest(self) -> dict[str, tuple[float, float]]:
        return self._latest

    async def history(self, sensor_id: str, start_ts: float, end_ts: float, max_points: int) -> dict[str, Any]:
        if sensor_id not in self.sensors:
            raise CommandError("bad_request", f"unknown sensor {sensor_id!r}")
        ts, values = self.series(sensor_id)
        window = (ts >= start_ts) & (ts <= end_ts)
        return envelope(ts[window], values[window], max_points)

    async def request(self, type: str, body: dict[str, Any]) -> dict[str, Any]:
        self.requests.append((type, body))
        if type in ("ack", "shelve", "unshelve"):
            alert = self.alerts.get(body.get("alert_id", ""))
            if alert is None:
                raise CommandError("bad_request", f"no alert {body.get('alert_id')!r}")
            if type == "ack" and alert.get("isa_state") == "unack_rtn":  # returned: ack ends it
                alert.update(state="cleared", isa_state="normal", acknowledged_by=body.get("user"))
            elif type == "ack":
                alert.update(state="acknowledged", acknowledged_by=body.get("user"))
            elif type == "shelve":
                alert["shelved_until"] = time.time() + float(body.get("duration_s", 3600))
            else:
                alert.pop("shelved_until", None)
            alert["updated_ts"] = time.time()
            if self.live is not None:
                self.live.on_alert(dict(alert))  # the service publishes the change as an alert event
            return {"alert": alert}
        if type in ("start", "stop"):
            self.state = "monitoring" if type == "start" else "configured"
            if self.live is not None:
                self.live.on_status(self.status())
            return {"state": self.state}
        raise CommandError("unknown_type", f"unknown request type {type!r}")
