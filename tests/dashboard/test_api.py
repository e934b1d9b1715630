"""The dashboard's own REST additions: unit symbols with the building, and replay values."""
from __future__ import annotations

import aiohttp

from sidecar.dashboard import LiveFeed, start_dashboard
from sidecar.dashboard.units import UNIT_SYMBOLS, unit_symbol, with_unit

from .support import DemoBackend


def test_unit_symbols_for_ucum_codes():
    assert unit_symbol("Cel") == "°C" and unit_symbol("kW.h") == "kWh" and unit_symbol("ug/m3") == "µg/m³"
    assert unit_symbol("%") == "%" and unit_symbol("mm/s") == "mm/s" and unit_symbol("ppm") == "ppm"
    assert unit_symbol("Pa") == "Pa" and unit_symbol("furlong") == "furlong"  # unknown: as it is
    assert unit_symbol(None) == "" and unit_symbol("1") == ""
    assert with_unit("19.5", "Cel") == "19.5 °C" and with_unit("3", "1") == "3"
    units = {e["sensor"]["unit"] for e in DemoBackend().config["elements"] if e.get("sensor")}
    assert units <= set(UNIT_SYMBOLS), "every unit of the sample building has its symbol"


async def test_building_carries_units_and_replay_gives_values_at_a_time(monkeypatch):
    from sidecar.dashboard import app as dashboard_app

    backend = DemoBackend()
    live = LiveFeed(backend)
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, live=live)
    sensors = list(backend.sensors)[:3]
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(url + "api/building") as response:
                body = await response.json()
                assert body["units"]["Cel"] == "°C" and body["building"]["building_id"]
            t = backend.now - 3 * 3600 + 17.0
            query = [("t", str(t)), ("window", "600")] + [("sensor_id", s) for s in sensors + ["nope"]]
            async with session.get(url + "api/at", params=query) as response:
                assert response.status == 200, await response.text()
                got = await response.json()
            assert set(got["values"]) == set(sensors)  # the unknown sensor is left out, not an error
            for sid in sensors:
                ts, values = backend.series(sid)
                at, value = got["values"][sid]
                assert t - 600 <= at <= t
                before = ts <= t
                assert abs(value - values[before][-1]) < 1e-6 or at < ts[before][-1]
            # by level: every sensor placed on it, by unique_id or by name
            roof = next(lv for lv in backend.config["levels"] if lv["name"] == "Roof")
            on_roof = {e["sensor"]["sensor_id"] for e in backend.config["elements"]
                       if e.get("sensor") and e["level"] == roof["unique_id"]}
            for level in (roof["unique_id"], "Roof"):
                async with session.get(url + "api/at", params={"t": str(t), "level": level}) as response:
                    assert set((await response.json())["values"]) == on_roof
            monkeypatch.setattr(dashboard_app, "MAX_REPLAY_SENSORS", len(on_roof) - 1)
            for params, field in (([("sensor_id", sensors[0])], "t"),
                                  ([("t", str(t)), ("window", "0")], "window"),
                                  ([("t", "nan")], "window"),
                                  ([("t", str(t)), ("level", "Roof")], "sensor_id")):  # over the (lowered) cap
                async with session.get(url + "api/at", params=params) as response:
                    assert response.status == 400
                    assert (await response.json())["error"]["details"] == field
    finally:
        await runner.cleanup()
