"""Flood suppression, chattering and the other alarm-rate metrics."""
from __future__ import annotations

from alarm_support import Rig, settings
from support.buildings import sensor_element, small_building, with_elements

QUIET = {"stale": {"enabled": False}, "flatline": {"enabled": False}, "rate_of_change": {"enabled": False}}


def _many_sensors(n: int) -> dict:
    extra = [sensor_element(f"bbbbbbbb-0000-0000-0000-000000000001-{3000 + i:08x}", 3000 + i, f"Vib {i}",
                            {"sensor_id": f"v{i}", "quantity": "vibration", "unit": "mm/s", "source": "ingest:"})
             for i in range(n)]
    return with_elements(small_building(), *extra)


def test_flood_suppresses_lower_priority_alerts_and_releases_them() -> None:
    rig = Rig(settings(flood_threshold=3, flood_window_s=600, **QUIET), building=_many_sensors(6))
    for i in range(3):
        rig.feed(f"v{i}", [5.0])                       # 3 warnings: at the threshold, no flood yet
    assert not rig.pipeline.alarm_metrics()["flood"]
    rig.feed("v3", [5.0])                              # the 4th activation starts the flood: held back
    rig.feed("v4", [9.0])                              # critical: still annunciated during a flood
    rig.feed("v5", [5.0, 2.0])                         # held back, then gone: nobody has to ack it
    published = {a["sensor_id"] for a in rig.alerts()}
    assert published == {"v0", "v1", "v2", "v4"}
    metrics = rig.pipeline.alarm_metrics()
    assert metrics["flood"] is True and metrics["suppressed"] == 1 and metrics["floods"] == 1
    assert metrics["alarms_per_10min"] == 6 and "flood_since_ts" in metrics
    assert [a.sensor_id for a in rig.engine.standing_alerts()] == ["v0", "v1", "v2", "v4"]
    rig.tick(601)                                      # the window empties: flood over, v3 released
    released = rig.last(sensor_id="v3")
    assert released["change"] == "released" and released["isa_state"] == "unack_active"
    assert rig.alerts(sensor_id="v5") == []
    metrics = rig.pipeline.alarm_metrics()
    assert metrics["flood"] is False and metrics["suppressed"] == 0 and metrics["alarms_per_10min"] == 0


def test_chattering_and_standing_alarms() -> None:
    rig = Rig(settings(chatter_count=3, chatter_window_s=60, standing_after_s=3600, **QUIET))
    rig.feed("ahu1.sf_vib", [5.0, 2.0, 5.0, 2.0])     # raise, return, reactivate, return
    assert rig.pipeline.alarm_metrics()["chattering"] == 0
    rig.now += 30
    rig.feed("ahu1.sf_vib", [5.0], t0=rig.now)         # third activation within 60 s: chattering
    rig.feed("chwp1.vib", [5.0], t0=rig.now)
    metrics = rig.pipeline.alarm_metrics()
    assert metrics["chattering"] == 1 and metrics["alarms_per_10min"] == 4
    assert metrics["unacknowledged"] == 2 and metrics["active"] == 2 and metrics["stale_alarms"] == 0
    rig.tick(3601)
    metrics = rig.pipeline.alarm_metrics()
    assert metrics["stale_alarms"] == 2 and metrics["chattering"] == 0 and metrics["alarms_per_10min"] == 0
