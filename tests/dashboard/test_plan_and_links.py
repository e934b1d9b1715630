"""The floor plan a facility manager reads at a glance, in real headless Chromium: real room
outlines (with holes) and the fallback, equipment labels, click targets that sensors never
cover, zoom, deep links, replay from history, unit symbols, a fitted trend window, the alarm
flood case and formatted maintenance figures."""
from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import quote

import numpy as np

from .conftest import Served
from .pages import open_page, wait_fill
from .pages import shot as save_shot
from .support import LEVEL_WITHOUT_OUTLINES

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"


def level_uid(backend, name: str) -> str:
    return next(lv["unique_id"] for lv in backend.config["levels"] if lv["name"] == name)


def by_mark(backend, mark: str) -> dict:
    return next(e for e in backend.config["elements"] if e.get("mark") == mark)


async def show_level(page, backend, name: str) -> None:
    await page.click(f"#level-buttons button[data-level='{level_uid(backend, name)}']")
    await page.wait_for_selector(f"#level-buttons button.active[data-level='{level_uid(backend, name)}']")


async def test_outlines_with_holes_labels_and_click_targets(served: Served, browser):
    backend = served.backend
    page, errors = await open_page(browser, served.url)
    await show_level(page, backend, "Level 2")
    level = level_uid(backend, "Level 2")
    spaces = [s for s in backend.config["spaces"] if s["level"] == level]
    assert all("outline" in s for s in spaces)
    await page.wait_for_function("n => document.querySelectorAll('#floorplan .space.outline path').length === n",
                                 arg=len(spaces))
    assert await page.locator("#floorplan .space.fallback").count() == 0
    # the north-west office wraps round a column: two loops, filled even-odd, the column left out
    holed = next(s for s in spaces if len(s["outline"]) == 2)
    path = f"#floorplan .space[data-space='{holed['unique_id']}'] path"
    assert await page.get_attribute(path, "fill-rule") == "evenodd"
    assert (await page.get_attribute(path, "d")).count("M") == 2
    inside_hole, inside_room = await page.evaluate("""(sel) => { const p = document.querySelector(sel);
        const pt = (x, y) => { const q = p.ownerSVGElement.createSVGPoint(); q.x = x; q.y = y; return q; };
        return [p.isPointInFill(pt(6.0, -16.8)), p.isPointInFill(pt(3.0, -15.0))]; }""", path)
    assert inside_hole is False and inside_room is True
    assert holed["number"] in await page.text_content(f"#floorplan .space[data-space='{holed['unique_id']}'] text")

    # a level exported without outlines keeps the boxes around what each space holds
    await show_level(page, backend, LEVEL_WITHOUT_OUTLINES)
    await page.wait_for_selector("#floorplan .space.fallback rect")
    assert await page.locator("#floorplan .space.outline").count() == 0

    # the roof: the critical AHU, its sensors around it, never over it
    await show_level(page, backend, "Roof")
    roof = level_uid(backend, "Roof")
    equipment = [e for e in backend.config["elements"] if e["level"] == roof and e["kind"] == "equipment"]
    await page.wait_for_function("n => document.querySelectorAll('#floorplan .el[data-kind=equipment]').length === n",
                                 arg=len(equipment))
    for element in equipment:  # every unit labelled with its mark
        label = f"#floorplan .eq-label[data-for='{element['unique_id']}']"
        assert await page.text_content(label) == (element.get("mark") or element["name"])
    overlaps = await page.evaluate("""() => {
        const out = [];
        for (const g of document.querySelectorAll('#floorplan .el[data-kind=equipment]')) {
          const r = g.querySelector('.shape').getBoundingClientRect();
          const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
          if (!hit || hit.closest('.el') !== g) out.push('centre of ' + g.dataset.uid + ' is ' + (hit && hit.outerHTML.slice(0, 80)));
          for (const s of document.querySelectorAll('#floorplan .el[data-kind=sensor] .shape')) {
            const q = s.getBoundingClientRect();
            if (q.x < r.right && r.x < q.right && q.y < r.bottom && r.y < q.bottom) out.push('sensor over ' + g.dataset.uid);
          }
        }
        return out; }""")
    assert overlaps == []
    ahu = by_mark(backend, "AHU-01")
    hosted = [e for e in backend.config["elements"] if (e.get("sensor") or {}).get("host") == ahu["unique_id"]]
    assert len(hosted) >= 3, "the AHU carries several sensors"
    await page.click(f"#floorplan .el[data-uid='{ahu['unique_id']}'] .shape")  # its very centre
    await page.wait_for_function("name => document.querySelector('#detail h2').textContent === name", arg=ahu["name"])

    # zoom: the plan grows, the markers keep their size on screen
    marker = f"#floorplan .el[data-uid='{ahu['unique_id']}'] .shape"
    other = f"#floorplan .el[data-uid='{next(e for e in equipment if e is not ahu)['unique_id']}'] .shape"

    async def centre_and_size(sel):
        box = await page.locator(sel).bounding_box()
        return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"]

    ax, ay, size = await centre_and_size(marker)
    bx, by, _ = await centre_and_size(other)
    await page.click("#zoom-in")
    await page.wait_for_selector("#floorplan[data-zoom='1.50']")
    ax2, ay2, size2 = await centre_and_size(marker)
    bx2, by2, _ = await centre_and_size(other)
    assert abs(size2 - size) < 1.0
    assert np.hypot(ax2 - bx2, ay2 - by2) > 1.4 * np.hypot(ax - bx, ay - by)
    await page.click("#zoom-reset")
    await page.wait_for_selector("#floorplan[data-zoom='1.00']")
    assert errors == []


