"""The simulator source: a physically coupled building, fault scenarios with ground truth,
scripted faults, and the demo faults. Most tests drive it offline over simulated time."""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.buildings import AHU, PUMP, small_building
from support.protocol_client import alert_event, health_event

from sidecar.config import ConfigError, FaultSpec, ScenarioSpec, SimulatorConfig, config_from_mapping
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch
from sidecar.simulation.sample_building import build_demo_building
from sidecar.sources.sim import GROUND_TRUTH_FILE, SimSource

FAST = "[simulator]\ninterval_s = 0.2\nrate_hz = 2.0\nseed = 3\n"


def _sim(building: dict, config: SimulatorConfig) -> tuple[SimSource, list]:  # type: ignore[type-arg]
    model = build_model(building)
    batches: list = []  # type: ignore[type-arg]
    indices = np.array([s.index for s in model.sensors if s.scheme == "sim"], dtype=np.int32)
    source = SimSource(model, indices, lambda s, t, v: batches.append((s, t, v)), config)
    return source, batches


def test_healthy_building_stays_inside_its_limits() -> None:
    source, _ = _sim(small_building(source="sim:"), SimulatorConfig(demo_faults=False, seed=1))
    model = source.model
    # A whole day, every 10 minutes.
    wall = source.started_wall + np.arange(0, 86400, 600, dtype=np.float64)
    sensors, _, values = source.sample(wall)
    assert len(sensors) == len(wall) * model.sensor_count and np.isfinite(values).all()
    high = np.fmin(model.high, model.high_critical)[sensors]
    low = np.fmax(model.low, model.low_critical)[sensors]
    assert not (values > high).any() and not (values < low).any()


def test_scripted_faults_shape_the_values() -> None:
    faults = [FaultSpec("ahu1.sf_vib", "step", start_s=10, duration_s=10, magnitude=5.0),
              FaultSpec("chwp1.vib", "offline", start_s=10, duration_s=10),
              FaultSpec("ahu1.sat", "stuck", start_s=10, duration_s=10),
              FaultSpec("zone.co2", "drift", start_s=0, ramp_s=100, magnitude=1000.0)]
    source, _ = _sim(small_building(source="sim:"), SimulatorConfig(faults=faults, seed=2))
    index = source.model.sensor_index
    wall = source.started_wall + np.arange(0.0, 30.0, 1.0)
    sensors, stamps, values = source.sample(wall)

    def series(sensor_id: str) -> tuple[np.ndarray, np.ndarray]:
        mask = sensors == index[sensor_id]
        return stamps[mask] - source.started_wall, values[mask]

    t, vib = series("ahu1.sf_vib")
    assert vib[(t >= 10) & (t < 20)].min() > vib[t < 10].max() + 3.0
    t, _ = series("chwp1.vib")
    assert not ((t >= 10) & (t < 20)).any() and len(t) == 20
    t, sat = series("ahu1.sat")
    assert len(set(sat[(t >= 10) & (t < 20)].tolist())) == 1 and len(set(sat[t < 10].tolist())) > 1
    t, co2 = series("zone.co2")
    assert co2[-1] - co2[0] > 200.0


def test_configured_fault_raises_and_clears_an_alert(monitoring) -> None:  # type: ignore[no-untyped-def]
    config = FAST + ('[[simulator.faults]]\nsensor_id = "chwp1.vib"\nkind = "step"\nstart_s = 1\n'
                     'duration_s = 3\nmagnitude = 20.0\n')
    with monitoring(config, small_building(source="sim:")) as (_handle, client, events):
        raised = events.wait_for(alert_event("active", "critical", "chwp1.vib"), timeout_s=30)["body"]
        assert raised["value"] > 7.1
        events.wait_for(alert_event("cleared", sensor_id="chwp1.vib"), timeout_s=30)
        events.wait_for(health_event(PUMP, "ok"), timeout_s=30)
        alerts = events.of("alert")
        assert {a["body"]["sensor_id"] for a in alerts} == {"chwp1.vib"}  # nothing else misbehaves
        client.close()
        events.close()


