"""The live maintenance engine over a real Pipeline (injectable clock, simulated minute readings):
a vibration drift raises the failure probability with a finite time to failure, a work order and
a ``maintenance`` alert at >= 0.7, closed after recovery; a healthy equipment stays low. Also the
learned model's persistence and reload, and the ``[analytics]`` settings."""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support.buildings import small_building

from shared_schemas import validation
from sidecar.alarms.record import KIND_MAINTENANCE
from sidecar.config import ConfigError, config_from_mapping
from sidecar.maintenance import learned
from sidecar.maintenance.engine import MaintenanceEngine
from sidecar.maintenance.orders import select_orders
from sidecar.maintenance.settings import parse_analytics
from sidecar.maintenance.trend import calibrate, crossing_risk, risk_now, robust_trend
from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch

AHU = "aaaaaaaa-0000-0000-0000-000000000001-00001000"
PUMP = "aaaaaaaa-0000-0000-0000-000000000001-00001001"
T0 = 1_700_000_000.0
MINUTE = 60.0


class Plant:
    """A pipeline fed one reading per sensor per simulated minute, and the engine on it."""

    def __init__(self, data_dir: Path, **analytics: Any):
        self.now = T0
        self.model = build_model(small_building())
        self.events: list[tuple[str, Any]] = []
        self.pipeline = Pipeline(self.model, lambda topic, body: self.events.append((topic, body)), lambda b: None,
                                 stale_after_s=3600.0, clock=lambda: self.now)
        self.pipeline.initialise()
        self.engine = MaintenanceEngine(parse_analytics({"interval_s": 1, **analytics}), data_dir,
                                        lambda: self.pipeline, None, 3600.0, clock=lambda: self.now)
        self.rng = np.random.default_rng(5)

    async def run(self, minutes: int, ahu_vibration: Any, every: int = 10,
                  supply_air: Any = lambda h: 13.0) -> None:
        """``minutes`` of readings (``ahu_vibration(t_hours_since_T0)``, ``supply_air(...)``), an
        engine run every ``every``."""
        ids = ["ahu1.sf_vib", "ahu1.sat", "chwp1.vib"]
        index = np.array([self.model.sensor_index[s] for s in ids], dtype=np.int32)
        for _ in range(minutes):
            self.now += MINUTE
            hours = (self.now - T0) / 3600.0
            noise = self.rng.normal(0.0, 1.0, 3)
            values = np.array([ahu_vibration(hours) + 0.05 * noise[0], supply_air(hours) + 0.2 * noise[1],
                               2.0 + 0.05 * noise[2]])
            self.pipeline.submit(ReadingBatch(self.model, index, np.full(3, self.now), values))
            if int((self.now - T0) / MINUTE) % every == 0:
                await self.engine.run_once()

    def health(self, uid: str) -> dict[str, Any]:
        return self.pipeline.health.records[uid]

    def alerts(self, kind: str) -> list[dict[str, Any]]:
        return [b for t, b in self.events if t == "alert" and b["kind"] == kind]


