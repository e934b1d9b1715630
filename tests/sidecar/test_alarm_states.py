"""The ISA-18.2 state machine, transition by transition (injectable clock, no sleeps)."""
from __future__ import annotations

import pytest
from alarm_support import Rig, settings
from support.buildings import AHU

from shared_schemas.validation import validate_record
from sidecar.alarms.record import ShelveError

VIB = "ahu1.sf_vib"   # vibration: warning above 4.5 mm/s, critical above 7.1, deadband 0.3


def test_normal_unack_active_ack_active_normal() -> None:
    rig = Rig()
    rig.feed(VIB, [2.0, 5.0])
    raised = rig.last()
    assert (raised["state"], raised["isa_state"], raised["change"]) == ("active", "unack_active", "raised")
    assert raised["escalated"] is False and "acknowledged_by" not in raised
    rig.now += 5
    acked = rig.engine.acknowledge(raised["alert_id"], "jdoe", "on it").to_wire()
    rig.pipeline.flush()
    assert (acked["state"], acked["isa_state"], acked["acknowledged_by"]) == ("acknowledged", "ack_active", "jdoe")
    assert acked["acknowledged_ts"] == rig.now and acked["ack_note"] == "on it"
    assert any("[acknowledged by jdoe]" in d for d in rig.health(AHU)["drivers"])   # health shows the ack
    rig.feed(VIB, [4.3], t0=rig.now + 1)            # inside the deadband (4.5 - 0.3): still active
    assert rig.last()["change"] == "acknowledged"
    rig.feed(VIB, [4.1], t0=rig.now + 2)
    assert rig.transitions() == [("active", "unack_active", "raised"), ("acknowledged", "ack_active", "acknowledged"),
                                 ("cleared", "normal", "normal")]
    assert rig.engine.standing_alerts() == [] and rig.engine.active_count == 0
    for alert in rig.alerts():
        validate_record("Alert", alert)


def test_unack_active_returns_unacknowledged_then_ack_makes_it_normal() -> None:
    rig = Rig()
    rig.feed(VIB, [5.0, 2.0])
    assert rig.transitions() == [("active", "unack_active", "raised"), ("cleared", "unack_rtn", "returned")]
    alert_id = rig.last()["alert_id"]
    # Returned but unacknowledged: not active, still standing (a snapshot shows it) until acked.
    assert rig.engine.active_count == 0 and [a.alert_id for a in rig.engine.standing_alerts()] == [alert_id]
    assert rig.pipeline.alarm_metrics()["returned_unacknowledged"] == 1
    rig.engine.acknowledge(alert_id, "kim")
    rig.pipeline.flush()
    assert rig.transitions()[-1] == ("cleared", "normal", "normal")
    assert rig.engine.standing_alerts() == []
    rig.engine.acknowledge(alert_id)                 # again: nothing changes, nothing published
    assert len(rig.alerts()) == 3


def test_reactivation_from_unack_rtn_keeps_the_alert_id() -> None:
    rig = Rig()
    rig.feed(VIB, [5.0, 2.0, 5.5])
    first, _, again = rig.alerts()
    assert again["alert_id"] == first["alert_id"]
    assert (again["state"], again["isa_state"], again["change"]) == ("active", "unack_active", "reactivated")
    assert again["value"] == 5.5


def test_worse_condition_re_annunciates_an_acknowledged_alert() -> None:
    rig = Rig()
    rig.feed(VIB, [5.0])
    alert_id = rig.last()["alert_id"]
    rig.engine.acknowledge(alert_id, "jdoe")
    rig.feed(VIB, [8.0], t0=rig.now + 1)
    up = rig.last()
    assert (up["alert_id"], up["severity"], up["isa_state"], up["change"]) == (alert_id, "critical", "unack_active",
                                                                               "severity_up")
    assert "acknowledged_by" not in up