def test_demo_fault_raises_the_ahu_vibration_alert(monitoring) -> None:  # type: ignore[no-untyped-def]
    with monitoring("[simulator]\ndemo_faults = true\ninterval_s = 0.5\n", small_building(source="sim:")) as (handle, client, events):
        warning = events.wait_for(alert_event("active", "warning", "ahu1.sf_vib"), timeout_s=40)["body"]
        assert warning["unique_id"] == AHU
        events.wait_for(alert_event("active", "critical", "ahu1.sf_vib"), timeout_s=40)
        events.wait_for(alert_event("active", "warning", "zone.co2"), timeout_s=40, include_seen=True)
        events.wait_for(health_event(AHU, "critical"), timeout_s=10, include_seen=True)
        assert "simulator fault: drift on ahu1.sf_vib" in handle.log()
        client.close()
        events.close()


# -- the physical building and fault scenarios (offline: simulated time, no sleeping) ------
HOUR = 3600.0
# Local midnight at the start of Monday 2024-01-08: a working day, whatever the machine's zone.
MONDAY = time.mktime((2024, 1, 8, 0, 0, 0, 0, 1, -1))
DEMO = build_model(build_demo_building())


def _demo_sim(config: SimulatorConfig, origin: float = MONDAY) -> SimSource:
    indices = np.array([s.index for s in DEMO.sensors if s.scheme == "sim"], dtype=np.int32)
    source = SimSource(DEMO, indices, lambda s, t, v: None, config)
    source.reset(origin)
    return source


class Series:
    """Readings of one simulator run, per sensor id, with times in hours since the origin."""

    def __init__(self, source: SimSource, readings: tuple[np.ndarray, np.ndarray, np.ndarray]):
        self.source = source
        self.sensors, self.stamps, self.values = readings

    def __call__(self, sensor_id: str) -> tuple[np.ndarray, np.ndarray]:
        mask = self.sensors == DEMO.sensor_index[sensor_id]
        return (self.stamps[mask] - self.source.started_wall) / HOUR, self.values[mask]

    def expected(self, sensor_id: str, hours: np.ndarray) -> np.ndarray:
        """The fault-free, noise-free value at those times."""
        row = self.source.sensors.tolist().index(DEMO.sensor_index[sensor_id])
        return self.source.baseline(self.source.started_wall + hours * HOUR)[row]


def test_fault_free_day_raises_no_alerts_through_the_pipeline() -> None:
    source = _demo_sim(SimulatorConfig(demo_faults=False, seed=11))
    now = [MONDAY]
    events: list[tuple[str, Any]] = []
    pipeline = Pipeline(DEMO, lambda topic, body: events.append((topic, body)), lambda batch: None,
                        clock=lambda: now[0])
    pipeline.initialise()
    readings = 0
    for chunk in range(24 * 6):   # one day in 10-minute batches, a reading per sensor per minute
        t0 = MONDAY + chunk * 600.0
        sensors, stamps, values = source.generate(t0, t0 + 600.0, period_s=60.0)
        now[0] = t0 + 600.0
        pipeline.submit(ReadingBatch(DEMO, sensors, stamps, values))
        pipeline.check_stale()
        readings += len(sensors)
    assert readings == 24 * 60 * len(source.sensors)
    alerts = [body for topic, body in events if topic == "alert"]
    assert alerts == [], alerts[:3]
    assert pipeline.alerts.active_count == 0