async def test_deep_links_open_an_element_a_level_or_a_view(served: Served, browser):
    backend = served.backend
    ahu = by_mark(backend, "AHU-01")
    page, errors = await open_page(browser, served.url + "#/element/" + quote(ahu["unique_id"], safe=""))
    await page.wait_for_function("name => (document.querySelector('#detail h2') || {}).textContent === name",
                                 arg=ahu["name"])
    assert await page.get_attribute("#level-buttons button.active", "data-level") == level_uid(backend, "Roof")
    assert "selected" in await page.get_attribute(f"#floorplan .el[data-uid='{ahu['unique_id']}']", "class")

    await page.goto(served.url + "#/level/" + quote("Level 2"))
    await page.wait_for_selector(f"#level-buttons button.active[data-level='{level_uid(backend, 'Level 2')}']")
    await page.goto(served.url + "#/alerts")
    await page.wait_for_selector("#view-alerts.active")

    # navigating in the page keeps the address shareable
    await page.click(".tab[data-view='maintenance']")
    assert await page.evaluate("() => location.hash") == "#/maintenance"
    await page.click(".tab[data-view='overview']")
    await show_level(page, backend, "Level 2")
    assert await page.evaluate("() => location.hash") == "#/level/Level%202"
    chiller = next(e for e in backend.equipment if e["level"] == level_uid(backend, "Level 2"))
    await page.click(f"#floorplan .el[data-uid='{chiller['unique_id']}'] .shape")
    assert await page.evaluate("() => decodeURIComponent(location.hash)") == "#/element/" + chiller["unique_id"]

    # an element that is not in the building says so and leaves the page usable
    await page.goto(served.url + "#/element/nope")
    await page.wait_for_selector("#toast:has-text('Not in this building')")
    assert errors == []


async def test_replay_recolours_the_plan_from_history_and_returns_to_live(served: Served, browser):
    backend = served.backend
    ahu = by_mark(backend, "AHU-01")
    sensor = next(e for e in backend.config["elements"] if (e.get("sensor") or {}).get("host") == ahu["unique_id"]
                  and (e["sensor"].get("limits") or {}).get("high_critical") is not None)
    sensor_id, limit = sensor["sensor"]["sensor_id"], sensor["sensor"]["limits"]["high_critical"]
    ts, values = backend.series(sensor_id)
    past = float(ts[-180])  # three hours ago: a critical excursion lasting 20 minutes
    values[(ts > past - 1200) & (ts <= past)] = limit + 10.0
    marker = f"#floorplan .el[data-uid='{ahu['unique_id']}']"

    page, errors = await open_page(browser, served.url + "#/element/" + quote(ahu["unique_id"], safe=""))
    live_status = backend.health[ahu["unique_id"]]["status"]
    await page.wait_for_selector(f"{marker}[data-status='{live_status}']")
    # drag the slider back three hours (the plan asks /api/at once the slider rests)
    await page.evaluate("""(t) => { const s = document.getElementById('replay-slider');
        s.value = String(Math.round(t - Date.now() / 1000)); s.dispatchEvent(new Event('input')); }""", past + 30)
    await page.wait_for_selector("#replay-time[data-t]:not([data-t=''])")
    await page.wait_for_selector(f"{marker}[data-status='critical']")
    await wait_fill(page, f"{marker} .shape", "critical")
    await page.wait_for_selector("#detail #detail-status.critical")  # the selected unit as it was then
    assert "replaying" in await page.get_attribute("body", "class")
    t_param = await page.evaluate("() => new URLSearchParams(location.search).get('t')")
    assert t_param is not None and abs(float(t_param) - (past + 30)) < 90
    await save_shot(page, ARTIFACTS, "replay")

    await page.click("#replay-live")
    await page.wait_for_selector(f"{marker}[data-status='{live_status}']")
    assert await page.inner_text("#replay-time") == "Live"
    assert await page.evaluate("() => location.search") == ""

    # ?t= opens straight into the replay at that moment
    page2, errors2 = await open_page(browser, f"{served.url}?t={past + 30:.0f}#/level/Roof")
    await page2.wait_for_selector(f"{marker}[data-status='critical']")
    assert await page2.get_attribute("#replay-time", "data-t") == f"{past + 30:.0f}"
    assert errors == [] and errors2 == []


