"""End to end in real headless Chromium: the page, the floor plan, live colour changes,
alerts and acknowledging them through the command handler."""
from __future__ import annotations

import time
from pathlib import Path

from .pages import open_page, wait_fill
from .pages import shot as save_shot

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


async def shot(page, name: str) -> None:
    await save_shot(page, ARTIFACTS, name)


async def test_floor_plan_goes_critical_live_and_alert_is_acknowledged(served, browser):
    backend, live = served.backend, served.live
    page, errors = await open_page(browser, served.url)

    level = await page.get_attribute("#level-buttons button.active", "data-level")
    on_level = [e for e in backend.config["elements"] if e["level"] == level]
    assert on_level, "the busiest level is shown first"
    await page.wait_for_function("n => document.querySelectorAll('#floorplan .el').length === n", arg=len(on_level))

    # every configured element on the level is drawn, in its health colour
    equipment = [e for e in on_level if e["kind"] == "equipment"]
    for element in equipment:
        status = backend.health[element["unique_id"]]["status"]
        marker = f"#floorplan .el[data-uid='{element['unique_id']}']"
        await page.wait_for_selector(f"{marker}[data-status='{status}']")
        await wait_fill(page, f"{marker} .shape", status)

    # a reading beyond the critical limit: the element turns critical, its alert appears
    target = next(e for e in equipment if any(s.get("sensor", {}).get("host") == e["unique_id"]
                                              for s in on_level))
    sensor = next(s for s in on_level if s.get("sensor", {}).get("host") == target["unique_id"])
    limit = sensor["sensor"]["limits"]["high_critical"]
    live.on_readings([(sensor["sensor"]["sensor_id"], time.time(), limit + 5.0)])
    backend.health[target["unique_id"]] = backend.health_record(target["unique_id"], "critical")
    live.on_health([backend.health[target["unique_id"]]])
    alert = backend.make_alert(sensor["sensor"]["sensor_id"], "critical", limit + 5.0, limit)
    live.on_alert(dict(alert))

    marker = f"#floorplan .el[data-uid='{target['unique_id']}']"
    await page.wait_for_selector(f"{marker}[data-status='critical']", timeout=5000)
    await wait_fill(page, f"{marker} .shape", "critical")

    box = await page.locator(f"{marker} .shape").bounding_box()
    assert box is not None
    # near its corner: a hosted sensor may sit in the middle of the unit
    await page.click(f"{marker} .shape", position={"x": box["width"] * 0.22, "y": box["height"] * 0.22})
    await page.wait_for_selector("#detail #detail-status.critical")
    await page.wait_for_selector("#mini-chart .main-svg")
    assert await page.locator("#detail .alert-item.critical").count() == 1
    await shot(page, "overview")

    await page.click(".tab[data-view='alerts']")
    row = f"#alert-table tr[data-alert='{alert['alert_id']}']"
    await page.wait_for_selector(f"{row}[data-state='active']")
    assert await page.inner_text("#alert-badge") == "1"
    await page.click(f"{row} button[data-ack]")
    await page.wait_for_selector(f"{row}[data-state='acknowledged']")
    assert ("ack", {"alert_id": alert["alert_id"], "user": "dashboard"}) in backend.requests
    assert backend.alerts[alert["alert_id"]]["state"] == "acknowledged"
    await shot(page, "alerts")

    await page.click(".tab[data-view='maintenance']")
    await page.wait_for_selector(f"#pm-table tr[data-uid='{target['unique_id']}'] .chip.critical")
    first = await page.get_attribute("#pm-table tbody tr:first-child", "data-uid")
    assert first == target["unique_id"], "highest failure probability first"
    await shot(page, "maintenance")
    assert errors == []


