"""Limits, alerts, health, pipeline, ingest parsing, config, security and hub without sockets."""
from __future__ import annotations

import asyncio
import math
import os
import stat
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support.buildings import AHU, PUMP, ZONE_SENSOR, small_building

from sidecar.alarms.engine import AlertEngine
from sidecar.alarms.record import UnknownAlert
from sidecar.config import ConfigError, config_from_mapping, load_config
from sidecar.health import HealthEngine
from sidecar.hub import EventHub
from sidecar.limits import DEFAULT_LIMITS, effective_limits
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch, _parse_slowly, parse_ingest
from sidecar.security import ensure_token, redact, token_matches

EXAMPLE = Path(__file__).resolve().parents[2] / "sidecar" / "sidecar.example.toml"


# -- limits ------------------------------------------------------------------------------
def test_defaults_and_overrides() -> None:
    vib = effective_limits("vibration", "mm/s", None)
    assert (vib.high, vib.high_critical, vib.deadband) == (4.5, 7.1, 0.3) and math.isnan(vib.low)
    override = effective_limits("vibration", "mm/s", {"high": 2.8})
    assert override.high == 2.8 and override.high_critical == 7.1
    warnings: list[str] = []
    fahrenheit = effective_limits("temperature", "[degF]", None, warnings, "t1")
    assert fahrenheit.is_empty() and "differs" in warnings[0]
    small_span = effective_limits("flow", "L/s", {"low": 12, "high": 32})
    assert small_span.deadband == pytest.approx(2.0)  # capped to 10 % of the span, not 50 L/s
    effective_limits("co2", "ppm", {"high": 2000, "high_critical": 1500}, warnings, "c1")
    assert "not ordered" in warnings[-1]
    for quantity in ("temperature", "humidity", "co2", "voc", "pm25", "vibration", "pressure", "power",
                     "current", "flow"):
        assert quantity in DEFAULT_LIMITS


