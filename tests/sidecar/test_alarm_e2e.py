"""Alarm management over real ZeroMQ against a sidecar subprocess: ack, shelve, unshelve and
set_limits requests, the alert events' additive fields, unack_rtn in snapshots, and
status.alarm_metrics; everything validated against the shared schemas."""
from __future__ import annotations

import time
from typing import Any

from support.buildings import AHU, small_building

from shared_schemas.validation import validate_event, validate_reply

CONFIG = """
[simulator]
demo_faults = false
[alerts]
escalate_after_s = 0
shelve_max_s = 7200
[alerts.stale]
enabled = false
"""


def change(kind: str, sensor_id: str = "ahu1.sf_vib") -> Any:
    def match(topic: str, event: dict[str, Any]) -> bool:
        body = event.get("body", {})
        return topic == "alert" and body.get("change") == kind and body.get("sensor_id") == sensor_id
    return match


def test_alarm_requests_and_events_over_zeromq(monitoring: Any) -> None:
    with monitoring(CONFIG, small_building()) as (_handle, client, events):
        now = time.time()
        client.call("ingest", {"readings": [["ahu1.sf_vib", now, 5.2]]})
        raised = events.wait_for(change("raised"), what="raised")["body"]
        assert (raised["state"], raised["isa_state"], raised["escalated"]) == ("active", "unack_active", False)

        # shelve (the dashboard's body: alert_id, duration_s, user) and unshelve
        reply = client.request("shelve", {"alert_id": raised["alert_id"], "duration_s": 3600, "user": "zoë",
                                          "reason": "bearing ordered"})
        validate_reply(reply)
        shelved = reply["body"]["alert"]
        assert shelved["shelved_by"] == "zoë" and shelved["shelved_until"] > now + 3500
        event = events.wait_for(change("shelved"), what="shelved event")["body"]
        assert event["shelved_until"] == shelved["shelved_until"]
        assert client.call("status")["alarm_metrics"]["shelved"] == 1
        too_long = client.request("shelve", {"alert_id": raised["alert_id"], "duration_s": 99999})
        assert too_long["error"]["code"] == "bad_request" and too_long["error"]["details"]["field"] == "body.duration_s"
        both = client.request("shelve", {"alert_id": raised["alert_id"], "duration_s": 1, "until_ts": now + 5})
        assert both["error"]["code"] == "bad_request"
        unknown = client.request("unshelve", {"alert_id": "nope"})
        assert unknown["error"]["details"]["field"] == "body.alert_id"
        unshelved = client.call("unshelve", {"alert_id": raised["alert_id"], "user": "zoë"})["alert"]
        assert "shelved_until" not in unshelved
        events.wait_for(change("unshelved"), what="unshelved event")

        # set_limits (the cloud connectors' body) re-evaluates the latest value at once
        reply = client.request("set_limits", {"sensor_id": "ahu1.sf_vib", "limits": {"high": 6.0}})
        validate_reply(reply)
        assert reply["body"] == {"sensor_id": "ahu1.sf_vib",
                                 "limits": {"high": 6.0, "high_critical": 7.1, "deadband": 0.3}}
        returned = events.wait_for(change("returned"), what="returned")["body"]
        assert (returned["state"], returned["isa_state"]) == ("cleared", "unack_rtn")
        snapshot = client.call("snapshot")
        assert [a["isa_state"] for a in snapshot["alerts"]] == ["unack_rtn"]   # waits for its ack
        bad = client.request("set_limits", {"sensor_id": "ahu1.sf_vib", "limits": {"hihg": 6.0}})
        assert bad["error"]["code"] == "bad_request" and "hihg" in bad["error"]["message"]
        disordered = client.request("set_limits", {"sensor_id": "ahu1.sf_vib", "limits": {"high": 9.0}})
        assert disordered["error"]["code"] == "bad_request" and "not ordered" in disordered["error"]["message"]
        missing = client.request("set_limits", {"sensor_id": "nope", "limits": {"high": 1.0}})
        assert missing["error"]["details"]["field"] == "body.sensor_id"

        # ack of the returned alert: normal, gone from the snapshot
        acked = client.call("ack", {"alert_id": raised["alert_id"], "user": "kim", "note": "seen"})["alert"]
        assert (acked["isa_state"], acked["acknowledged_by"], acked["ack_note"]) == ("normal", "kim", "seen")
        events.wait_for(change("normal"), what="normal")
        assert client.call("snapshot")["alerts"] == []

        # a new excursion above the new limit; ack while active, then back to normal
        client.call("ingest", {"readings": [["ahu1.sf_vib", now + 1, 6.5]]})
        second = events.wait_for(change("raised"), what="second raise")["body"]
        assert second["alert_id"] != raised["alert_id"] and second["threshold"] == 6.0
        client.call("ack", {"alert_id": second["alert_id"], "user": "kim"})
        events.wait_for(change("acknowledged"), what="acknowledged")
        client.call("ingest", {"readings": [["ahu1.sf_vib", now + 2, 2.0], ["ahu1.sat", now + 2, 14.0]]})
        events.wait_for(change("normal"), what="normal again")
        status = client.call("status")
        metrics = status["alarm_metrics"]
        assert metrics["alarms_per_10min"] == 2 and metrics["active"] == 0 and metrics["flood"] is False
        validate_reply(client.request("status"))
        record = client.call("snapshot", {"unique_ids": [AHU]})["health"][0]
        assert record["status"] == "ok"
        for topic, message in events.events:
            validate_event(topic, message)
