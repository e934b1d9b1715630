"""The dashboard in front of the REAL sidecar, in real headless Chromium.

``python -m sidecar serve --dashboard-port 0`` runs as a subprocess; this test talks to it only
as any third-party client would (pyzmq REQ + msgpack per PROTOCOL.md, a SUB on the event
endpoint) and through the page. The sample building is configured with every sensor on
``ingest:`` so only the readings sent here drive it. Checked: the page is found through
``status.dashboard_url``; a reading past a critical limit turns its equipment critical and the
alert appears; acknowledging it in the page publishes the ``alert`` event (state acknowledged,
``acknowledged_by`` as typed in the page); shelving reaches the real ``shelve`` handler with a
body its schema allows; trends load history through the real ``history`` handler; the System
view shows the historian, the alarm metrics and that no cloud connector is configured.

Screenshots go to ``test-artifacts/dashboard-real/``; with ``REVITPYIOT_UPDATE_DOCS_IMAGES=1``
the key views are also copied to ``docs/img/dashboard-*.png`` (the README and docs show them).
"""
from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from typing import Any

import numpy as np
from support.protocol_client import CommandClient, EventListener, alert_event
from support.sidecar_process import running_sidecar

from shared_schemas import protocol
from sidecar.config import SimulatorConfig
from sidecar.model import build_model
from sidecar.simulation.floor_plans import with_outlines
from sidecar.simulation.sample_building import build_demo_building
from sidecar.sources.sim import SimSource

from .pages import ROOT, open_page, publish_docs_images, shot, wait_fill
from .support import LEVEL_WITHOUT_OUTLINES

ARTIFACTS = ROOT / "test-artifacts" / "dashboard-real"
SHELVE_SCHEMA = ROOT / "shared_schemas" / "schemas" / "shelve.request.json"
DOCS_VIEWS = ("overview", "alerts", "trends", "maintenance", "system")
HISTORY_MINUTES = 350          # one reading a minute over the last ~6 h, before the page opens
OPERATOR = "Night shift (Ana)"


def ingest_only_building() -> dict[str, Any]:
    # room outlines as the extension exports them
    building = with_outlines(build_demo_building(), without=(LEVEL_WITHOUT_OUTLINES,))
    for element in building["elements"]:
        if element.get("sensor"):
            element["sensor"]["source"] = "ingest:"
            element.setdefault("parameters", {})[protocol.PARAM_SOURCE] = "ingest:"
    return building


# The simulated building follows the clock (occupancy, plant schedules): the values are taken
# from a fixed weekday midday and stamped with the times asked for, so what the page shows does
# not depend on when the test runs (in the evening the chiller's power falls by half over the
# history window, which the anomaly evidence rightly calls unusual).
MIDDAY = time.mktime((2024, 6, 5, 12, 0, 0, 0, 0, -1))  # a Wednesday, local time


def plausible_values(building: dict[str, Any], walls: np.ndarray, end: float) -> tuple[list[str], np.ndarray]:
    """Fault-free values of every sensor at ``walls`` from the simulator's own model of the
    building (inside each sensor's limits), so the page shows a healthy building; the readings
    are those of the same times before a fixed midday as ``walls`` are before ``end``."""
    model = build_model(building)
    simulator = SimSource(model, np.arange(model.sensor_count, dtype=np.int32), lambda *a: None,
                          SimulatorConfig(demo_faults=False, seed=11))
    shift = MIDDAY - end
    sensor, ts, value = simulator.sample(walls + shift)
    ids = [model.sensors[i].sensor_id for i in sensor.tolist()]
    return ids, np.column_stack([ts - shift, value])


