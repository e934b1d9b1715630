"""Resampling, batch reduction and the mirror backend, without a browser."""
from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.dashboard import LiveFeed, SidecarMirror
from sidecar.dashboard.batches import newest_per_sensor
from sidecar.dashboard.resample import envelope, normalise_history
from sidecar.model import build_model
from sidecar.readings import ReadingBatch
from sidecar.simulation.sample_building import build_demo_building


def test_week_of_minutes_becomes_2000_points_and_keeps_the_spike():
    ts = np.arange(0, 7 * 86400, 60.0)
    values = np.sin(ts / 86400 * 2 * math.pi)
    values[5000] = 50.0  # one minute's spike
    out = envelope(ts, values, 2000)
    assert len(out["ts"]) == len(out["value"]) == len(out["min"]) == len(out["max"]) <= 2000
    assert max(out["max"]) == 50.0  # the band keeps it, though the mean softens it
    assert max(out["value"]) < 50.0
    assert out["ts"] == sorted(out["ts"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1e6, 1e6), min_size=0, max_size=400), st.integers(1, 50))
def test_envelope_bounds_every_bucket(values, max_points):
    ts = np.arange(len(values), dtype=float)
    out = envelope(ts, values, max_points)
    assert len(out["ts"]) <= max(max_points, 0) or len(values) <= max_points
    for lo, mid, hi in zip(out["min"], out["value"], out["max"]):
        assert lo <= mid + 1e-6 * max(1.0, abs(mid)) and mid <= hi + 1e-6 * max(1.0, abs(mid))
    if values:
        assert min(out["min"]) == min(values) and max(out["max"]) == max(values)


def test_envelope_rejects_bad_input_and_drops_non_finite():
    with pytest.raises(ValueError):
        envelope([1.0, 2.0], [1.0], 10)
    with pytest.raises(ValueError):
        envelope([1.0], [1.0], 0)
    assert envelope([1.0, 2.0, 3.0], [1.0, float("nan"), 3.0], 10)["value"] == [1.0, 3.0]
    assert normalise_history({"ts": [1, 2], "value": [1, float("inf")]}, 10)["ts"] == [1.0]
    with pytest.raises(ValueError):
        normalise_history({"ts": [1, 2], "value": [1]}, 10)


def test_newest_per_sensor_for_tuples_and_columnar_batches():
    model = build_model(build_demo_building())
    sensor = np.array([0, 1, 0, 2, 1, 0], dtype=np.int32)
    ts = np.arange(6, dtype=float) + 100.0
    value = np.arange(6, dtype=float)
    batch = ReadingBatch(model, sensor, ts, value)
    got = {sid: (t, v) for sid, t, v in newest_per_sensor(batch)}
    names = [model.sensors[i].sensor_id for i in range(3)]
    assert got == {names[0]: (105.0, 5.0), names[1]: (104.0, 4.0), names[2]: (103.0, 3.0)}
    tuples = [("a", 1.0, 1.0), ("a", 2.0, 2.0)]
    assert {s: (t, v) for s, t, v in newest_per_sensor(tuples)} == {"a": (2.0, 2.0)}
    assert list(newest_per_sensor(ReadingBatch(model, sensor[:0], ts[:0], value[:0]))) == []


async def test_mirror_tracks_events_and_forwards_them_in_order():
    calls: list[tuple[str, dict]] = []

    class Refused(Exception):
        code, message = "unknown_type", "no history here"

    async def handle(kind: str, body: dict) -> dict:
        calls.append((kind, body))
        if kind == "snapshot":
            return {"health": [{"unique_id": "eq1", "status": "ok"}],
                    "alerts": [{"alert_id": "a1", "state": "active", "severity": "warning"}]}
        if kind == "status":
            return {"state": "monitoring"}
        if kind == "history":
            raise Refused()
        return {"kind": kind}

    mirror = SidecarMirror(handle, lambda: {"building_id": "b"}, recent_cleared=3)
    live = LiveFeed(mirror)
    seen: list[str] = []

    class Probe:
        def on_readings(self, batch): seen.append("readings")
        def on_alert(self, alert): seen.append("alert:" + mirror.snapshot()["alerts"][-1]["state"])
        def on_health(self, items): seen.append("health")
        def on_status(self, status): seen.append("status:" + mirror.status()["state"])

    mirror.add_sink(live)
    mirror.add_sink(Probe())
    await mirror.prime()
    assert mirror.status() == {"state": "monitoring"} and mirror.building() == {"building_id": "b"}
    mirror.on_alert({"alert_id": "a1", "state": "acknowledged"})
    mirror.on_status({"state": "configured"})
    mirror.on_readings([("s1", 1.0, 2.0)])
    mirror.on_health([{"unique_id": "eq1", "status": "critical"}])
    assert seen == ["alert:acknowledged", "status:configured", "readings", "health"]
    assert mirror.latest() == {"s1": (1.0, 2.0)}
    assert mirror.snapshot()["health"] == [{"unique_id": "eq1", "status": "critical"}]
    for i in range(10):  # cleared alerts are trimmed to the recent limit, open ones kept
        mirror.on_alert({"alert_id": f"c{i}", "state": "cleared"})
    assert len(mirror.snapshot()["alerts"]) == 3 and "a1" in {a["alert_id"] for a in mirror.snapshot()["alerts"]}
    assert await mirror.history("s1", 0, 1, 10) == {"ts": [], "value": [], "min": [], "max": []}
    assert await mirror.request("ack", {"alert_id": "a1"}) == {"kind": "ack"}
    assert calls[-1] == ("ack", {"alert_id": "a1"})


