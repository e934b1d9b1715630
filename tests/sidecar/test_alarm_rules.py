"""Rules: on/off-delay, deadbands, rate of change, stale (timer), flat line, analytics scores,
live limits, and the streaming anomaly detector wired into the pipeline."""
from __future__ import annotations

import math

import numpy as np
import pytest
from alarm_support import Rig, settings
from support.buildings import AHU, ZONE_SENSOR

from shared_schemas.validation import validate_record

VIB, SAT, CO2 = "ahu1.sf_vib", "ahu1.sat", "zone.co2"
QUIET = {"stale": {"enabled": False}, "flatline": {"enabled": False}, "rate_of_change": {"enabled": False}}


def test_on_delay_needs_the_condition_to_persist() -> None:
    rig = Rig(settings(limit={"on_delay_s": 10}, **QUIET))
    t0 = rig.now
    rig.feed(VIB, [5.0] * 6 + [2.0] + [5.0] * 6, t0=t0)          # interrupted at t0+6: the delay restarts
    assert rig.alerts() == []
    rig.feed(VIB, [5.0] * 6, t0=t0 + 13)                          # t0+7 .. t0+18: 10 s reached at t0+17
    raised = rig.last()
    assert raised["change"] == "raised" and raised["raised_ts"] == t0 + 17


def test_on_delay_completes_on_the_timer_when_the_sensor_goes_quiet() -> None:
    rig = Rig(settings(limit={"on_delay_s": 30}, **QUIET))
    rig.feed(VIB, [6.0])
    rig.tick(29)
    assert rig.alerts() == []
    rig.tick(2)
    assert rig.last()["change"] == "raised" and rig.last()["value"] == 6.0


def test_off_delay_holds_the_alarm_until_the_value_stays_back() -> None:
    rig = Rig(settings(limit={"off_delay_s": 10}, **QUIET))
    t0 = rig.now
    rig.feed(VIB, [5.0, 2.0, 2.0, 5.0, 2.0], t0=t0)               # back at t0+1, excursion again at t0+3
    assert rig.transitions() == [("active", "unack_active", "raised")]
    rig.feed(VIB, [2.0] * 12, t0=t0 + 5)                         # back since t0+4: returns at t0+14
    assert rig.transitions()[-1] == ("cleared", "unack_rtn", "returned")
    assert rig.last()["updated_ts"] == t0 + 14


def test_limit_deadband_stops_chatter() -> None:
    rig = Rig(settings(**QUIET))
    rig.feed(VIB, [4.6, 4.4, 4.6, 4.3, 4.55, 4.25])              # 4.5 limit, 0.3 deadband: clears only <= 4.2
    assert [a["change"] for a in rig.alerts()] == ["raised"]
    rig.feed(VIB, [4.2], t0=rig.now + 10)
    assert rig.last()["change"] == "returned"


def test_rate_of_change_with_its_window_and_deadband() -> None:
    rig = Rig(settings(rate_of_change={"per_sensor": {SAT: 0.1}, "window_s": 300, "deadband": 0.5},
                       stale={"enabled": False}, flatline={"enabled": False}))
    t0 = rig.now
    rig.feed(SAT, [14.0, 14.5, 15.5], t0=t0, dt=100)             # anchor t0; 15.5 at t0+200: younger than 300 s
    assert rig.alerts(kind="rate_of_change") == []
    rig.feed(SAT, [15.8], t0=t0 + 300)                           # (15.8 - 14) / 5 min = 0.36 /min > 0.1
    raised = rig.last(kind="rate_of_change")
    assert raised["change"] == "raised" and raised["threshold"] == 0.1
    assert math.isclose(raised["value"], 0.36) and "/min" in raised["message"]
    rig.feed(SAT, [16.0], t0=t0 + 600)                           # anchor now 15.8: 0.04/min <= 0.05 -> back
    assert rig.last(kind="rate_of_change")["change"] == "returned"
    validate_record("Alert", raised)


def test_rate_of_change_between_0_05_and_0_1_holds_in_the_deadband() -> None:
    rig = Rig(settings(rate_of_change={"per_sensor": {SAT: 0.1}, "deadband": 0.5}, stale={"enabled": False},
                       flatline={"enabled": False}))
    t0 = rig.now
    rig.feed(SAT, [14.0, 14.6, 14.9], t0=t0, dt=300)             # 0.12/min raises, then 0.06/min holds
    assert [a["change"] for a in rig.alerts(kind="rate_of_change")] == ["raised"]


def test_stale_sensor_is_raised_by_the_timer_and_returns_with_data() -> None:
    rig = Rig(settings(stale={"min_s": 10, "factor": 3}, flatline={"enabled": False},
                       rate_of_change={"enabled": False}))
    rig.feed(VIB, [2.0] * 5, t0=rig.now - 5)                     # learned interval 1 s -> stale after 10 s
    rig.feed(VIB, [2.0], t0=rig.now)
    rig.tick(9)
    assert rig.alerts() == []
    rig.tick(2)
    stale = rig.last(kind="stale")
    assert stale["change"] == "raised" and stale["threshold"] == 10 and stale["value"] >= 10
    assert rig.pipeline.health.sensor_state[rig.model.sensor_index[VIB]] == 5     # STALE in health
    rig.tick(100)
    assert len(rig.alerts(kind="stale")) == 1                    # raised once, not on every tick
    rig.feed(VIB, [2.0], t0=rig.now)
    assert rig.last(kind="stale")["change"] == "returned" and "reporting again" in rig.last()["message"]