def test_signals_are_coupled_like_a_real_building() -> None:
    source = _demo_sim(SimulatorConfig(demo_faults=False, seed=5))
    day = Series(source, source.generate(MONDAY, MONDAY + 24 * HOUR, period_s=120.0))

    def occupied(h: np.ndarray) -> np.ndarray:
        return (h >= 9.5) & (h < 16.5)

    def night(h: np.ndarray) -> np.ndarray:
        return (h >= 1.0) & (h < 5.0)
    # CO2 follows the room's occupancy (correlated, lagging: fits better a little later).
    for room in ("room-2-01", "room-3-05", "room-4-01"):
        h, people = day(f"{room}.occupancy")
        _, co2 = day(f"{room}.co2")
        assert np.corrcoef(people, co2)[0, 1] > 0.85
        lag = 10   # 20 minutes
        assert np.corrcoef(people[:-lag], co2[lag:])[0, 1] > np.corrcoef(people[lag:], co2[:-lag])[0, 1]
        assert co2[night(h)].mean() < 450 and co2[occupied(h)].mean() > 600
        assert people[night(h)].max() == 0 and people[occupied(h)].min() > 0
    # Zones track their setpoint, warmer with people in them.
    h, zone = day("vav-2-01.zone_temp")
    assert abs(zone[occupied(h)].mean() - 22.3) < 0.8 and zone[occupied(h)].mean() > zone[night(h)].mean() + 0.8
    # The AHU: supply air near its setpoint, mixed air between outdoor and return air, the damper
    # opening for free cooling when occupied.
    h, supply = day("ahu-01.supply_air_temp")
    assert abs(supply[occupied(h)].mean() - 13.0) < 0.5
    _, outdoor = day("ahu-01.outdoor_air_temp")
    _, ret = day("ahu-01.return_air_temp")
    _, mixed = day("ahu-01.mixed_air_temp")
    _, damper = day("ahu-01.oa_damper_position")
    share = damper / 100.0
    assert np.abs(mixed - (share * outdoor + (1 - share) * ret)).max() < 0.6
    assert damper[occupied(h)].mean() > damper[night(h)].mean() + 10.0
    assert outdoor.max() - outdoor.min() > 6.0 and np.argmax(outdoor) > np.argmin(outdoor)
    _, vibration = day("ahu-01.supply_fan_vibration")
    assert 1.0 < vibration.mean() < 3.0 and vibration.max() < 4.5
    # Chillers: power follows the cooling load, kW/ton in the normal band.
    for chiller in ("ch-01", "ch-02"):
        h, power = day(f"{chiller}.power")
        _, flow = day(f"{chiller}.chw_flow")
        _, supply_c = day(f"{chiller}.chw_supply_temp")
        _, return_c = day(f"{chiller}.chw_return_temp")
        tons = 4.19 * flow * (return_c - supply_c) / 3.517
        kw_per_ton = power / tons
        assert 0.5 < np.median(kw_per_ton) < 0.8
        assert power[occupied(h)].mean() > 2 * power[night(h)].mean()
    # Meters: a daily load shape, and counters that only go up, across calls too.
    h, load = day("em-l3.power")
    assert load[occupied(h)].mean() > 2 * load[night(h)].mean()
    more = Series(source, source.generate(MONDAY + 24 * HOUR, MONDAY + 30 * HOUR, period_s=120.0))
    for meter in ("em-main", "em-l3", "hm-01"):
        _, first = day(f"{meter}.energy")
        _, second = more(f"{meter}.energy")
        counter = np.concatenate((first, second))
        assert (np.diff(counter) > 0).all()
        _, power = day(f"{meter}.power")
        assert abs((first[-1] - first[0]) - power[1:].mean() * (24 - 2 / 60)) < 0.03 * (first[-1] - first[0])


SCENARIOS = [
    ScenarioSpec("bearing_wear", "AHU-01", start_s=2 * HOUR, failure_s=10 * HOUR),
    ScenarioSpec("stuck_damper", "AHU-02", start_s=5 * HOUR),
    ScenarioSpec("sensor_drift", "ahu-02.return_air_temp", start_s=3 * HOUR, ramp_s=6 * HOUR),
    ScenarioSpec("flatline", "room-3-02.co2", start_s=8 * HOUR, duration_s=4 * HOUR),
    ScenarioSpec("meter_offline", "EM-L2", start_s=6 * HOUR, duration_s=3 * HOUR),
    ScenarioSpec("failing_chiller", None, start_s=4 * HOUR, ramp_s=10 * HOUR),
]


@pytest.fixture(scope="module")
def faulty_day(tmp_path_factory: pytest.TempPathFactory) -> Series:
    data_dir = tmp_path_factory.mktemp("sim-data")
    source = _demo_sim(SimulatorConfig(demo_faults=False, seed=9, scenarios=SCENARIOS, data_dir=data_dir))
    return Series(source, source.generate(MONDAY, MONDAY + 24 * HOUR, period_s=60.0))