def critical_target(building: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Equipment, a sensor it hosts and that sensor's effective high-critical limit, on the level
    with the most equipment (the plant room makes the better picture)."""
    model = build_model(building)
    elements = {e["unique_id"]: e for e in building["elements"]}
    equipment_per_level = Counter(e["level"] for e in building["elements"] if e["kind"] == protocol.KIND_EQUIPMENT)
    candidates = []
    for index, sensor in enumerate(model.sensors):
        host = elements.get(sensor.host or "")
        limit = float(model.high_critical[index])
        if host is not None and host["kind"] == protocol.KIND_EQUIPMENT and np.isfinite(limit) \
                and host.get("location") and host.get("level"):
            candidates.append((-equipment_per_level[host["level"]], index, host, sensor.sensor_id, limit))
    assert candidates, "the sample building has no hosted sensor with a critical limit"
    _, _, host, sensor_id, limit = min(candidates, key=lambda c: c[:2])
    element = next(e for e in building["elements"] if e.get("sensor", {}).get("sensor_id") == sensor_id)
    return host, element, limit


def ingest(client: CommandClient, readings: list[list[Any]]) -> None:
    for start in range(0, len(readings), 5000):
        reply = client.call(protocol.INGEST, {"readings": readings[start:start + 5000]})
        assert reply["rejected"] == [], reply["rejected"][:3]


def dashboard_url(client: CommandClient, timeout_s: float = 20.0) -> str:
    """The sidecar names its dashboard in ``status`` once the plug-in has started."""
    deadline = time.monotonic() + timeout_s
    while True:
        status = client.call(protocol.STATUS)
        if status.get("dashboard_url"):
            return str(status["dashboard_url"])
        assert time.monotonic() < deadline, f"no dashboard_url in status: {status}"
        time.sleep(0.1)


async def test_dashboard_against_the_real_sidecar(browser):
    building = ingest_only_building()
    host, sensor_element, limit = critical_target(building)
    sensor_id = sensor_element["sensor"]["sensor_id"]
    with running_sidecar(extra_args=["--dashboard-port", "0"]) as sidecar:
        client = CommandClient(sidecar.command_endpoint, sidecar.token)
        listener = EventListener(sidecar.event_endpoint, topics=(protocol.TOPIC_ALERT, protocol.TOPIC_STATUS))
        try:
            url = dashboard_url(client)
            assert url.startswith("http://127.0.0.1:") and not url.endswith(":8765/")
            configured = client.call(protocol.CONFIGURE, building)
            assert configured["sensors"] == len([e for e in building["elements"] if e.get("sensor")])
            client.call(protocol.START)
            status = client.call(protocol.STATUS)
            assert status["sources"] == {}, "every sensor is ingest-only: nothing else feeds the building"

            # history first (past timestamps), then one current, healthy reading of every sensor
            now = time.time()
            walls = now - 60.0 * np.arange(HISTORY_MINUTES, 0, -1)
            ids, rows = plausible_values(building, walls, now)
            ingest(client, [[sid, ts, value] for sid, (ts, value) in zip(ids, rows.tolist(), strict=True)
                            if sid == sensor_id])
            current = time.time()
            ids, rows = plausible_values(building, np.array([current]), now)
            ingest(client, [[sid, ts, value] for sid, (ts, value) in zip(ids, rows.tolist(), strict=True)])

            page, errors = await open_page(browser, url)
            shelve_bodies: list[dict[str, Any]] = []
            page.on("request", lambda r: shelve_bodies.append(json.loads(r.post_data or "{}"))
                    if r.url.endswith("/api/command/shelve") else None)
            await page.click(f"#level-buttons button[data-level='{host['level']}']")
            marker = f"#floorplan .el[data-uid='{host['unique_id']}']"
            await page.wait_for_selector(f"{marker}[data-status='ok']")
            await wait_fill(page, f"{marker} .shape", protocol.STATUS_OK)

            # a reading past the critical limit, over ZeroMQ: the equipment turns critical live
            listener.settle(client)
            ingest(client, [[sensor_id, time.time(), limit + abs(limit) * 0.5 + 1.0]])
            raised = await asyncio.to_thread(listener.wait_for, alert_event(state=protocol.ALERT_ACTIVE,
                                                                            sensor_id=sensor_id), 15.0, "raised alert")
            alert = raised["body"]
            assert alert["severity"] == protocol.SEVERITY_CRITICAL
            await page.wait_for_selector(f"{marker}[data-status='critical']", timeout=10_000)
            await wait_fill(page, f"{marker} .shape", protocol.STATUS_CRITICAL)
            box = await page.locator(f"{marker} .shape").bounding_box()
            assert box is not None
            await page.click(f"{marker} .shape", position={"x": box["width"] * 0.22, "y": box["height"] * 0.22})
            await page.wait_for_selector("#detail #detail-status.critical")
            await page.wait_for_selector("#detail .alert-item.critical")
            await page.wait_for_selector("#mini-chart .main-svg")
            await shot(page, ARTIFACTS, "overview")

            # the alert console; acknowledging it in the page publishes the alert event
            await page.click(".tab[data-view='alerts']")
            row = f"#alert-table tr[data-alert='{alert['alert_id']}']"
            await page.wait_for_selector(f"{row}[data-state='active']")
            await page.fill("#ack-user", OPERATOR)
            await page.dispatch_event("#ack-user", "change")
            await page.click(f"{row} button[data-ack]")
            acked = await asyncio.to_thread(
                listener.wait_for, lambda topic, event: alert_event(state=protocol.ALERT_ACKNOWLEDGED)(topic, event)
                and event["body"]["alert_id"] == alert["alert_id"], 15.0, "acknowledged alert event")
            assert acked["body"]["acknowledged_by"] == OPERATOR
            await page.wait_for_selector(f"{row}[data-state='acknowledged']")
            assert OPERATOR in await page.inner_text(f"{row} .alert-state")
            await page.wait_for_selector("#alert-metrics .metric >> text=Alarms per 10 min")
            await shot(page, ARTIFACTS, "alerts")

            # shelving from the page reaches the real shelve handler
            await page.select_option("#shelve-duration", "14400")
            await page.click(f"{row} button[data-shelve]")
            shelved = await asyncio.to_thread(
                listener.wait_for, lambda topic, event: topic == protocol.TOPIC_ALERT
                and event["body"]["alert_id"] == alert["alert_id"] and "shelved_until" in event["body"],
                15.0, "shelved alert event")
            assert shelved["body"]["shelved_by"] == OPERATOR
            assert 14000 < shelved["body"]["shelved_until"] - time.time() <= 14400
            schema_body = json.loads(SHELVE_SCHEMA.read_text(encoding="utf-8"))["$defs"]["body"]
            assert len(shelve_bodies) == 1 and set(shelve_bodies[0]) <= set(schema_body["properties"])
            assert set(schema_body["required"]) <= set(shelve_bodies[0])
            await page.click("#alert-state-filter button[data-state='shelved']")
            await page.wait_for_selector(f"{row}[data-state='shelved']")

            # trends: the history handler's series (raw, one a minute) plus the spike
            await page.click(".tab[data-view='trends']")
            await page.select_option("#trend-sensor", sensor_id)
            await page.click("#trend-ranges button[data-range='21600']")
            await page.wait_for_function(
                "n => { const m = /^(\\d+) points/.exec(document.querySelector('#trend-info').textContent);"
                " return m && Number(m[1]) >= n; }", arg=HISTORY_MINUTES)
            served = client.call(protocol.HISTORY, {"sensor_id": sensor_id, "start_ts": now - 21600,
                                                    "end_ts": time.time(), "max_points": 2000})
            assert served["resolution"] == "raw" and len(served["ts"]) >= HISTORY_MINUTES + 2
            peak = await page.evaluate("() => Math.max(...document.getElementById('trend-chart').data[0].y)")
            assert peak >= limit, "the min/max band shows the critical reading"
            await page.wait_for_function("() => document.querySelectorAll('#trend-chart .shapelayer path').length >= 1")
            await shot(page, ARTIFACTS, "trends")

            await page.click(".tab[data-view='maintenance']")
            await page.wait_for_selector(f"#pm-table tr[data-uid='{host['unique_id']}'] .chip.critical")
            await shot(page, ARTIFACTS, "maintenance")

            # System: the status body as the real sidecar sends it
            await page.click(".tab[data-view='system']")
            await page.wait_for_selector("#sys-cloud-empty:visible")
            assert "No cloud connectors configured" in await page.inner_text("#sys-cloud-empty")
            assert await page.is_hidden("#sys-cloud")
            await page.wait_for_selector("#sys-historian >> text=sqlite")
            alarms = await page.inner_text("#sys-alarms")
            assert "Alarms per 10 min" in alarms and "Shelved" in alarms
            await page.wait_for_selector("#sys-sidecar >> text=harbour-view")
            # the status arrives with the next heartbeat (every 2 s): wait for the one counting the shelved alert
            await page.wait_for_function("""() => [...document.querySelectorAll('#sys-alarms dt')].some(
                (dt) => dt.textContent === 'Shelved' && dt.nextElementSibling.textContent === '1')""")
            await shot(page, ARTIFACTS, "system")
            assert errors == []
        finally:
            listener.close()
            client.close()
    publish_docs_images(ARTIFACTS, DOCS_VIEWS)


async def test_a_week_of_minutes_comes_from_the_real_history_handler_as_a_smooth_band():
    """``auto`` would serve 168 hourly points for a week; the dashboard asks for minutes merged to
    the chart's 2,000 points instead, so a one-minute spike survives in the min/max band."""
    import aiohttp

    building = ingest_only_building()
    _, sensor_element, limit = critical_target(building)
    sensor_id = sensor_element["sensor"]["sensor_id"]
    with running_sidecar(extra_args=["--dashboard-port", "0"]) as sidecar:
        client = CommandClient(sidecar.command_endpoint, sidecar.token)
        try:
            url = dashboard_url(client)
            client.call(protocol.CONFIGURE, building)
            client.call(protocol.START)
            now = time.time()
            ts = now - 60.0 * np.arange(7 * 1440, 0, -1)
            values = 100.0 + 10.0 * np.sin(ts / 86400.0 * 2 * np.pi)
            spike = len(ts) // 2
            values[spike] = limit * 3  # one minute, mid-week (a reading far in the past raises no alert now)
            ingest(client, [[sensor_id, t, v] for t, v in zip(ts.tolist(), values.tolist(), strict=True)])
            async with aiohttp.ClientSession() as session:
                query = {"sensor_id": sensor_id, "start": str(now - 7 * 86400 - 30), "end": str(now), "points": "2000"}
                async with session.get(url + "api/history", params=query) as response:
                    assert response.status == 200, await response.text()
                    week = await response.json()
                # replay: the value a sensor had at a past moment, through the same history handler
                # ten hours after the spike, one second after a minute boundary that falls between two
                # readings: the next reading's 1-minute bucket starts before `at` but ends after it, so
                # its value was not known at `at`
                k = spike + 600
                if ts[k + 1] - math.ceil(ts[k] / 60.0) * 60.0 < 2.0:
                    k += 1
                at = math.ceil(ts[k] / 60.0) * 60.0 + 1.0
                query = {"t": str(at), "window": "600", "sensor_id": sensor_id}
                async with session.get(url + "api/at", params=query) as response:
                    assert response.status == 200, await response.text()
                    replay = await response.json()
        finally:
            client.close()
    assert 1000 <= len(week["ts"]) <= 2000, len(week["ts"])
    assert len(week["ts"]) == len(week["value"]) == len(week["min"]) == len(week["max"])
    assert week["ts"] == sorted(week["ts"])
    assert max(week["max"]) == limit * 3 and max(week["value"]) < limit * 3
    assert min(week["min"]) >= 90.0 - 1e-9
    replay_ts, replay_value = replay["values"][sensor_id]
    assert at - 600 <= replay_ts <= at
    nearby = (ts >= at - 600) & (ts <= at)
    assert values[nearby].min() - 1e-6 <= replay_value <= values[nearby].max() + 1e-6