def test_stale_uses_a_configured_interval() -> None:
    rig = Rig(settings(stale={"expected_interval_s": 60, "factor": 2, "min_s": 1}, flatline={"enabled": False},
                       rate_of_change={"enabled": False}))
    rig.feed(CO2, [500.0])
    rig.tick(119)
    assert rig.alerts(kind="stale") == []
    rig.tick(2)
    assert rig.last(kind="stale")["unique_id"] == ZONE_SENSOR


def test_flat_line_over_its_window() -> None:
    rig = Rig(settings(flatline={"window_s": 600, "epsilon": 0.5}, stale={"enabled": False},
                       rate_of_change={"enabled": False}))
    t0 = rig.now
    for k in range(7):                                           # 500 ppm +-0.2 for 700 s, batches of 100 s
        rig.feed(CO2, [500.0, 500.2, 499.8, 500.1], t0=t0 + 100 * k, dt=25)
    flat = rig.last(kind="flatline")
    assert flat["change"] == "raised" and flat["threshold"] == 600 and "flat at 500" in flat["message"]
    rig.feed(CO2, [540.0], t0=t0 + 800)
    assert rig.last(kind="flatline")["change"] == "returned"


def test_noisy_sensor_is_not_flat_and_other_quantities_are_not_watched() -> None:
    rig = Rig(settings(flatline={"window_s": 100, "epsilon": 0.5}, stale={"enabled": False},
                       rate_of_change={"enabled": False}))
    t0 = rig.now
    rig.feed(CO2, [500.0, 501.0] * 100, t0=t0)                   # 1 ppm steps > epsilon
    rig.feed(VIB, [0.0] * 200, t0=t0)                            # vibration is not a flat-line quantity
    assert rig.alerts(kind="flatline") == []


def test_anomaly_scores_hook_and_failure_probability_hook() -> None:
    rig = Rig(settings(anomaly={"enabled": True, "threshold": 0.9, "off_delay_s": 0, "deadband": 0.2}, **QUIET))
    t = rig.now
    rig.pipeline.feed_scores([VIB, VIB, VIB], [t, t + 1, t + 2], [0.2, 0.95, 0.8])   # 0.8 is inside the deadband
    assert [a["change"] for a in rig.alerts(kind="anomaly")] == ["raised"]
    rig.pipeline.feed_scores([VIB], [t + 3], [0.5])
    assert rig.last(kind="anomaly")["change"] == "returned"

    rig.pipeline.feed_failure(AHU, 0.85, ttf_hours=40.0, drivers=["bearing wear trend"])
    risk = rig.last(kind="failure_risk")
    assert (risk["severity"], risk["failure_probability"], risk["unique_id"]) == ("critical", 0.85, AHU)
    assert "sensor_id" not in risk
    validate_record("Alert", risk)
    record = rig.health(AHU)
    assert record["failure_probability"] == 0.85 and record["ttf_hours"] == 40.0
    assert record["status"] == "critical" and "bearing wear trend" in record["drivers"]
    rig.pipeline.feed_failure(AHU, 0.1)
    assert rig.last(kind="failure_risk")["change"] == "returned"


def test_set_limits_re_evaluates_the_latest_value() -> None:
    rig = Rig(settings(**QUIET))
    rig.feed(VIB, [5.0])
    alert_id = rig.last()["alert_id"]
    limits = rig.pipeline.set_limits(VIB, {"high": 6.0})
    assert limits.high == 6.0 and rig.last()["change"] == "returned"
    rig.pipeline.set_limits(VIB, {"high": 4.0, "high_critical": 4.8})
    again = rig.last()
    assert (again["alert_id"], again["change"], again["severity"]) == (alert_id, "reactivated", "critical")
    assert rig.pipeline.set_limits(VIB, {"high": None, "high_critical": None}).high == 4.5   # back to default
    with pytest.raises(ValueError, match="not ordered"):
        rig.pipeline.set_limits(VIB, {"high": 9.0, "high_critical": 8.0})
    with pytest.raises(ValueError, match="limits.nope"):
        rig.pipeline.set_limits(VIB, {"nope": 1.0})
    with pytest.raises(KeyError):
        rig.pipeline.set_limits("missing", {"high": 1.0})


def test_streaming_detector_in_the_pipeline() -> None:
    rig = Rig(settings(anomaly={"enabled": True, "detector": True, "threshold": 0.9}, **QUIET))
    t0 = rig.now
    rig.feed(SAT, list(14.0 + 0.1 * np.sin(np.arange(400) * 2 * np.pi / 50)), t0=t0)
    assert rig.alerts(kind="anomaly") == []
    rig.feed(SAT, [16.9], t0=t0 + 400)                           # 29 sigma: far outside anything seen
    anomaly = rig.last(kind="anomaly")
    assert anomaly["change"] == "raised" and anomaly["value"] >= 0.9 and anomaly["sensor_id"] == SAT