async def test_vibration_drift_raises_and_closes_a_work_order(tmp_path: Path) -> None:
    plant = Plant(tmp_path)
    try:
        await plant.run(6 * 60, lambda h: 2.0)                      # six healthy hours
        assert plant.health(AHU)["failure_probability"] is not None
        assert plant.health(AHU)["failure_probability"] < 0.2
        assert plant.health(PUMP)["failure_probability"] < 0.2
        assert not plant.engine.orders.open_

        # Bearing wear: +0.8 mm/s per hour from hour 6, toward the critical 7.1 mm/s.
        def drift(h: float) -> float:
            return 2.0 + 0.8 * max(0.0, h - 6.0)

        seen: list[tuple[float, Any]] = []
        while AHU not in plant.engine.orders.open_ and drift((plant.now - T0) / 3600.0) < 6.9:
            await plant.run(10, drift)
            record = plant.health(AHU)
            seen.append((record["failure_probability"], record["ttf_hours"]))
        assert AHU in plant.engine.orders.open_, f"no work order before the critical limit: {seen}"
        p, ttf = seen[-1]
        assert p >= 0.7 and ttf is not None and 0 < ttf < 24
        level = drift((plant.now - T0) / 3600.0)
        assert level < 7.1   # raised before the failure point
        assert abs(ttf - (7.1 - level) / 0.8) < 2.0   # the estimate is near the truth
        assert seen[0][0] < p   # the probability rose with the drift
        assert any("vibration" in d and "to failure" in d for d in plant.health(AHU)["drivers"])
        assert plant.health(PUMP)["failure_probability"] < 0.2
        assert PUMP not in plant.engine.orders.open_

        # The work order: logged, with action, evidence and a due date from the time to failure.
        order = plant.engine.orders.open_[AHU]
        assert "bearings" in order.recommended_action and order.ttf_hours == ttf
        assert order.due_ts == pytest.approx(plant.now + 3600.0 * max(1.0, ttf / 2), abs=1.0)
        # ... and published as a maintenance alert (PROTOCOL Alert record), plus the failure_risk rule.
        raised = plant.alerts(KIND_MAINTENANCE)[-1]
        validation.validate_record("Alert", raised)
        assert raised["state"] == "active" and raised["unique_id"] == AHU and "sensor_id" not in raised
        assert raised["recommended_action"] == order.recommended_action
        assert raised["failure_probability"] == order.failure_probability >= 0.7
        assert order.work_order_id[:8] in raised["message"]
        assert plant.alerts("failure_risk")
        status = plant.engine.status()
        assert status["open_workorders"] == 1 and status["model"] == "trend"
        assert status["equipment_evaluated"] == 2 and status["last_run_ms"] is not None
        assert plant.engine.work_orders_status(plant.model)[0]["unique_id"] == AHU

        # Repaired: the vibration is back to normal; the order closes and the alert returns.
        await plant.run(4 * 60, lambda h: 2.0)
        assert AHU not in plant.engine.orders.open_
        assert plant.health(AHU)["failure_probability"] < 0.3
        back = plant.alerts(KIND_MAINTENANCE)[-1]
        assert back["state"] == "cleared" and back["isa_state"] == "unack_rtn"
        assert "closed" in back["message"]
        logged = select_orders(tmp_path / "workorders.jsonl", "all")
        assert [o["status"] for o in logged] == ["closed"] and "closed_ts" in logged[0]
        for wire in logged:
            validation.validate_record("WorkOrder", wire)
    finally:
        await plant.engine.stop()


async def test_ensemble_vigilance_model_gives_the_anomaly_evidence(tmp_path: Path) -> None:
    """``[analytics] anomaly_model = "ensemble-vigilance"``: the engine runs detect's default model;
    after the sensors' warm-up a vibration jump far outside anything seen is a novelty that reaches
    the equipment's health evidence."""
    from sidecar.analytics.detectors.contextual import EnsembleAnomalyDetector
    from sidecar.analytics.detectors.dual_vigilance import DualVigilanceDetector

    plant = Plant(tmp_path, anomaly_model="ensemble-vigilance", anomaly_warmup_readings=208)
    try:
        detector = plant.engine.analysis.detector
        assert isinstance(detector, EnsembleAnomalyDetector) and isinstance(detector.resonance, DualVigilanceDetector)
        assert detector.resonance.warmup == 208
        await plant.run(300, lambda h: 2.0)                         # warm-up (208 readings) and more
        before = plant.pipeline.health.evidence[AHU].anomaly_score
        assert before is not None and before < 0.5
        await plant.run(10, lambda h: 5.5)                          # bearing failure: a jump, and it stays
        after = plant.pipeline.health.evidence[AHU].anomaly_score
        assert after is not None and after >= 0.9     # the residual share alone stays <= 0.2
        assert plant.pipeline.health.evidence[PUMP].anomaly_score < 0.5
    finally:
        await plant.engine.stop()


async def test_open_orders_survive_a_restart(tmp_path: Path) -> None:
    plant = Plant(tmp_path)
    try:
        plant.engine.orders.consider(AHU, 0.8, ["ahu1.sf_vib (vibration) rising"], 10.0, "air handling unit", T0)
    finally:
        await plant.engine.stop()
    again = Plant(tmp_path)
    try:
        assert AHU in again.engine.orders.open_
        assert again.engine.status()["open_workorders"] == 1
    finally:
        await again.engine.stop()


def test_trend_and_probability() -> None:
    t = T0 + MINUTE * np.arange(240)
    rising = 2.0 + 0.5 * (t - t[0]) / 3600.0 + np.random.default_rng(1).normal(0, 0.03, 240)
    trend = robust_trend(t, rising, t[-1])
    assert trend is not None and trend.slope_h == pytest.approx(0.5, rel=0.05)
    risk = crossing_risk(trend, math.nan, 7.1, 24.0)
    assert risk.ttf_hours == pytest.approx((7.1 - 4.0) / 0.5, rel=0.1) and not risk.beyond
    assert calibrate(risk.z) >= 0.7
    flat = 2.0 + np.random.default_rng(2).normal(0, 0.03, 240)
    quiet = crossing_risk(robust_trend(t, flat, t[-1]), math.nan, 7.1, 24.0)  # type: ignore[arg-type]
    assert calibrate(quiet.z) < 0.05
    spiky = rising.copy()
    spiky[::17] += 5.0    # Theil-Sen shrugs off spikes
    assert robust_trend(t, spiky, t[-1]).slope_h == pytest.approx(0.5, rel=0.1)  # type: ignore[union-attr]