def test_ground_truth_lists_every_scenario_and_is_written(faulty_day: Series) -> None:
    source = faulty_day.source
    truth = {entry["scenario"]: entry for entry in source.ground_truth()}
    assert list(truth) == [spec.name for spec in SCENARIOS]
    ahu1 = next(e.unique_id for e in DEMO.elements.values() if e.mark == "AHU-01")
    chiller = next(e.unique_id for e in DEMO.elements.values() if e.mark == "CH-01")
    assert truth["bearing_wear"]["target"] == ahu1
    assert set(truth["bearing_wear"]["sensor_ids"]) == {"ahu-01.supply_fan_vibration", "ahu-01.supply_fan_current"}
    assert truth["bearing_wear"]["start_ts"] == MONDAY + 2 * HOUR
    assert truth["bearing_wear"]["failure_ts"] == MONDAY + 10 * HOUR and truth["bearing_wear"]["end_ts"] is None
    assert set(truth["stuck_damper"]["sensor_ids"]) == {"ahu-02.oa_damper_position", "ahu-02.mixed_air_temp"}
    assert truth["stuck_damper"]["failure_ts"] is None
    assert truth["sensor_drift"]["sensor_ids"] == ["ahu-02.return_air_temp"]
    assert truth["sensor_drift"]["failure_ts"] == MONDAY + 9 * HOUR
    assert truth["flatline"]["end_ts"] == MONDAY + 12 * HOUR
    assert set(truth["meter_offline"]["sensor_ids"]) == {"em-l2.power", "em-l2.energy"}
    assert truth["failing_chiller"]["target"] == chiller and truth["failing_chiller"]["target_name"] == "Chiller 01"
    assert {"ch-01.power", "ch-01.chw_supply_temp", "ch-01.chw_return_temp"} <= set(truth["failing_chiller"]["sensor_ids"])
    written = source.write_ground_truth()
    assert written == Path(source.config.data_dir or "") / GROUND_TRUTH_FILE
    document = json.loads(written.read_text(encoding="utf-8"))
    assert document["scenarios"] == source.ground_truth() and document["origin_ts"] == MONDAY


def test_bearing_wear_rises_super_linearly_to_failure(faulty_day: Series) -> None:
    h, vib = faulty_day("ahu-01.supply_fan_vibration")
    excess = vib - faulty_day.expected("ahu-01.supply_fan_vibration", h)
    before, wearing = excess[h < 2], excess[(h >= 2) & (h < 10)]
    assert np.abs(before).max() < 0.2 and vib[h < 2].max() < 4.5
    hourly = wearing.reshape(8, -1).mean(axis=1)
    assert (np.diff(hourly) > 0).all()
    assert np.diff(hourly)[-1] > 3 * np.diff(hourly)[1]     # accelerating, not linear
    assert vib[(h >= 9.9) & (h < 10)].min() > 7.1 > vib[(h >= 6) & (h < 7)].max()   # critical only near failure
    assert vib[h >= 10].min() > 7.1                              # failed and stays failed
    h, current = faulty_day("ahu-01.supply_fan_current")
    ratio = current / faulty_day.expected("ahu-01.supply_fan_current", h)
    assert abs(ratio[h < 2].mean() - 1.0) < 0.02 and ratio[(h >= 9.5) & (h < 10)].mean() > 1.05


def test_stuck_damper_freezes_and_mixed_air_drifts(faulty_day: Series) -> None:
    h, damper = faulty_day("ahu-02.oa_damper_position")
    assert len(set(damper[h >= 5].tolist())) == 1 and np.ptp(damper[h < 5]) > 1.0
    h, mixed = faulty_day("ahu-02.mixed_air_temp")
    error = np.abs(mixed - faulty_day.expected("ahu-02.mixed_air_temp", h))
    assert error[h < 5].max() < 0.5 and error[h >= 5].max() > 2.0
    # The healthy twin keeps modulating.
    h1, damper1 = faulty_day("ahu-01.oa_damper_position")
    assert np.ptp(damper1[h1 >= 5]) > 20.0


