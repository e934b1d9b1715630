"""Issue 15.2: the ingest reply is bounded however many readings are rejected.

Reproduction: an authenticated `ingest` of 2M readings for unknown sensors returned a 78-168 MB
reply, one reason string per rejected reading. Now: the first 100 rejections as examples, the
total, and the count per reason (docs/protocol.md, "The ingest reply").
"""
from __future__ import annotations

import time

import msgpack
from support.buildings import small_building
from support.protocol_client import CommandClient, DealerClient
from support.sidecar_process import SidecarHandle

from shared_schemas.validation import validate_reply
from sidecar.ingest_reply import MAX_REASONS, MAX_REJECTED_EXAMPLES, OTHER_REASONS, ingest_reply
from sidecar.readings import Rejection


def test_a_flood_of_unknown_sensors_gets_a_small_reply(sidecar: SidecarHandle, client: CommandClient) -> None:
    client.call("configure", small_building())
    client.call("start")
    now = time.time()
    n = 200_000
    readings = [[f"ghost-{i % 7}", now, 1.0] for i in range(n)]
    readings[5] = ["ahu1.sf_vib", now, 2.0]
    readings[6] = ["ahu1.sf_vib", now, "two"]
    raw_client = DealerClient(sidecar.command_endpoint, timeout_ms=60_000)  # the reply's bytes, as sent
    try:
        _, raw = raw_client.exchange([b"", msgpack.packb({"v": 1, "type": "ingest", "id": "flood", "ts": now,
                                                           "token": client.token, "body": {"readings": readings}})])
    finally:
        raw_client.close()
    reply = msgpack.unpackb(raw, raw=False)
    validate_reply(reply)
    body = reply["body"]
    print(f"\n{n} readings, {n - 1} rejected: reply of {len(raw)} bytes")
    assert len(raw) < 20_000, len(raw)
    assert body["accepted"] == 1
    assert body["rejected_total"] == n - 1
    assert len(body["rejected"]) == MAX_REJECTED_EXAMPLES
    assert [r["index"] for r in body["rejected"][:7]] == [0, 1, 2, 3, 4, 6, 7]
    assert "not a number" in body["rejected"][5]["reason"]
    by_reason = body["rejected_by_reason"]
    assert sum(by_reason.values()) == n - 1 and len(by_reason) == 8
    assert by_reason["unknown sensor 'ghost-0'"] == len([i for i in range(0, n, 7) if i not in (5, 6)])
    # A clean batch is answered exactly as in the first version of the protocol.
    assert client.call("ingest", {"readings": [["ahu1.sat", now, 14.0]]}) == {"accepted": 1, "rejected": []}


def test_reply_caps_examples_and_reasons() -> None:
    rejected = [Rejection(i, f"reason {i // 2 % (MAX_REASONS + 10)}" if i % 2 else "common") for i in range(1000)]
    reply = ingest_reply(5, rejected)
    assert reply["accepted"] == 5 and reply["rejected_total"] == 1000
    assert reply["rejected"] == [{"index": i, "reason": rejected[i].reason} for i in range(MAX_REJECTED_EXAMPLES)]
    by_reason = reply["rejected_by_reason"]
    assert len(by_reason) == MAX_REASONS + 1 and by_reason["common"] == 500
    assert sum(by_reason.values()) == 1000 and by_reason[OTHER_REASONS] > 0
    assert next(iter(by_reason)) == "common"  # most frequent first
    small = ingest_reply(2, [Rejection(3, "x"), Rejection(4, "x")])
    assert small == {"accepted": 2, "rejected": [{"index": 3, "reason": "x"}, {"index": 4, "reason": "x"}],
                     "rejected_total": 2, "rejected_by_reason": {"x": 2}}
    assert ingest_reply(7, []) == {"accepted": 7, "rejected": []}