def _history(sensor_id: str, days: int, episodes: int, seed: int) -> learned.SensorHistory:
    """One-minute means: healthy at 2 mm/s with drift episodes past the 7.1 mm/s critical limit."""
    rng = np.random.default_rng(seed)
    ts = T0 + MINUTE * np.arange(days * 1440)
    value = 2.0 + rng.normal(0, 0.05, len(ts))
    starts = np.linspace(1, days - 2, episodes) * 86400.0 if episodes else []
    for start in starts:
        rel = (ts - T0 - start) / 3600.0
        ramp = (rel >= 0) & (rel < 12)
        value[ramp] += 0.5 * rel[ramp]   # 2 -> 8 mm/s in 12 h, then replaced
    return learned.SensorHistory(sensor_id, "vibration", "pump", math.nan, 7.1, ts, value)


async def test_learned_model_trains_persists_and_reloads(tmp_path: Path) -> None:
    plant = Plant(tmp_path, min_failures=3)
    try:
        assert not await plant.engine.train([_history("chwp1.vib", 6, 0, 1)])
        assert "1 failure" in plant.engine.status().get("model_note", "") or \
            "0 failure" in plant.engine.status()["model_note"]
        assert plant.engine.status()["model"] == "trend"
        assert await plant.engine.train([_history("chwp1.vib", 30, 4, 2), _history("ahu1.sf_vib", 30, 3, 3)])
        status = plant.engine.status()
        assert status["model"].startswith("learned ")
        card = json.loads((tmp_path / "models" / learned.MODEL_FILE).with_suffix(".json").read_text())
        assert card["kind"] == learned.MODEL_KIND and card["metrics"]["folds"] == 3
        assert card["metrics"]["failure_episodes"] >= 3 and 0 <= card["metrics"]["brier"] <= 1
        version = status["model"]
    finally:
        await plant.engine.stop()
    # A new engine (a restarted sidecar) reloads it and uses it on live data.
    again = Plant(tmp_path)
    try:
        again.engine.load_model()
        assert again.engine.status()["model"] == version
        await again.run(3 * 60, lambda h: 2.0)
        assert 0.0 <= again.health(AHU)["failure_probability"] <= 1.0
        assert again.health(PUMP)["failure_probability"] < 0.3   # through the model: healthy, no work order
    finally:
        await again.engine.stop()
    # A damaged model file is reported, never fatal.
    (tmp_path / "models" / learned.MODEL_FILE).write_bytes(b"not a model")
    broken = Plant(tmp_path)
    try:
        broken.engine.load_model()
        assert broken.engine.status()["model"] == "trend"
        assert "not loaded" in broken.engine.status()["model_note"]
    finally:
        await broken.engine.stop()


def test_analytics_settings() -> None:
    config = config_from_mapping({"analytics": {"interval_s": 5, "horizon_hours": 48, "health": {"anomaly_weight": 20}}})
    assert config.analytics.interval_s == 5.0 and config.analytics.horizon_hours == 48.0
    assert config_from_mapping({}).analytics.enabled is True
    defaults = config_from_mapping({}).analytics
    assert (defaults.anomaly_model, defaults.anomaly_warmup_readings) == ("streaming", 750)
    chosen = config_from_mapping({"analytics": {"anomaly_model": "ensemble-vigilance",
                                                "anomaly_warmup_readings": 1440}}).analytics
    assert (chosen.anomaly_model, chosen.anomaly_warmup_readings) == ("ensemble-vigilance", 1440)
    assert (defaults.warning_floor, defaults.reference_days) == (0.4, 7.0)
    tuned = config_from_mapping({"analytics": {"warning_floor": 0.5, "reference_days": 14}}).analytics
    assert (tuned.warning_floor, tuned.reference_days) == (0.5, 14.0)
    for bad, words in (({"interval_s": 0}, "analytics.interval_s"), ({"anomaly": "yes"}, "analytics.anomaly"),
                       ({"model": "magic"}, "analytics.model"), ({"intervall_s": 5}, "intervall_s"),
                       ({"anomaly_model": "vigilance"}, ("analytics.anomaly_model: must be one of streaming, "
                                                        "ensemble-vigilance, got 'vigilance'")),
                       ({"anomaly_warmup_readings": 50}, (r"analytics.anomaly_warmup_readings: must be an "
                                                         r"integer in \[104, 10000000\], got 50")),
                       ({"anomaly_warmup_readings": 750.0}, "analytics.anomaly_warmup_readings: expected an integer"),
                       ({"anomaly_warmup_readings": True}, "analytics.anomaly_warmup_readings: expected an integer"),
                       ({"warning_floor": 1.5}, "analytics.warning_floor"),
                       ({"reference_days": 0.5}, "analytics.reference_days"),
                       ({"close_below": 0.8}, "close_below"), ({"anomaly_driver_above": 1.5}, "anomaly_driver_above")):
        # ([analytics.health] weighted a second health score that is gone: ignored with a warning,
        # see tests/analytics/test_models_health_workorders.py)
        with pytest.raises(ConfigError, match=words):
            config_from_mapping({"analytics": bad})