async def test_units_rate_alert_and_returned_alert_during_a_flood(served: Served, browser):
    backend, live = served.backend, served.live
    vib = next(sid for sid, e in backend.sensors.items() if e["sensor"]["unit"] == "mm/s")
    temp = next(sid for sid, e in backend.sensors.items() if e["sensor"]["unit"] == "Cel")
    co2 = next(sid for sid, e in backend.sensors.items() if e["sensor"]["quantity"] == "co2")
    rate = backend.make_alert(vib, "warning", 1.5, 1.0)
    rate.update(kind="rate_of_change", message=f"{backend.sensors[vib]['name']} changing +1.5 mm/s/min, "
                                               "limit ±1 mm/s/min (warning)")
    hot = backend.make_alert(temp, "critical", 31.2, 30.0)
    hot["message"] = f"{backend.sensors[temp]['name']} 31.2 Cel > 30 Cel (critical)"
    returned = backend.make_alert(co2, "warning", 1450.0, 1400.0)
    # a flood: the CO2 alert returned to normal but nobody acknowledged it yet
    returned.update(state="cleared", isa_state="unack_rtn", message="CO2 back within limits (820 ppm)")
    for alert in (rate, hot, returned):
        live.on_alert(dict(alert))
    status = backend.status()
    status["alarm_metrics"].update(flood=True, flood_since_ts=time.time() - 300, suppressed=12, floods=1,
                                   unacknowledged=99, active=99)  # the page counts what it holds instead
    backend.status = lambda: status  # type: ignore[method-assign]
    live.on_status(status)

    page, errors = await open_page(browser, served.url + "#/alerts")
    await page.wait_for_selector("#flood-banner:visible")
    assert "12 lower-priority alerts held back" in await page.inner_text("#flood-banner")
    row = f"#alert-table tr[data-alert='{returned['alert_id']}']"
    await page.wait_for_selector(f"{row}[data-state='returned'] button[data-ack]")  # in the Open filter, ackable
    assert "returned, unacknowledged" in await page.inner_text(f"{row} .alert-state")
    await page.click("#alert-state-filter button[data-state='active']")
    await page.wait_for_selector(f"{row}[data-state='returned']")

    # rate of change: the rate and its limit in one unit, per minute
    rate_value = await page.inner_text(f"#alert-table tr[data-alert='{rate['alert_id']}'] td.value")
    assert rate_value.replace("\n", " ") == "+1.50 mm/s/min limit ±1.00 mm/s/min"
    hot_row = f"#alert-table tr[data-alert='{hot['alert_id']}']"
    assert "31.2 °C > 30 °C" in await page.inner_text(hot_row)
    assert (await page.inner_text(f"{hot_row} td.value")).replace("\n", " ") == "31.2 °C limit 30.0 °C"

    # one source for every count: metrics, badge and System agree (3 unacknowledged, 2 active)
    async def metric(key):
        return await page.inner_text(f"#alert-metrics .metric[data-metric='{key}'] b")
    assert await metric("unacknowledged") == "3" and await metric("active") == "2"
    assert await metric("returned_unacknowledged") == "1"
    assert await page.inner_text("#alert-badge") == "3" and await page.inner_text("#kpi-alerts") == "2"
    await save_shot(page, ARTIFACTS, "alerts-flood")
    await page.click(".tab[data-view='system']")
    alarms = await page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#sys-alarms dt')]
        .map((dt) => [dt.textContent, dt.nextElementSibling.textContent]))""")
    assert alarms["Unacknowledged"] == "3" and alarms["Active"] == "2" and alarms["Returned, unacknowledged"] == "1"
    assert alarms["Suppressed (flood)"] == "12" and alarms["Flood"].startswith("yes")
    assert "Uptime" in await page.inner_text("#sys-sidecar")
    assert "1.5 h" in await page.inner_text("#sys-sidecar")  # 5,400 s, not "1.5 h" of "0.0 h" noise

    # acknowledging the returned alert ends it
    await page.click(".tab[data-view='alerts']")
    await page.click(f"{row} button[data-ack]")
    await page.wait_for_selector(row, state="detached")  # the Unacknowledged filter no longer holds it
    assert ("ack", {"alert_id": returned["alert_id"], "user": "dashboard"}) in backend.requests
    assert await page.inner_text("#alert-badge") == "2"

    # units everywhere on the page: symbols, never UCUM codes
    await page.click(".tab[data-view='overview']")
    host = backend.sensors[temp]["sensor"].get("host") or backend.sensors[temp]["unique_id"]
    await page.goto(served.url + "#/element/" + quote(host, safe=""))
    await page.wait_for_selector(f"#detail li[data-sensor='{temp}'] .val:has-text('°C')")
    text = await page.inner_text("body")
    assert " Cel" not in text and "{persons}" not in text
    assert errors == []


async def test_maintenance_figures_do_not_wrap_and_read_as_durations(served: Served, browser):
    backend, live = served.backend, served.live
    quiet = backend.equipment[1]["unique_id"]
    backend.health[quiet] = backend.health_record(quiet, "ok", failure_probability=0.0, ttf_hours=0.2)
    tiny = backend.equipment[2]["unique_id"]
    backend.health[tiny] = backend.health_record(tiny, "ok", failure_probability=0.004, ttf_hours=70.0)
    live.on_health([backend.health[quiet], backend.health[tiny]])
    page, errors = await open_page(browser, served.url + "#/maintenance")
    row = f"#pm-table tr[data-uid='{quiet}']"
    await page.wait_for_selector(row)
    assert await page.inner_text(f"{row} td.probability") == "0 %"
    assert await page.inner_text(f"{row} td.ttf") == "12 min"
    assert await page.inner_text(f"#pm-table tr[data-uid='{tiny}'] td.probability") == "<1 %"
    assert await page.inner_text(f"#pm-table tr[data-uid='{tiny}'] td.ttf") == "2.9 days"
    await page.set_viewport_size({"width": 900, "height": 900})  # narrow: still one line each
    # each figure is one line box, on the same line as its bar
    lines = await page.evaluate("""() => [...document.querySelectorAll('#pm-table td.probability')].filter(
        (td) => td.querySelector('.bar')).map((td) => {
          const text = [...td.childNodes].find((n) => n.nodeType === 3);
          const range = document.createRange(); range.selectNodeContents(text);
          const rects = range.getClientRects(), bar = td.querySelector('.bar').getBoundingClientRect();
          return [rects.length, rects[0].top < bar.bottom && rects[0].bottom > bar.top]; })""")
    assert lines and all(line == [1, True] for line in lines), lines
    assert errors == []


async def test_trend_opens_at_a_window_that_fits_a_fresh_demo(browser):
    from sidecar.dashboard import LiveFeed, start_dashboard

    from .support import DemoBackend

    backend = DemoBackend(history_s=20 * 60)  # the demo started twenty minutes ago
    live = LiveFeed(backend)
    backend.live = live
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, live=live)
    try:
        page, errors = await open_page(browser, url + "#/trends")
        await page.wait_for_function("() => Number(document.querySelector('#trend-info').dataset.range) > 0")
        window_s = int(await page.get_attribute("#trend-info", "data-range"))
        assert 20 * 60 <= window_s <= 30 * 60, window_s
        assert await page.locator("#trend-ranges button.active").count() == 0  # no preset: fitted
        await save_shot(page, ARTIFACTS, "trends-fresh")
        assert errors == []
    finally:
        await runner.cleanup()