def test_anomaly_model_settings() -> None:
    from sidecar.alarms.settings import SettingsError

    default = settings().anomaly
    assert (default.model, default.warmup_readings) == ("streaming", 750)
    chosen = settings(anomaly={"detector": True, "model": "ensemble-vigilance", "warmup_readings": 1440}).anomaly
    assert (chosen.model, chosen.warmup_readings) == ("ensemble-vigilance", 1440)
    for bad, words in (({"model": "vigilance"}, ("alerts.anomaly.model: must be one of streaming, ensemble-vigilance, "
                                                "got 'vigilance'")),
                       ({"model": 1}, "alerts.anomaly.model: expected str, got int"),
                       ({"warmup_readings": 50}, (r"alerts.anomaly.warmup_readings: must be an integer in "
                                                 r"\[104, 10000000\], got 50")),
                       ({"warmup_readings": 750.0}, "alerts.anomaly.warmup_readings: expected int, got float"),
                       ({"warmup_readings": True}, "alerts.anomaly.warmup_readings: expected int, got a boolean")):
        with pytest.raises(SettingsError, match=words):
            settings(anomaly=bad)
    with pytest.raises(SettingsError, match=r"\[alerts.failure\]: unknown key\(s\) model"):
        settings(failure={"model": "ensemble-vigilance"})


def test_ensemble_vigilance_detector_in_the_pipeline() -> None:
    """``[alerts.anomaly] model = "ensemble-vigilance"``: detect's default model runs on the live
    batches (two sensors per batch); nothing during or after its warm-up on the usual cycle, an
    alert once the supply air jumps far outside anything seen and stays there."""
    from sidecar.analytics.detectors.contextual import EnsembleAnomalyDetector
    from sidecar.readings import ReadingBatch

    rig = Rig(settings(anomaly={"enabled": True, "detector": True, "threshold": 0.9, "model": "ensemble-vigilance",
                                "warmup_readings": 208}, **QUIET))
    detector = rig.pipeline.rules.detector
    assert isinstance(detector, EnsembleAnomalyDetector) and detector.contextual.warmup == 208
    sat, co2 = rig.model.sensor_index[SAT], rig.model.sensor_index[CO2]
    rng = np.random.default_rng(3)

    def feed(i0: int, n: int, sat_value: object) -> None:
        i = np.arange(i0, i0 + n)
        t = rig.now + 60.0 * i
        x = sat_value(i) if callable(sat_value) else np.full(n, sat_value)
        co2_x = 600.0 + 50.0 * np.sin(i * 2 * np.pi / 60) + rng.normal(0, 2, n)
        sensor = np.repeat(np.array([sat, co2], dtype=np.int32)[None, :], n, axis=0).ravel()
        rig.pipeline.submit(ReadingBatch(rig.model, sensor, np.repeat(t, 2), np.column_stack([x, co2_x]).ravel()))

    def cycle(i: np.ndarray) -> np.ndarray:
        return 14.0 + 0.5 * np.sin(i * 2 * np.pi / 50) + rng.normal(0, 0.02, len(i))

    for start in range(0, 600, 60):                              # hourly batches of one-minute readings
        feed(start, 60, cycle)
    assert rig.alerts(kind="anomaly") == []
    feed(600, 10, 17.0)
    anomaly = rig.alerts(kind="anomaly")[0]                      # (it returns after the 300 s off-delay)
    assert anomaly["change"] == "raised" and anomaly["value"] >= 0.9 and anomaly["sensor_id"] == SAT
    assert anomaly["raised_ts"] <= rig.now + 60.0 * 602          # at the second reading (two per window point)
    assert rig.alerts(CO2, kind="anomaly") == []
    rig.pipeline.rules.allocate(rig.model)                       # reconfigure: indices may mean other sensors
    assert sat not in detector.contextual.sensors_ and detector.resonance is not None
    assert sat not in detector.resonance.sensors_ and co2 not in detector.resonance.sensors_


def test_alert_messages_are_sentences_with_unit_symbols_not_ucum_codes() -> None:
    """The message is for people ("°C"); the sensor's unit stays UCUM ("Cel") in the configuration."""
    rig = Rig(settings(rate_of_change={"per_sensor": {SAT: 0.1}, "window_s": 300, "deadband": 0.5},
                       stale={"enabled": False}, flatline={"enabled": False}))
    assert rig.model.sensors[rig.model.sensor_index[SAT]].unit == "Cel"
    t0 = rig.now
    rig.feed(SAT, [14.0, 14.5, 15.5, 15.8], t0=t0, dt=100)
    raised = rig.last(kind="rate_of_change")["message"]
    assert "°C/min, limit ±0.1 °C/min" in raised and "Cel" not in raised
    rig.feed(SAT, [16.0], t0=t0 + 600)
    returned = rig.last(kind="rate_of_change")["message"]
    assert returned.endswith("back to normal (0.04 °C/min)") and "Cel" not in returned  # a rate, per minute