async def test_past_critical_is_failing_now_and_agrees_with_the_alarm(tmp_path: Path) -> None:
    """The demo's contradiction: at 8.9 mm/s over a 7.1 critical limit the record said a few per
    cent "rising toward its critical limit". Past a critical limit the equipment is failing now;
    a limit warning raises the floor; once the alarm returns the figures follow the trend."""
    plant = Plant(tmp_path)
    try:
        await plant.run(6 * 60, lambda h: 2.0)
        assert plant.health(AHU)["failure_probability"] < 0.2
        # A limit warning (4.5 mm/s) without a trend toward the critical limit: the floor.
        await plant.run(30, lambda h: 5.2)
        warned = plant.pipeline.open_alerts([AHU])
        assert any(a.kind == "limit_high" and a.severity == "warning" for a in warned)
        record = plant.health(AHU)
        assert plant.engine.settings.warning_floor <= record["failure_probability"] < 1.0
        assert any("past its warning limit" in d for d in record["drivers"])
        # The fan jumps to 8.9 mm/s: the critical limit alarm and the record agree.
        await plant.run(20, lambda h: 8.9)
        critical = [a for a in plant.pipeline.open_alerts([AHU]) if a.kind == "limit_high" and a.severity == "critical"]
        assert critical and critical[0].sensor_id == "ahu1.sf_vib"
        record = plant.health(AHU)
        assert record["failure_probability"] == 1.0 and record["ttf_hours"] == 0.0
        assert any(re.fullmatch(r"AHU-1 Supply Fan Vibration 8\.\d+ mm/s is past its critical limit 7\.1 mm/s now", d)
                   for d in record["drivers"]), record["drivers"]
        assert not any("toward" in d for d in record["drivers"] if "Fan Vibration" in d)
        assert plant.health(PUMP)["failure_probability"] < 0.2
        assert AHU in plant.engine.orders.open_ and plant.engine.orders.open_[AHU].priority == "high"
        # Repaired: the alarm returns, the figures follow the trend again (no "past" driver).
        await plant.run(3 * 60, lambda h: 2.0)
        assert not [a for a in plant.pipeline.open_alerts([AHU]) if a.kind == "limit_high"]
        record = plant.health(AHU)
        assert record["failure_probability"] < plant.engine.settings.close_below
        assert record["ttf_hours"] != 0.0
        assert not any("past its" in d for d in record["drivers"])
        assert AHU not in plant.engine.orders.open_
    finally:
        await plant.engine.stop()


def test_limit_state_reads_alerts_and_latest_values() -> None:
    """Unit: an active critical limit alert alone (the reading back inside, the alarm in its
    off-delay) and a latest reading past the limit alone (the alarm in its on-delay) both count."""
    from types import SimpleNamespace

    from sidecar.maintenance.engine import SensorPlan, SensorResult, limit_state

    plans = {"v": SensorPlan("v", "vibration", "Fan Vibration", "mm/s", "fan", math.nan, 7.1),
             "d": SensorPlan("d", "position", "Damper", "%", "fan", math.nan, 100.0)}
    sensors = [SimpleNamespace(sensor_id="v", index=0), SimpleNamespace(sensor_id="d", index=1)]

    def alert(index: int, severity: str, value: float, threshold: float) -> Any:
        return SimpleNamespace(kind="limit_high", sensor_index=index, severity=severity, value=value,
                               threshold=threshold)

    failing, warned = limit_state([], sensors, plans, {"v": SensorResult(latest=7.4), "d": SensorResult(latest=101.0)})
    assert failing == {"v": "Fan Vibration 7.4 mm/s is past its critical limit 7.1 mm/s now"} and not warned
    failing, _ = limit_state([alert(0, "critical", 8.0, 7.1)], sensors, plans, {"v": SensorResult(latest=7.0)})
    assert "in critical alarm" in failing["v"] and "latest 7 mm/s" in failing["v"]
    failing, warned = limit_state([alert(0, "warning", 5.0, 4.5)], sensors, plans, {"v": SensorResult(latest=5.1)})
    assert not failing and warned == {"v": "Fan Vibration 5.1 mm/s is past its warning limit 4.5 mm/s"}
    failing, warned = limit_state([], sensors, plans, {"v": SensorResult(latest=6.9)})
    assert not failing and not warned


