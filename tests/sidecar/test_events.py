"""Event envelopes, per-topic seq and the status heartbeat."""
from __future__ import annotations

import itertools
import time

from support.buildings import small_building
from support.protocol_client import CommandClient, EventListener

from shared_schemas.validation import validate_event

FAST_HEARTBEAT = "[sidecar]\nstatus_interval_s = 0.3\n[simulator]\ndemo_faults = false\n"


def test_seq_per_topic_and_heartbeat(monitoring) -> None:  # type: ignore[no-untyped-def]
    with monitoring(FAST_HEARTBEAT, small_building()) as (_handle, client, events):
        now = time.time()
        for i in range(5):  # raise and clear: alert events 1..10
            client.call("ingest", {"readings": [["zone.co2", now + 2 * i, 1200.0], ["zone.co2", now + 2 * i + 1, 500.0]]})
        events.wait_for(lambda t, e: t == "alert" and e["seq"] == 10, what="10th alert event")
        # Heartbeat: status events keep coming without any request.
        start = time.monotonic()
        count = len(events.of("status"))
        events.poll(1.5, lambda t, e: False)
        assert len(events.of("status")) >= count + 3, time.monotonic() - start
        client.close()

    ids = set()
    for topic in ("alert", "health", "status"):
        seqs = [e["seq"] for e in events.of(topic)]
        assert seqs, topic
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), (topic, seqs)
    assert events.of("alert")[0]["seq"] == 1  # no alert was published before we subscribed
    for topic, event in events.events:
        assert event["v"] == 1 and event["type"] == topic and isinstance(event["ts"], float)
        assert event["id"] not in ids
        ids.add(event["id"])
        validate_event(topic, event)
    stamps = [e["ts"] for e in events.of("status")]
    assert max(b - a for a, b in itertools.pairwise(stamps)) < 5.0


def test_default_heartbeat_within_protocol_limit(client: CommandClient, events: EventListener) -> None:
    first = events.wait_for(lambda t, e: t == "status", timeout_s=10)
    second = events.wait_for(lambda t, e: t == "status" and e["seq"] > first["seq"], timeout_s=10)
    assert second["seq"] == first["seq"] + 1
    assert second["body"]["state"] == "idle"