async def test_shelve_from_the_alert_console(served, browser):
    backend, live = served.backend, served.live
    sensor_id = next(iter(backend.sensors))
    alert = backend.make_alert(sensor_id, "warning", 99.0, 90.0)
    live.on_alert(dict(alert))
    others = [sid for sid in backend.sensors if backend.sensors[sid]["sensor"]["quantity"] == "co2"][:3]
    for index, other in enumerate(others):  # a realistic console for the screenshot
        extra = backend.make_alert(other, ("critical", "warning", "warning")[index], 1450.0 + index, 1400.0)
        if index == 2:
            extra["state"] = "cleared"
        live.on_alert(dict(extra))
    page, errors = await open_page(browser, served.url)
    await page.click(".tab[data-view='alerts']")
    row = f"#alert-table tr[data-alert='{alert['alert_id']}']"
    await page.wait_for_selector(row)
    await page.select_option("#shelve-duration", "14400")
    await page.click(f"{row} button[data-shelve]")
    await page.click("#alert-state-filter button[data-state='shelved']")
    await page.wait_for_selector(f"{row}[data-state='shelved']")
    kind, body = backend.requests[-1]
    assert kind == "shelve" and body["alert_id"] == alert["alert_id"] and body["duration_s"] == 14400
    await page.click("#alert-state-filter button[data-state='all']")
    await page.wait_for_selector(f"{row}[data-state='shelved']")
    await shot(page, "alerts")
    assert errors == []


async def test_trend_chart_downsamples_a_week_and_draws_limits(served, browser):
    backend = served.backend
    page, errors = await open_page(browser, served.url)
    await page.click(".tab[data-view='trends']")
    sensor_id = "ahu-01.supply_air_temp"
    assert sensor_id in backend.sensors
    await page.select_option("#trend-sensor", sensor_id)
    await page.click("#trend-ranges button[data-range='604800']")
    await page.wait_for_function("() => document.querySelector('#trend-info').textContent.startsWith('2000 points')")
    # four limit lines from the exported limits, and the min/max band plus the line
    await page.wait_for_function("() => document.querySelectorAll('#trend-chart .shapelayer path').length >= 4")
    traces = await page.evaluate("() => document.getElementById('trend-chart').data.length")
    assert traces == 3
    await shot(page, "trends")

    # zooming in re-fetches that window at full resolution (1-minute points, fewer than 2,000)
    await page.evaluate("""() => { const n = document.getElementById('trend-chart');
        const end = Date.now(), start = end - 3 * 3600 * 1000;
        return Plotly.relayout(n, {'xaxis.range[0]': new Date(start), 'xaxis.range[1]': new Date(end)}); }""")
    await page.wait_for_function("() => /^1[78]\\d points$/.test(document.querySelector('#trend-info').textContent)")
    assert errors == []


async def test_system_view_and_light_theme(served, browser):
    page, errors = await open_page(browser, served.url, theme="light")
    assert await page.get_attribute("html", "data-theme") == "light"
    await page.click(".tab[data-view='system']")
    await page.wait_for_selector("#sys-sources tbody tr")
    assert "mqtt://broker/site/#" in await page.inner_text("#sys-sources")
    # cloud connectors as the real sidecar reports them: state, backlog, messages/s, last error
    azure = "#sys-cloud tr[data-connector='azure']"
    assert await page.text_content(f"{azure} .chip.ok") == "connected"
    assert (await page.inner_text(f"{azure} .backlog")).startswith("12")
    assert await page.inner_text(f"{azure} .rate") == "4.2"
    assert await page.text_content("#sys-cloud tr[data-connector='aws'] .chip.critical") == "error"
    assert "endpoint is required" in await page.inner_text("#sys-cloud tr[data-connector='aws'] .error-text")
    assert await page.is_hidden("#sys-cloud-empty")
    assert "sqlite" in await page.inner_text("#sys-historian")
    assert "Standing (stale)" in await page.inner_text("#sys-alarms")
    await page.click("#btn-stop")
    await page.wait_for_selector("#state-pill.configured")
    assert served.backend.requests[-1] == ("stop", {})
    await shot(page, "system")
    await page.click(".tab[data-view='overview']")
    await page.wait_for_selector("#floorplan .el[data-status='ok']")
    await shot(page, "overview-light")
    assert errors == []