def _daily(h: float) -> float:
    """A supply-air temperature with a daily swing of +-1.5 K around 13 degC."""
    return 13.0 + 1.5 * math.sin(2 * math.pi * h / 24.0)


async def test_temperature_drift_over_a_daily_swing_is_caught_with_lead_time(tmp_path: Path) -> None:
    """A drift the long window cannot confirm yet (it still holds a flat day) but which has left
    the sensor's own normal range (its hourly means of the days before): a work order before the
    critical limit. The daily swing alone, the days before, raised nothing."""
    plant = Plant(tmp_path)
    try:
        await plant.run(32 * 60, lambda h: 2.0, supply_air=_daily)
        assert plant.health(AHU)["failure_probability"] < 0.2 and not plant.engine.orders.open_

        def drifting(h: float) -> float:   # +1 K/h from hour 32: past 24 degC (critical) near hour 42
            return _daily(h) + max(0.0, h - 32.0)

        while AHU not in plant.engine.orders.open_ and drifting((plant.now - T0) / 3600.0) < 23.5:
            await plant.run(10, lambda h: 2.0, supply_air=drifting)
        level = drifting((plant.now - T0) / 3600.0)
        assert AHU in plant.engine.orders.open_, f"no work order before the critical limit (now {level:.1f})"
        # ~5 h or more of lead at 1 K/h (the long window alone, which must confirm the rate, gave ~3 h)
        assert level < 19.0
        record = plant.health(AHU)
        assert record["failure_probability"] >= 0.7 and record["ttf_hours"] is not None
        assert any("Supply Air Temperature" in d and "toward its critical limit 24" in d for d in record["drivers"])
    finally:
        await plant.engine.stop()


def test_slow_drift_reaches_a_work_order_ahead_of_the_limit() -> None:
    """A slow drift, 72 h from normal to past the critical limit, after two flat days: the
    engine's trend (``windowed_trend`` + ``risk_now`` + ``calibrate``) crosses 0.7 hours ahead of
    the limit with a time to failure near the truth, and the flat days stay low."""
    from sidecar.maintenance.trend import windowed_trend

    rng = np.random.default_rng(7)
    t = T0 + MINUTE * np.arange(5 * 1440)
    hours = (t - T0) / 3600.0
    rate = (8.0 - 2.0) / 72.0     # 2 -> 8 mm/s over 72 h; past 7.1 after ~61 h of drift
    x = 2.0 + rate * np.clip(hours - 48.0, 0.0, None) + rng.normal(0, 0.05, len(t))
    cross = 48.0 + (7.1 - 2.0) / rate
    hour_start = np.floor((t - T0) / 3600.0)
    first_order = None
    for now_h in np.arange(30.0, cross, 0.5):
        now = T0 + now_h * 3600.0
        sel = (t <= now) & (t > now - 24 * 3600.0)
        done = hour_start + 1 <= now_h - 6.0
        reference = np.array([x[hour_start == k].mean() for k in np.unique(hour_start[done & (t > now - 7 * 86400)])])
        trend = windowed_trend(t[sel], x[sel], now, 6.0, 24.0, reference)
        assert trend is not None
        risk = risk_now(trend, float(x[sel][-1]), math.nan, 7.1, 24.0)
        p = calibrate(risk.z)
        if now_h < 48.0:
            assert p < 0.2, (now_h, p)
        if first_order is None and p >= 0.7:
            first_order = (now_h, risk.ttf_hours)
    assert first_order is not None, "no work order before the critical limit"
    lead = cross - first_order[0]
    assert lead >= 3.0, lead
    assert first_order[1] is not None and abs(first_order[1] - lead) < 0.5 * lead