def test_sensor_drift_offset_grows_slowly(faulty_day: Series) -> None:
    h, ret = faulty_day("ahu-02.return_air_temp")
    offset = ret - faulty_day.expected("ahu-02.return_air_temp", h)
    assert np.abs(offset[h < 3]).max() < 0.5
    hourly = offset[(h >= 3) & (h < 9)].reshape(6, -1).mean(axis=1)
    assert (np.diff(hourly) > 0.8).all() and hourly[-1] > 5.0
    assert ret[h >= 9].min() > DEMO.sensors[DEMO.sensor_index["ahu-02.return_air_temp"]].limits.high


def test_flatline_repeats_one_value_exactly(faulty_day: Series) -> None:
    h, co2 = faulty_day("room-3-02.co2")
    inside = co2[(h >= 8) & (h < 12)]
    assert len(inside) == 4 * 60 and len(set(inside.tolist())) == 1
    assert len(set(co2[(h >= 4) & (h < 8)].tolist())) > 100 and len(set(co2[h >= 12].tolist())) > 100


def test_meter_offline_sends_nothing_and_counts_on(faulty_day: Series) -> None:
    for register in ("em-l2.power", "em-l2.energy"):
        h, _ = faulty_day(register)
        assert not ((h >= 6) & (h < 9)).any() and (h < 6).sum() == 6 * 60 - 1 and (h >= 9).sum() == 15 * 60 + 1
    h, energy = faulty_day("em-l2.energy")
    assert (np.diff(energy) > 0).all()
    _, other = faulty_day("em-l3.power")
    assert len(other) == 24 * 60


def test_failing_chiller_degrades_kw_per_ton_to_failure(faulty_day: Series) -> None:
    def kw_per_ton(chiller: str) -> tuple[np.ndarray, np.ndarray]:
        h, power = faulty_day(f"{chiller}.power")
        _, flow = faulty_day(f"{chiller}.chw_flow")
        _, supply = faulty_day(f"{chiller}.chw_supply_temp")
        _, ret = faulty_day(f"{chiller}.chw_return_temp")
        return h, power / (4.19 * flow * (ret - supply) / 3.517)

    h, failing = kw_per_ton("ch-01")
    _, healthy = kw_per_ton("ch-02")
    assert abs(np.median(failing[h < 4]) - np.median(healthy[h < 4])) < 0.05
    hourly = np.array([np.median(failing[(h >= k) & (h < k + 1)]) for k in range(4, 14)])
    assert (np.diff(hourly) > 0).all() and hourly[-1] > 1.35 * hourly[0]
    assert 0.5 < np.median(healthy) < 0.8
    h, supply = faulty_day("ch-01.chw_supply_temp")
    critical = DEMO.sensors[DEMO.sensor_index["ch-01.chw_supply_temp"]].limits.high_critical
    assert supply[h < 4].max() < 9.0 and supply[(h >= 13.9) & (h < 14)].min() > critical
    assert (np.diff(supply[(h >= 4) & (h < 14)].reshape(10, -1).mean(axis=1)) > 0).all()


def test_time_scale_speeds_up_the_building() -> None:
    spec = ScenarioSpec("bearing_wear", "ahu-01.supply_fan_vibration", start_s=600.0, failure_s=1800.0)
    source = _demo_sim(SimulatorConfig(demo_faults=False, seed=3, scenarios=[spec], time_scale=60.0))
    truth = source.ground_truth()[0]
    assert truth["start_ts"] == MONDAY + 10.0 and truth["failure_ts"] == MONDAY + 30.0
    run = Series(source, source.generate(MONDAY, MONDAY + 40.0, period_s=0.5))
    h, vib = run("ahu-01.supply_fan_vibration")
    seconds = h * HOUR
    assert vib[seconds < 10].max() < 4.5 and vib[seconds >= 30].min() > 7.1
    # A real second is a simulated minute: 40 s cover the first 40 minutes of the day's energy use.
    _, energy = run("em-main.energy")
    _, power = run("em-main.power")
    assert energy[-1] - energy[0] == pytest.approx(power.mean() * (40 - 0.5) * 60 / HOUR, rel=0.05)