def test_newest_readings_reduces_many_batches_once_in_arrival_order():
    from sidecar.dashboard.batches import NewestReadings

    model = build_model(build_demo_building())
    names = [model.sensors[i].sensor_id for i in range(3)]
    collected = NewestReadings()
    collected.add(ReadingBatch(model, np.array([0, 1], dtype=np.int32), np.array([1.0, 2.0]), np.array([10.0, 20.0])))
    collected.add(ReadingBatch(model, np.array([0, 2], dtype=np.int32), np.array([3.0, 4.0]), np.array([30.0, 40.0])))
    collected.add([(names[1], 5.0, 50.0), ("extra", 6.0, 60.0)])
    collected.add(ReadingBatch(model, np.array([2], dtype=np.int32), np.array([7.0]), np.array([70.0])))
    assert len(collected) == 4
    got = {sid: (t, v) for sid, t, v in collected.drain()}
    assert got == {names[0]: (3.0, 30.0), names[1]: (5.0, 50.0), names[2]: (7.0, 70.0), "extra": (6.0, 60.0)}
    assert len(collected) == 0 and collected.drain() == []


def test_mirror_latest_is_exact_after_many_columnar_batches():
    model = build_model(build_demo_building())

    async def handle(kind: str, body: dict) -> dict:
        return {}

    mirror = SidecarMirror(handle, lambda: None)
    for i in range(1200):  # more than two folds' worth
        mirror.on_readings(ReadingBatch(model, np.array([i % 3], dtype=np.int32), np.array([float(i)]),
                                        np.array([i * 1.5])))
    latest = mirror.latest()
    assert latest[model.sensors[0].sensor_id] == (1197.0, 1795.5)
    assert latest[model.sensors[2].sensor_id] == (1199.0, 1798.5)
    assert len(mirror._unfolded) == 0


def test_pushed_readings_are_keyed_rounded_for_display_and_small_values_keep_their_digits():
    from sidecar.dashboard.live import SensorKeys, readings_message, readings_rows, text_frame

    keys = SensorKeys()
    first = readings_message(keys, ["a", "b", "c"], np.array([1765195711.6329927, 1765195711.6, 1765195712.0]),
                             np.array([21.004183922, 0.000123456, math.nan]))
    assert first["i"] == [0, 1, 2] and first["add"] == [[0, "a"], [1, "b"], [2, "c"]]
    assert first["tb"] == 1765195711.6 and first["t"] == [33, 0, 400]
    # ten-thousandths as whole numbers; a small value exactly, aside; NaN as null (not the encoder's slow path)
    assert first["v"] == [210042, None, None] and first["x"] == [[1, 0.000123456]]
    page_keys: list[str] = []
    rows = readings_rows(first, page_keys)
    assert [r[0] for r in rows] == ["a", "b", "c"] and [r[2] for r in rows] == [21.0042, 0.000123456, None]
    assert [round(r[1], 3) for r in rows] == [1765195711.633, 1765195711.6, 1765195712.0]
    second = readings_message(keys, ["c", "d"], np.array([5.0, math.inf]), np.array([1.0, 2.0]))
    assert second["i"] == [2, 3] and second["add"] == [[3, "d"]] and second["t"] == [0, None]
    assert readings_rows(second, page_keys) == [["c", 5.0, 1.0], ["d", None, 2.0]]
    plain = readings_message(keys, ["a", "b"], np.array([1.0, 1.0]), np.array([-0.25, 3e13]))
    assert "add" not in plain and plain["v"] == [-2500, None] and plain["x"] == [[1, 3e13]]
    assert [r[2] for r in readings_rows(plain, page_keys)] == [-0.25, 3e13]
    assert text_frame(b"x") == b"\x81\x01x"
    assert text_frame(b"y" * 300)[:4] == b"\x81\x7e\x01\x2c"
    assert text_frame(b"z" * 70000)[:10] == b"\x81\x7f" + (70000).to_bytes(8, "big")


