"""The maintenance engine inside the real sidecar (subprocess, ZeroMQ on loopback): the additive
``workorders`` request, ``status.maintenance``, and a drift ingested over ZeroMQ that raises a
work order published as a ``maintenance`` alert."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from support.buildings import AHU, PUMP, small_building
from support.protocol_client import CommandClient

from shared_schemas import validation

CONFIG = """
[simulator]
demo_faults = false

[analytics]
interval_s = 0.5
"""


def _order(work_order_id: str, unique_id: str, created: float, status: str = "open") -> dict[str, Any]:
    order = {"work_order_id": work_order_id, "unique_id": unique_id, "failure_probability": 0.75,
             "recommended_action": "Inspect the pump bearings, tooling and drive train; replace worn parts.",
             "evidence": ["CHWP-1 Vibration (vibration) rising"], "due_ts": created + 36000.0,
             "created_ts": created, "priority": "medium", "status": status, "ttf_hours": 20.0, "extra": {}}
    if status == "closed":
        order["extra"] = {"closed_ts": created + 600.0}
    return order


def test_workorders_request(sidecar_factory, zmq_context, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    data.mkdir()
    now = time.time()
    lines = [_order("a" * 32, PUMP, now - 7200), _order("b" * 32, AHU, now - 3600), _order("a" * 32, PUMP, now - 7200, "closed")]
    (data / "workorders.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n{torn", encoding="utf-8")
    with sidecar_factory(CONFIG, data_dir=data) as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        try:
            client.call("configure", small_building())

            def ask(body: dict[str, Any]) -> list[dict[str, Any]]:
                reply = client.request("workorders", body)
                validation.validate_reply(reply)
                assert reply["ok"] is True, reply
                return reply["body"]["workorders"]

            assert [o["work_order_id"] for o in ask({})] == ["b" * 32]
            both = ask({"status": "all"})
            assert [o["work_order_id"] for o in both] == ["b" * 32, "a" * 32]   # newest first
            closed = ask({"status": "closed"})[0]
            assert closed["status"] == "closed" and closed["closed_ts"] == now - 7200 + 600.0
            assert closed["element_id"] == 1001 and closed["title"].startswith("CHWP-1: Inspect")
            assert len(ask({"status": "all", "limit": 1})) == 1
            for bad in ({"status": "pending"}, {"limit": 0}, {"limit": "5"}):
                reply = client.request("workorders", bad)
                assert reply["ok"] is False and reply["error"]["code"] == "bad_request", reply
            status = client.call("status")
            maintenance = status["maintenance"]
            assert maintenance["model"] == "trend" and maintenance["open_workorders"] == 1
            assert {"equipment_evaluated", "last_run_ts", "last_run_ms"} <= set(maintenance)
            assert [w["unique_id"] for w in status["work_orders"]] == [AHU]
        finally:
            client.close()


def test_ingested_drift_raises_a_maintenance_alert(monitoring) -> None:  # type: ignore[no-untyped-def]
    with monitoring(CONFIG, small_building()) as (_handle, client, events):
        # Six hours of one-minute readings up to now: the AHU fan's vibration flat for three
        # hours, then rising 1 mm/s per hour (5 mm/s now, critical 7.1); the pump steady.
        now = time.time()
        ts = now - 60.0 * np.arange(360)[::-1]
        hours = (ts - ts[0]) / 3600.0
        rng = np.random.default_rng(3)
        fan = 2.0 + np.clip(hours - 3.0, 0.0, None) + rng.normal(0, 0.05, 360)
        pump = 2.0 + rng.normal(0, 0.05, 360)
        readings = [["ahu1.sf_vib", float(t), float(v)] for t, v in zip(ts, fan)]
        readings += [["chwp1.vib", float(t), float(v)] for t, v in zip(ts, pump)]
        assert client.call("ingest", {"readings": readings})["accepted"] == 720
        alert = events.wait_for(lambda topic, m: topic == "alert" and m["body"]["kind"] == "maintenance",
                                timeout_s=20.0, what="maintenance alert")["body"]
        validation.validate_record("Alert", alert)
        assert alert["unique_id"] == AHU and alert["state"] == "active"
        assert alert["failure_probability"] >= 0.7 and "bearings" in alert["recommended_action"]
        health = events.wait_for(lambda topic, m: topic == "health" and any(
            h["unique_id"] == AHU and (h["failure_probability"] or 0) >= 0.7 for h in m["body"]["items"]),
            timeout_s=10.0, what="AHU health with p >= 0.7", include_seen=True)
        record = next(h for h in health["body"]["items"] if h["unique_id"] == AHU)
        assert record["ttf_hours"] is not None and 0 < record["ttf_hours"] < 24
        orders = client.call("workorders", {})["workorders"]
        assert [o["unique_id"] for o in orders] == [AHU] and orders[0]["status"] == "open"
        pump_health = client.call("snapshot", {"unique_ids": [PUMP]})["health"][0]
        assert (pump_health["failure_probability"] or 0.0) < 0.2
        assert client.call("status")["maintenance"]["equipment_evaluated"] == 2


def test_past_critical_limit_the_health_record_agrees_with_the_alarm(monitoring) -> None:  # type: ignore[no-untyped-def]
    """The critical case end to end: the AHU fan's vibration ingested past its critical limit
    (8.9 mm/s over 7.1): the sidecar raises the critical limit alert, and the AHU's health
    record says failing now (failure probability 1.0, 0 h to failure) with a driver that names
    the same sensor, value and limit, never "rising toward" it."""
    with monitoring(CONFIG, small_building()) as (_handle, client, events):
        now = time.time()
        ts = now - 60.0 * np.arange(180)[::-1]
        rng = np.random.default_rng(4)
        fan = np.where(ts >= now - 20 * 60.0, 8.9, 2.0)      # healthy, then 8.9 mm/s for 20 minutes
        pump = 2.0 + rng.normal(0, 0.05, len(ts))
        readings = [["ahu1.sf_vib", float(t), float(v)] for t, v in zip(ts, fan)]
        readings += [["chwp1.vib", float(t), float(v)] for t, v in zip(ts, pump)]
        assert client.call("ingest", {"readings": readings})["accepted"] == 360
        alert = events.wait_for(lambda topic, m: topic == "alert" and m["body"]["kind"] == "limit_high"
                                and m["body"]["severity"] == "critical", timeout_s=20.0, what="critical limit alert",
                                include_seen=True)["body"]
        assert alert["sensor_id"] == "ahu1.sf_vib" and alert["unique_id"] == AHU and alert["state"] == "active"
        health = events.wait_for(lambda topic, m: topic == "health" and any(
            h["unique_id"] == AHU and h["failure_probability"] == 1.0 for h in m["body"]["items"]),
            timeout_s=20.0, what="AHU health failing now", include_seen=True)
        record = next(h for h in health["body"]["items"] if h["unique_id"] == AHU)
        validation.validate_record("HealthRecord", record)
        assert record["ttf_hours"] == 0.0
        assert "AHU-1 Supply Fan Vibration 8.9 mm/s is past its critical limit 7.1 mm/s now" in record["drivers"]
        assert not any("toward" in d for d in record["drivers"])
        # The snapshot (what the panel reads) agrees with the open alerts.
        snap = client.call("snapshot", {"unique_ids": [AHU]})
        assert snap["health"][0]["failure_probability"] == 1.0
        open_critical = [a for a in snap["alerts"] if a["kind"] == "limit_high" and a["state"] == "active"]
        assert [a["severity"] for a in open_critical] == ["critical"]
        pump_health = client.call("snapshot", {"unique_ids": [PUMP]})["health"][0]
        assert (pump_health["failure_probability"] or 0.0) < 0.2