def test_scenarios_without_a_suitable_target_are_ignored() -> None:
    specs = [ScenarioSpec("failing_chiller", "AHU-01"), ScenarioSpec("meter_offline", "no-such-thing"),
             ScenarioSpec("flatline")]
    source = _demo_sim(SimulatorConfig(demo_faults=False, seed=1, scenarios=specs))
    assert [t["scenario"] for t in source.ground_truth()] == ["flatline"]
    assert source.ground_truth()[0]["sensor_ids"] == [next(s.sensor_id for s in DEMO.sensors if s.quantity == "co2")]
    # The small test building has no chiller and no meter, but an AHU fan and a CO2 sensor.
    small, _ = _sim(small_building(source="sim:"), SimulatorConfig(seed=1, scenarios=[
        ScenarioSpec("failing_chiller"), ScenarioSpec("bearing_wear"), ScenarioSpec("sensor_drift")]))
    assert [(t["scenario"], t["sensor_ids"]) for t in small.ground_truth()] == [
        ("bearing_wear", ["ahu1.sf_vib"]), ("sensor_drift", ["ahu1.sat"])]
    assert small.faults == []   # configured scenarios replace the demo faults


def test_tick_emits_at_rate_hz_without_sleeping() -> None:
    source = _demo_sim(SimulatorConfig(demo_faults=False, seed=1, rate_hz=2.0, interval_s=1.0))
    sensors, stamps, _ = source.tick(MONDAY + 1.0)
    assert len(sensors) == 2 * len(source.sensors) and set(stamps.tolist()) == {MONDAY + 0.5, MONDAY + 1.0}
    assert len(source.tick(MONDAY + 1.2)[0]) == 0
    sensors, stamps, _ = source.tick(MONDAY + 1.5)
    assert len(sensors) == 1 * len(source.sensors) and set(stamps.tolist()) == {MONDAY + 1.5}


def test_scenario_settings_are_checked() -> None:
    config = config_from_mapping({"simulator": {"time_scale": 60, "scenarios": [
        {"name": "bearing_wear", "target": "AHU-01", "start_s": 30, "failure_s": 90, "severity": 0.8},
        {"name": "meter_offline"}]}})
    assert config.simulator.time_scale == 60.0
    assert config.simulator.scenarios == [ScenarioSpec("bearing_wear", "AHU-01", 30.0, 600.0, 90.0, None, 0.8),
                                          ScenarioSpec("meter_offline")]
    bad: list[tuple[dict[str, Any], str]] = [
        ({"name": "explode"}, "name"), ({"name": "flatline", "start_s": -1}, "start_s"),
        ({"name": "bearing_wear", "start_s": 50, "failure_s": 40}, "failure_s"),
        ({"name": "flatline", "severity": 0}, "severity"), ({"name": "flatline", "when": 3}, "unknown"),
        ({"name": "flatline", "duration_s": "long"}, "duration_s")]
    for raw, word in bad:
        with pytest.raises(ConfigError, match=word):
            config_from_mapping({"simulator": {"scenarios": [raw]}})
    with pytest.raises(ConfigError, match="time_scale"):
        config_from_mapping({"simulator": {"time_scale": 0}})
    assert math.isfinite(config.simulator.time_scale)


def test_configured_scenario_raises_its_alert_in_a_running_sidecar(monitoring) -> None:  # type: ignore[no-untyped-def]
    config = ("[simulator]\ninterval_s = 0.25\nrate_hz = 4.0\ntime_scale = 60\nseed = 4\n"
              "[[simulator.scenarios]]\nname = \"bearing_wear\"\nstart_s = 60\nfailure_s = 300\n")
    with monitoring(config, small_building(source="sim:")) as (handle, client, events):
        events.wait_for(alert_event("active", "critical", "ahu1.sf_vib"), timeout_s=30)
        assert {a["body"]["sensor_id"] for a in events.of("alert")} == {"ahu1.sf_vib"}
        assert "simulator scenario: bearing_wear on AHU-1" in handle.log()
        assert '"scenario": "bearing_wear"' in handle.log() or (handle.data_dir / GROUND_TRUTH_FILE).exists()
        client.close()
        events.close()