async def test_live_feed_pushes_pipeline_batches_by_key_and_tuples_alike():
    import json

    from sidecar.dashboard.live import readings_rows

    model = build_model(build_demo_building())
    names = [s.sensor_id for s in model.sensors]

    class Quiet:
        def snapshot(self): return {"health": [], "alerts": []}
        def status(self): return {}
        def latest(self): return {}

    live = LiveFeed(Quiet(), flush_interval_s=60.0)  # flushed by hand below
    channel = live.add_client("probe")
    channel.needs_snapshot = False
    page_keys: list[str] = []

    def pushed() -> list[list]:
        live._flush()
        return readings_rows(json.loads(channel.queue.get_nowait()), page_keys)

    live.on_readings(ReadingBatch(model, np.array([5, 7, 5], dtype=np.int32), np.array([10.0, 11.0, 12.0]),
                                  np.array([1.5, 2.5, 3.5])))
    live.on_readings(ReadingBatch(model, np.array([7], dtype=np.int32), np.array([13.0]), np.array([-4.25])))
    assert sorted(pushed()) == sorted([[names[5], 12.0, 3.5], [names[7], 13.0, -4.25]])
    assert page_keys == names  # the model's keys, given out with the first push
    live.on_readings([(names[7], 14.0, 9.0), ("ingested", 15.0, 0.001)])
    assert pushed() == [[names[7], 14.0, 9.0], ["ingested", 15.0, 0.001]]
    live.on_readings(ReadingBatch(model, np.array([0], dtype=np.int32), np.array([16.0]), np.array([1.0])))
    assert pushed() == [[names[0], 16.0, 1.0]]
    assert page_keys[-1] == "ingested" and len(page_keys) == len(names) + 1
    await asyncio.sleep(0)


def test_every_unit_the_sample_building_uses_has_a_symbol_in_the_one_shared_table():
    from shared_schemas import protocol
    from shared_schemas import units as shared
    from sidecar.dashboard import units

    assert units.UNIT_SYMBOLS is shared.UNIT_SYMBOLS  # one table: the dashboard serves the shared one
    used = {e["sensor"]["unit"] for e in build_demo_building()["elements"] if e.get("sensor")}
    used |= set(protocol.QUANTITY_UNITS.values())
    assert {"Cel", "%", "ppm", "mm/s", "kW"} <= used
    missing = sorted(code for code in used if code not in shared.UNIT_SYMBOLS)
    assert missing == [], f"UCUM codes without a display symbol: {missing}"
    assert [units.unit_symbol(c) for c in ("Cel", "%", "ppm", "mm/s", "kW", "kW.h", "ug/m3", "m3", "1")] == \
        ["°C", "%", "ppm", "mm/s", "kW", "kWh", "µg/m³", "m³", ""]


def test_ucum_codes_in_a_sentence_become_symbols_and_nothing_else_changes():
    from sidecar.dashboard.units import symbols_in_text

    assert symbols_in_text("Office 31.2 Cel > 30 Cel (critical)") == "Office 31.2 °C > 30 °C (critical)"
    assert symbols_in_text("SAT changing +0.36 Cel/min, limit ±0.1 Cel/min") == \
        "SAT changing +0.36 °C/min, limit ±0.1 °C/min"
    assert symbols_in_text("Meter 5 kW.h, 3 W.h, 2 m3/h, 4 m3, 12 ug/m3.") == "Meter 5 kWh, 3 Wh, 2 m³/h, 4 m³, 12 µg/m³."
    assert symbols_in_text("Cellar 3 Celsius, Cel, status 1 1") == "Cellar 3 Celsius, Cel, status 1 1"  # no number before
    already = "Office 31.2 °C > 30 °C, 820 ppm, 4.5 mm/s"
    assert symbols_in_text(already) == already and symbols_in_text("") == ""
