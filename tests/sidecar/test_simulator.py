"""The simulator source: readings for sim sensors, scripted faults, and the demo fault."""
from __future__ import annotations

import numpy as np
from support.buildings import AHU, PUMP, small_building
from support.protocol_client import CommandClient, EventListener, alert_event, health_event

from sidecar.config import FaultSpec, SimulatorConfig
from sidecar.model import build_model
from sidecar.sources.sim import SimSource

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
    sensors, stamps, values = source.sample(wall)
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


def test_configured_fault_raises_and_clears_an_alert(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    config = FAST + ('[[simulator.faults]]\nsensor_id = "chwp1.vib"\nkind = "step"\nstart_s = 1\n'
                     'duration_s = 3\nmagnitude = 20.0\n')
    with sidecar_factory(config) as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        events = EventListener(handle.event_endpoint, context=zmq_context)
        events.settle(client)
        client.call("configure", small_building(source="sim:"))
        client.call("start")
        raised = events.wait_for(alert_event("active", "critical", "chwp1.vib"), timeout_s=30)["body"]
        assert raised["value"] > 7.1
        events.wait_for(alert_event("cleared", sensor_id="chwp1.vib"), timeout_s=30)
        events.wait_for(health_event(PUMP, "ok"), timeout_s=30)
        alerts = events.of("alert")
        assert {a["body"]["sensor_id"] for a in alerts} == {"chwp1.vib"}  # nothing else misbehaves
        client.close()
        events.close()


def test_demo_fault_raises_the_ahu_vibration_alert(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    with sidecar_factory("[simulator]\ndemo_faults = true\ninterval_s = 0.5\n") as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        events = EventListener(handle.event_endpoint, context=zmq_context)
        events.settle(client)
        client.call("configure", small_building(source="sim:"))
        client.call("start")
        warning = events.wait_for(alert_event("active", "warning", "ahu1.sf_vib"), timeout_s=40)["body"]
        assert warning["unique_id"] == AHU
        events.wait_for(alert_event("active", "critical", "ahu1.sf_vib"), timeout_s=40)
        events.wait_for(alert_event("active", "warning", "zone.co2"), timeout_s=40, include_seen=True)
        events.wait_for(health_event(AHU, "critical"), timeout_s=10, include_seen=True)
        assert "simulator fault: drift on ahu1.sf_vib" in handle.log()
        client.close()
        events.close()