def test_docs_table_lists_every_default() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "sidecar.md").read_text(encoding="utf-8")
    for quantity, (unit, limits) in DEFAULT_LIMITS.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{quantity}`")), None)
        assert row is not None, quantity
        for value in (limits.low, limits.high, limits.low_critical, limits.high_critical):
            assert math.isnan(value) or f"{value:g}" in row, (quantity, value, row)


# -- model -------------------------------------------------------------------------------
def test_model_maps_equipment_to_sensors() -> None:
    model = build_model(small_building())
    assert model.sensor_count == 4
    assert [model.sensors[i].sensor_id for i in model.hosted[AHU]] == ["ahu1.sf_vib", "ahu1.sat"]
    assert model.sensors[model.sensor_index["zone.co2"]].alert_unique_id == ZONE_SENSOR
    assert set(model.health_subjects()) == {AHU, PUMP, ZONE_SENSOR} | {s.unique_id for s in model.sensors}


# -- alerts ------------------------------------------------------------------------------
def _engine() -> tuple[AlertEngine, list[dict[str, Any]]]:
    changes: list[dict[str, Any]] = []
    engine = AlertEngine(build_model(small_building()), lambda a: changes.append(a.to_wire()))
    return engine, changes


def _feed(engine: AlertEngine, sensor_id: str, values: list[float], t0: float = 1000.0) -> None:
    model = engine.model
    index = model.sensor_index[sensor_id]
    v = np.array(values, dtype=float)
    with np.errstate(invalid="ignore"):
        hi = np.where(v > model.high_critical[index], 2, (v > model.high[index]).astype(np.int8))
        lo = np.where(v < model.low_critical[index], 2, (v < model.low[index]).astype(np.int8))
        hi_clear = v <= np.fmin(model.high[index], model.high_critical[index]) - model.deadband[index]
        lo_clear = v >= np.fmax(model.low[index], model.low_critical[index]) + model.deadband[index]
    engine.evaluate(index, t0 + np.arange(len(v), dtype=float), v, hi, hi_clear, lo, lo_clear)


def test_alert_state_machine() -> None:
    engine, changes = _engine()
    _feed(engine, "ahu1.sf_vib", [1.0, 5.0, 5.5, 4.6, 4.4])   # raise once, no chatter in the deadband
    assert [(c["state"], c["severity"]) for c in changes] == [("active", "warning")]
    assert engine.sensor_level[engine.model.sensor_index["ahu1.sf_vib"]] == 1
    alert_id = changes[0]["alert_id"]
    engine.acknowledge(alert_id, "me", "looking")
    assert changes[-1]["state"] == "acknowledged"
    engine.acknowledge(alert_id)
    assert len(changes) == 2                                     # acking twice publishes nothing
    _feed(engine, "ahu1.sf_vib", [7.5], t0=2000.0)               # escalation re-activates
    assert (changes[-1]["state"], changes[-1]["severity"], changes[-1]["alert_id"]) == ("active", "critical", alert_id)
    _feed(engine, "ahu1.sf_vib", [5.0], t0=3000.0)               # no step down while open
    assert len(changes) == 3 and engine.open_alerts()[0].severity == "critical"
    _feed(engine, "ahu1.sf_vib", [4.1], t0=4000.0)               # <= 4.5 - 0.3: cleared
    assert changes[-1]["state"] == "cleared" and engine.active_count == 0
    assert engine.get(alert_id).state == "cleared"               # still known for a late ack
    # ISA-18.2: it returned unacknowledged (unack_rtn); the late ack takes it to normal.
    assert engine.acknowledge(alert_id).state == "cleared" and len(changes) == 5
    assert (changes[-2]["isa_state"], changes[-1]["isa_state"]) == ("unack_rtn", "normal")
    _feed(engine, "ahu1.sf_vib", [6.0], t0=5000.0)
    assert changes[-1]["alert_id"] != alert_id                   # a new excursion, a new alert
    with pytest.raises(UnknownAlert):
        engine.get("missing")


def test_one_open_alert_per_element_kind_and_sensor() -> None:
    engine, changes = _engine()
    _feed(engine, "ahu1.sf_vib", [6.0, 6.5, 6.2])
    _feed(engine, "ahu1.sat", [20.0])
    _feed(engine, "ahu1.sat", [5.0], t0=2000.0)  # swings to below low_critical
    keys = {(a.unique_id, a.kind, a.sensor_id) for a in engine.open_alerts()}
    assert keys == {(AHU, "limit_high", "ahu1.sf_vib"), (AHU, "limit_low", "ahu1.sat")}
    assert [c["state"] for c in changes if c["sensor_id"] == "ahu1.sat"] == ["active", "cleared", "active"]
    assert [a.sensor_id for a in engine.open_alerts([AHU])] == ["ahu1.sf_vib", "ahu1.sat"]


# -- health ------------------------------------------------------------------------------
def test_health_statuses_scores_and_drivers() -> None:
    model = build_model(small_building())
    engine = AlertEngine(model, lambda a: None)
    health = HealthEngine(model, engine, stale_after_s=60)
    first = {r["unique_id"]: r for r in health.initialise()}
    assert first[AHU]["status"] == "unknown" and first[AHU]["health_score"] == 0
    vib, sat = model.sensor_index["ahu1.sf_vib"], model.sensor_index["ahu1.sat"]
    changed = health.update(np.array([vib, sat]), np.array([1, 1], dtype=np.uint8))
    assert {r["unique_id"]: r["status"] for r in changed}[AHU] == "ok"
    assert health.update(np.array([vib]), np.array([1], dtype=np.uint8)) == []   # no change, no record
    _feed(engine, "ahu1.sf_vib", [9.1])
    changed = health.update(np.array([vib]), np.array([4], dtype=np.uint8))
    record = {r["unique_id"]: r for r in changed}[AHU]
    assert record["status"] == "critical" and record["health_score"] == 15
    assert record["drivers"] == ["AHU-1 Supply Fan Vibration 9.1 mm/s > 7.1 mm/s (critical)"]
    changed = health.update(np.array([sat]), np.array([5], dtype=np.uint8))      # stale while critical
    record = {r["unique_id"]: r for r in changed}[AHU]
    assert record["status"] == "critical" and record["health_score"] == 10 and "no data" in record["drivers"][1]
    assert record["failure_probability"] is None and record["ttf_hours"] is None


def test_pipeline_batches_end_to_end() -> None:
    emitted: list[tuple[str, Any]] = []
    batches: list[ReadingBatch] = []
    clock = [1000.0]
    model = build_model(small_building())
    pipeline = Pipeline(model, lambda t, b: emitted.append((t, b)), batches.append, stale_after_s=30,
                        clock=lambda: clock[0])
    pipeline.initialise()
    readings = [["ahu1.sf_vib", 990.0 + i, 2.0] for i in range(5)] + [["ahu1.sat", 995.0, 14.0],
                                                                     ["ahu1.sf_vib", 980.0, 99.0]]
    batch, rejected = parse_ingest(readings, model, clock[0], 300)
    pipeline.submit(batch)
    vib = model.sensor_index["ahu1.sf_vib"]
    assert rejected == [] and len(batches) == 1 and pipeline.readings_total == 7
    assert pipeline.latest_value[vib] == 2.0 and pipeline.latest_ts[vib] == 994.0  # by timestamp, not order
    alerts = [b for t, b in emitted if t == "alert"]
    # The late 99.0 is the oldest reading: in time order it raised, then the 2.0s cleared.
    assert [(a["state"], a["severity"]) for a in alerts] == [("active", "critical"), ("cleared", "critical")]
    # 40 s of silence: the sensors go stale and their elements' health follows.
    emitted.clear()
    clock[0] += 40
    pipeline.check_stale()
    items = [i for t, b in emitted if t == "health" for i in b["items"]]
    assert {i["unique_id"]: i["status"] for i in items}[model.sensors[model.sensor_index["ahu1.sat"]].unique_id] == "unknown"
    # A batch of another configuration is ignored after a live reconfigure.
    pipeline.rebind(build_model(small_building()))
    before = pipeline.readings_total
    pipeline.submit(batch)
    assert pipeline.readings_total == before


# -- ingest parsing ----------------------------------------------------------------------
reading = st.one_of(
    st.tuples(st.sampled_from(["ahu1.sf_vib", "zone.co2", "x", 3]),
              st.one_of(st.floats(allow_nan=True), st.integers(-10, 2**70), st.just(1.5e9), st.none()),
              st.one_of(st.floats(allow_nan=True), st.integers(-(2**70), 2**70), st.booleans(), st.text(max_size=2)))
    .map(list),
    st.lists(st.integers(), max_size=4), st.text(max_size=3))


@settings(max_examples=300, deadline=None)
@given(readings=st.lists(reading, max_size=30))
def test_fast_and_slow_ingest_paths_agree(readings: list[Any]) -> None:
    model = build_model(small_building())
    now = 1.7e9
    batch, rejected = parse_ingest(readings, model, now, 300)
    slow_batch, slow_rejected = _parse_slowly(readings, model, now + 300, 300)
    assert [r.index for r in rejected] == [r.index for r in slow_rejected]
    assert [r.reason for r in rejected] == [r.reason for r in slow_rejected]
    assert batch.sensor.tolist() == slow_batch.sensor.tolist()
    assert batch.value.tolist() == slow_batch.value.tolist() and batch.ts.tolist() == slow_batch.ts.tolist()
    assert len(batch) + len(rejected) == len(readings)
    assert np.isfinite(batch.value).all() and (batch.ts <= now + 300).all()


# -- config ------------------------------------------------------------------------------
def test_example_config_loads_and_keeps_unknown_sections() -> None:
    config = load_config(EXAMPLE)
    assert config.simulator.demo_faults is True and config.event_sndhwm == 10_000
    assert config.status_interval_s <= 5.0
    parsed = config_from_mapping({"mqtt": {"host": "x"}, "simulator": {"faults": [
        {"sensor_id": "s", "kind": "drift", "start_s": 5, "ramp_s": 3, "magnitude": 2.5}]}})
    assert parsed.extra == {"mqtt": {"host": "x"}} and parsed.simulator.faults[0].magnitude == 2.5
    for bad in ({"sidecar": {"max_payload_bytes": "big"}}, {"simulator": {"faults": [{"sensor_id": "s",
                                                                                      "kind": "melt"}]}},
                {"sidecar": {"status_interval_s": -1}}, {"health": []}):
        with pytest.raises(ConfigError):
            config_from_mapping(bad)
    assert config_from_mapping({"sidecar": {"status_interval_s": 60}}).status_interval_s == 5.0


def test_bad_config_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[sidecar\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(path)
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")


# -- security ----------------------------------------------------------------------------
def test_token_file(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "token"
    token = ensure_token(path)
    assert len(token) >= 40 and ensure_token(path) == token
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_matches(token, token) and not token_matches(token[:-1], token)
    assert not token_matches(None, token) and not token_matches(b"x", token)


def test_redact() -> None:
    masked = redact({"password": "p", "nested": [{"api_key": "k"}], "url": "mqtt://u:secret@host/t",
                     "conn": "HostName=h;SharedAccessKey=abc;DeviceId=d", "plain": "ok"})
    text = repr(masked)
    assert "secret" not in text and "abc" not in text and "'p'" not in text and "'k'" not in text
    assert masked["plain"] == "ok" and "DeviceId=d" in masked["conn"]


# -- hub ---------------------------------------------------------------------------------
async def test_hub_isolates_slow_and_failing_subscribers() -> None:
    hub = EventHub()
    fast: list[int] = []
    release = asyncio.Event()

    async def slow(item: int) -> None:
        await release.wait()

    def failing(item: int) -> None:
        raise RuntimeError("subscriber bug")

    slow_sub = hub.subscribe("alert", slow, maxsize=5)
    hub.subscribe("alert", failing)
    hub.subscribe("alert", fast.append)
    inline: list[int] = []
    hub.subscribe("alert", inline.append, inline=True)
    hub.subscribe("alert", failing, inline=True)
    for i in range(100):
        hub.publish("alert", i)   # never blocks, even though `slow` never finishes
    assert inline == list(range(100))  # inline subscribers see every item at once
    for _ in range(50):
        await asyncio.sleep(0)
    assert fast == list(range(100))
    assert slow_sub.dropped >= 90
    release.set()
    hub.close()


def test_alert_message_never_prints_a_reading_equal_to_the_limit_it_crossed() -> None:
    from sidecar.alarms.engine import _fmt

    assert _fmt(1000.4, 1000.0) == "1000.4"
    assert _fmt(7.1004, 7.1) == "7.1004"
    assert _fmt(4.62, 4.5) == "4.62"      # already distinct: stays short
    assert _fmt(1234.0, 1000.0) == "1234"
