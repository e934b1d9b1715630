"""configure -> start -> out-of-limit readings -> alert and health events -> snapshot -> ack ->
back in range -> cleared, over real ZeroMQ against a sidecar subprocess."""
from __future__ import annotations

import time

from support.buildings import AHU, ZONE_SENSOR, small_building
from support.protocol_client import CommandClient, EventListener, alert_event, health_event

from shared_schemas.validation import validate_event, validate_reply


def test_limit_alert_lifecycle(client: CommandClient, events: EventListener) -> None:
    configured = client.call("configure", small_building())
    assert configured == {"building_id": "test-building", "elements": 6, "sensors": 4,
                          "warnings": configured["warnings"]}
    assert client.call("start")["state"] == "monitoring"
    now = time.time()

    # Normal readings first: health of the AHU becomes ok.
    reply = client.call("ingest", {"readings": [["ahu1.sf_vib", now, 2.0], ["ahu1.sat", now, 13.0]]})
    assert reply == {"accepted": 2, "rejected": []}
    events.wait_for(health_event(AHU, "ok"), what="AHU ok")

    # Above the warning limit (4.5 mm/s default): one warning alert on the AHU.
    client.call("ingest", {"readings": [["ahu1.sf_vib", now + 1, 5.2]]})
    raised = events.wait_for(alert_event("active", "warning"), what="warning alert")["body"]
    assert raised["unique_id"] == AHU and raised["sensor_id"] == "ahu1.sf_vib"
    assert raised["element_id"] == 1000 and raised["kind"] == "limit_high"
    assert raised["value"] == 5.2 and raised["threshold"] == 4.5
    assert "4.5" in raised["message"] and raised["building_id"] == "test-building"
    health = events.wait_for(health_event(AHU, "warning"), what="AHU warning")
    record = next(i for i in health["body"]["items"] if i["unique_id"] == AHU)
    assert 0 <= record["health_score"] < 100 and any("5.2" in d for d in record["drivers"])

    # Beyond critical (7.1): the same alert escalates.
    client.call("ingest", {"readings": [["ahu1.sf_vib", now + 2, 9.1]]})
    escalated = events.wait_for(alert_event("active", "critical"), what="critical alert")["body"]
    assert escalated["alert_id"] == raised["alert_id"] and escalated["threshold"] == 7.1
    critical = events.wait_for(health_event(AHU, "critical"), what="AHU critical")
    record = next(i for i in critical["body"]["items"] if i["unique_id"] == AHU)
    assert "9.1 mm/s > 7.1 mm/s (critical)" in " ".join(record["drivers"])

    snapshot = client.call("snapshot")
    assert [a["alert_id"] for a in snapshot["alerts"]] == [raised["alert_id"]]
    assert {r["unique_id"]: r["status"] for r in snapshot["health"]}[AHU] == "critical"
    assert client.call("status")["active_alerts"] == 1
    only_zone = client.call("snapshot", {"unique_ids": [ZONE_SENSOR]})
    assert [r["unique_id"] for r in only_zone["health"]] == [ZONE_SENSOR] and only_zone["alerts"] == []

    acked = client.call("ack", {"alert_id": raised["alert_id"], "user": "jdoe", "note": "crew on the way"})
    assert acked["alert"]["state"] == "acknowledged"
    event = events.wait_for(alert_event("acknowledged"), what="acknowledged event")["body"]
    assert event["alert_id"] == raised["alert_id"]
    # A second ack changes nothing and is not an error.
    assert client.call("ack", {"alert_id": raised["alert_id"]})["alert"]["state"] == "acknowledged"

    # Still inside the deadband (4.5 - 0.3): not cleared yet; then well inside: cleared.
    client.call("ingest", {"readings": [["ahu1.sf_vib", now + 3, 4.4]]})
    client.call("ingest", {"readings": [["ahu1.sf_vib", now + 4, 2.1]]})
    cleared = events.wait_for(alert_event("cleared"), what="cleared event")["body"]
    assert cleared["alert_id"] == raised["alert_id"] and cleared["severity"] == "critical"
    events.wait_for(health_event(AHU, "ok"), what="AHU ok again")
    assert client.call("snapshot")["alerts"] == []
    assert client.call("status")["active_alerts"] == 0
    # The 4.4 reading did not clear: exactly one cleared event, after active/escalated/acked.
    states = [e["body"]["state"] for e in events.of("alert")]
    assert states == ["active", "active", "acknowledged", "cleared"]

    # Everything the sidecar sent validates against the shared schemas.
    for topic, message in events.events:
        validate_event(topic, message)
    validate_reply(client.request("snapshot"))


def test_hovering_at_a_limit_raises_one_alert(client: CommandClient, events: EventListener) -> None:
    client.call("configure", small_building())
    client.call("start")
    now = time.time()
    hovering = [["zone.co2", now + i, 990.0 + (20.0 if i % 2 else 0.0)] for i in range(20)]
    assert client.call("ingest", {"readings": hovering})["accepted"] == 20
    client.call("ingest", {"readings": [["zone.co2", now + 21, 1005.0], ["zone.co2", now + 22, 995.0]]})
    client.call("status")
    events.wait_for(alert_event("active", "warning", "zone.co2"))
    events.poll(0.5, lambda t, e: False)
    assert [e["body"]["state"] for e in events.of("alert")] == ["active"]
    # Sensor without host: the alert lands on the sensor element itself.
    assert events.of("alert")[0]["body"]["unique_id"] == ZONE_SENSOR
    client.call("ingest", {"readings": [["zone.co2", now + 23, 940.0]]})
    events.wait_for(alert_event("cleared", sensor_id="zone.co2"))


def test_excursion_within_one_batch_is_seen(client: CommandClient, events: EventListener) -> None:
    client.call("configure", small_building())
    client.call("start")
    now = time.time()
    batch = [["chwp1.vib", now, 2.0], ["chwp1.vib", now + 1, 8.0], ["chwp1.vib", now + 2, 2.0]]
    client.call("ingest", {"readings": batch})
    events.wait_for(alert_event("active", "critical", "chwp1.vib"))
    events.wait_for(alert_event("cleared", sensor_id="chwp1.vib"))


def test_low_side_and_per_sensor_limits(client: CommandClient, events: EventListener) -> None:
    client.call("configure", small_building())
    client.call("start")
    now = time.time()
    client.call("ingest", {"readings": [["ahu1.sat", now, 8.0]]})      # below low 10, above low_critical 6
    low = events.wait_for(alert_event("active", "warning", "ahu1.sat"))["body"]
    assert low["kind"] == "limit_low" and low["threshold"] == 10.0
    client.call("ingest", {"readings": [["ahu1.sat", now + 1, 19.0]]})  # above high 18: low clears, high opens
    events.wait_for(alert_event("cleared", sensor_id="ahu1.sat"))
    high = events.wait_for(alert_event("active", "warning", "ahu1.sat"))["body"]
    assert high["kind"] == "limit_high" and high["alert_id"] != low["alert_id"]