def test_shelving_expires_on_the_clock() -> None:
    rig = Rig(settings(shelve_max_s=7200, stale={"enabled": False}))
    rig.feed(VIB, [5.0])
    alert_id = rig.last()["alert_id"]
    rig.engine.shelve(alert_id, duration_s=600, user="ops", reason="bearing ordered")
    rig.pipeline.flush()
    shelved = rig.last()
    assert shelved["change"] == "shelved" and shelved["shelved_until"] == rig.now + 600
    assert shelved["shelved_by"] == "ops" and shelved["shelve_reason"] == "bearing ordered"
    assert shelved["state"] == "active"          # shelving hides annunciation, not the condition
    assert rig.pipeline.alarm_metrics()["shelved"] == 1
    assert any("[shelved until" in d for d in rig.health(AHU)["drivers"])
    rig.tick(599)
    assert rig.last()["change"] == "shelved"
    rig.tick(2)
    expired = rig.last()
    assert expired["change"] == "unshelved" and "shelved_until" not in expired
    assert rig.pipeline.alarm_metrics()["shelved"] == 0


def test_shelf_covers_a_new_alert_of_the_same_point_and_unshelve_ends_it() -> None:
    rig = Rig()
    rig.feed(VIB, [5.0])
    first = rig.last()["alert_id"]
    rig.engine.shelve(first, until_ts=rig.now + 1000)
    rig.engine.acknowledge(first)
    rig.feed(VIB, [2.0, 6.0], t0=rig.now + 1)        # back to normal, then a new excursion
    new = rig.last()
    assert new["alert_id"] != first and new["change"] == "raised" and new["shelved_until"] == rig.now + 1000
    assert rig.pipeline.alarm_metrics()["alarms_per_10min"] == 1   # shelved activations are not counted
    rig.engine.unshelve(new["alert_id"], "ops")
    rig.pipeline.flush()
    assert rig.last()["change"] == "unshelved" and "shelved_until" not in rig.last()


def test_shelve_limits() -> None:
    rig = Rig(settings(shelve_max_s=3600))
    rig.feed(VIB, [5.0])
    alert_id = rig.last()["alert_id"]
    with pytest.raises(ShelveError, match="limited to 3600"):
        rig.engine.shelve(alert_id, duration_s=7200)
    with pytest.raises(ShelveError, match="future"):
        rig.engine.shelve(alert_id, until_ts=rig.now - 1)
    assert rig.engine.shelve(alert_id).shelved_until == rig.now + 3600   # default duration (capped config)


def test_escalation_when_unacknowledged_too_long() -> None:
    rig = Rig(settings(escalate_after_s=300, max_escalations=1, stale={"enabled": False}))
    rig.feed(VIB, [5.0])
    rig.feed("chwp1.vib", [5.0])
    rig.engine.acknowledge(rig.last(sensor_id="chwp1.vib")["alert_id"])
    rig.tick(299)
    assert rig.last(sensor_id=VIB)["change"] == "raised"
    rig.tick(2)
    escalated = rig.last(sensor_id=VIB)
    assert (escalated["change"], escalated["severity"], escalated["escalated"]) == ("escalated", "critical", True)
    assert rig.last(sensor_id="chwp1.vib")["change"] == "acknowledged"   # acknowledged: never escalated
    assert rig.pipeline.alarm_metrics()["escalated"] == 1
    rig.tick(1000)
    assert rig.last(sensor_id=VIB)["change"] == "escalated" and len(rig.alerts(VIB)) == 2   # at most once
    assert rig.health(AHU)["status"] == "critical"   # the escalated severity reaches health


def test_removed_sensor_goes_to_normal_on_reconfigure() -> None:
    rig = Rig()
    rig.feed(VIB, [5.0, 2.0])                        # unack_rtn
    from support.buildings import small_building

    from sidecar.model import build_model
    smaller = small_building()
    smaller["elements"] = [e for e in smaller["elements"] if e.get("sensor", {}).get("sensor_id") != VIB]
    rig.pipeline.rebind(build_model(smaller))
    assert rig.transitions()[-1] == ("cleared", "normal", "normal")
    assert "removed from the configuration" in rig.last()["message"]
