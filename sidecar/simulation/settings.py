"""``[simulator]`` settings (with ``[[simulator.faults]]`` and ``[[simulator.scenarios]]``), parsed
with the rest of the config file by the shared reader."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sidecar.settings import Table

FAULT_KINDS = ("spike", "drift", "stuck", "offline", "step")
SCENARIO_NAMES = ("bearing_wear", "stuck_damper", "sensor_drift", "flatline", "meter_offline", "failing_chiller")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A scripted simulator fault on one sensor.

    Times are seconds since the simulator started. ``magnitude`` is an offset in the sensor's
    unit (spike, step, and the end point of a drift); ``ramp_s`` is how long a drift takes to
    reach it. ``duration_s`` ends the fault (``None``: never); ``period_s`` repeats it.
    """

    sensor_id: str
    kind: str
    start_s: float = 10.0
    duration_s: float | None = None
    magnitude: float = 0.0
    ramp_s: float = 10.0
    period_s: float | None = None


@dataclass(frozen=True, slots=True)
class ScenarioSpec:
    """A scripted fault scenario with ground truth (``sidecar/simulation/scenarios.py``).

    ``target``: an equipment's unique_id, mark or name, or a sensor_id (``None``: the first
    suitable one). Times are simulated seconds since the simulator started: the scenario begins
    at ``start_s``, fails at ``failure_s`` (default ``start_s + ramp_s``; bearing wear, failing
    chiller, and the end of a drift's ramp) and ends at ``start_s + duration_s`` (``None``: never).
    """

    name: str
    target: str | None = None
    start_s: float = 60.0
    ramp_s: float = 600.0
    failure_s: float | None = None
    duration_s: float | None = None
    severity: float = 1.0


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    rate_hz: float = 1.0          # readings per second per simulated sensor
    interval_s: float = 1.0       # how often the simulator emits one batch
    demo_faults: bool = True      # inject the demo faults when no faults or scenarios are configured
    seed: int | None = None
    faults: list[FaultSpec] = field(default_factory=list)
    scenarios: list[ScenarioSpec] = field(default_factory=list)
    time_scale: float = 1.0       # simulated seconds per real second
    # Where simulator_ground_truth.json is written (the sidecar's data dir; None: log only).
    data_dir: Path | None = None


def _fault(table: Table) -> FaultSpec:
    kind = table.get("kind", str)
    if kind not in FAULT_KINDS:
        raise table.fail("kind", f"must be one of {', '.join(FAULT_KINDS)}, got {kind!r}")
    sensor_id = table.text("sensor_id", "")
    if not sensor_id:
        raise table.fail("sensor_id", "required")
    return FaultSpec(
        sensor_id=sensor_id, kind=kind,
        start_s=table.number("start_s", 10.0),
        duration_s=table.positive("duration_s", None),
        magnitude=table.number("magnitude", 0.0),
        ramp_s=table.positive("ramp_s", 10.0),
        period_s=table.positive("period_s", None),
    )


def _scenario(table: Table) -> ScenarioSpec:
    name = table.get("name", str)
    if name not in SCENARIO_NAMES:
        raise table.fail("name", f"must be one of {', '.join(SCENARIO_NAMES)}, got {name!r}")
    start = table.number("start_s", 60.0, 0.0)
    failure = table.get("failure_s", (int, float))
    if failure is not None and not failure > start:
        raise table.fail("failure_s", f"must be after start_s ({start:g}), got {failure!r}")
    spec = ScenarioSpec(name=name, target=table.text("target") or None, start_s=start,
                        ramp_s=table.positive("ramp_s", 600.0),
                        failure_s=table.number("failure_s", None, start, above=True),
                        duration_s=table.positive("duration_s", None),
                        severity=table.number("severity", 1.0, 0.0, 10.0, above=True))
    table.refuse_unknown()
    return spec


def parse_simulator(table: Table) -> SimulatorConfig:
    return SimulatorConfig(
        rate_hz=table.positive("rate_hz", 1.0),
        interval_s=table.positive("interval_s", 1.0),
        demo_faults=table.flag("demo_faults", True),
        seed=table.integer("seed", None),
        faults=[_fault(t) for t in table.array("faults")],
        scenarios=[_scenario(t) for t in table.array("scenarios")],
        time_scale=table.positive("time_scale", 1.0),
    )
