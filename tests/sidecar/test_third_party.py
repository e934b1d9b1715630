"""Issue 2's Done-when, by a client written only from PROTOCOL.md: plain pyzmq REQ + SUB and
msgpack, nothing from this project imported."""
from __future__ import annotations

import time
import uuid
from typing import Any

import msgpack
import zmq
from support.buildings import AHU, small_building

CONFIG = "[sidecar]\nmax_payload_bytes = 100000\n[simulator]\ndemo_faults = false\n"


def test_whole_scenario_with_plain_pyzmq(sidecar_factory) -> None:  # type: ignore[no-untyped-def]
    with sidecar_factory(CONFIG) as handle:
        context: zmq.Context[Any] = zmq.Context()
        req = context.socket(zmq.REQ)
        req.setsockopt(zmq.RCVTIMEO, 10_000)
        req.connect(handle.command_endpoint)
        sub = context.socket(zmq.SUB)
        for topic in (b"alert", b"health", b"status"):
            sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(handle.event_endpoint)
        token = (handle.data_dir / "token").read_text().strip()

        def send(kind: Any, body: Any, **override: Any) -> dict[str, Any]:
            message = {"v": 1, "type": kind, "id": str(uuid.uuid4()), "ts": time.time(), "token": token,
                       "body": body}
            message.update(override)
            req.send(msgpack.packb(message, use_bin_type=True))
            reply: dict[str, Any] = msgpack.unpackb(req.recv(), raw=False)
            return reply

        def raw(payload: bytes) -> dict[str, Any]:
            req.send(payload)
            reply: dict[str, Any] = msgpack.unpackb(req.recv(), raw=False)
            return reply

        def next_event(match: Any, timeout_s: float = 15.0) -> dict[str, Any]:
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                if sub.poll(100):
                    topic, payload = sub.recv_multipart()
                    event: dict[str, Any] = msgpack.unpackb(payload, raw=False)
                    if match(topic.decode(), event):
                        return event
            raise AssertionError("event not received")

        hello = send("hello", {"client": "third-party", "client_version": "0.0.1", "protocols": [1]})
        assert hello["ok"] and hello["body"]["protocol"] == 1
        next_event(lambda t, e: t == "status")  # the heartbeat proves the subscription is live
        assert send("configure", small_building())["body"]["sensors"] == 4
        assert send("start", {})["body"]["state"] == "monitoring"

        now = time.time()
        ingest = send("ingest", {"readings": [["ahu1.sf_vib", now, 8.4], ["zone.co2", now, float("nan")]]})
        assert ingest["body"]["accepted"] == 1 and ingest["body"]["rejected"][0]["index"] == 1
        alert = next_event(lambda t, e: t == "alert" and e["body"]["state"] == "active")["body"]
        assert alert["severity"] == "critical" and alert["unique_id"] == AHU
        health = next_event(lambda t, e: t == "health" and any(i["unique_id"] == AHU for i in e["body"]["items"]))
        assert [i["status"] for i in health["body"]["items"] if i["unique_id"] == AHU] == ["critical"]
        snapshot = send("snapshot", {"unique_ids": [AHU]})["body"]
        assert snapshot["alerts"][0]["alert_id"] == alert["alert_id"] and snapshot["health"][0]["status"] == "critical"
        ack = send("ack", {"alert_id": alert["alert_id"], "user": "ops"})
        assert ack["body"]["alert"]["state"] == "acknowledged"
        assert next_event(lambda t, e: t == "alert")["body"]["state"] == "acknowledged"

        # Bad input: each gets its documented error, and the sidecar keeps serving.
        bad = {
            "bad_request": raw(b"\x00\xff not msgpack"),
            "unauthorized": send("status", {}, token="guess"),
            "unknown_type": send("explode", {}),
            "unsupported_version": send("status", {}, v=99),
            "too_large": raw(msgpack.packb({"v": 1, "type": "ingest", "id": "x", "ts": now, "token": token,
                                            "body": {"readings": [["ahu1.sf_vib", now, 1.0]] * 10000}})),
        }
        for code, reply in bad.items():
            assert reply["ok"] is False and reply["error"]["code"] == code, (code, reply)
        schema = send("ack", {})
        assert schema["error"]["code"] == "bad_request" and schema["error"]["details"]["field"] == "body.alert_id"
        ingest = send("ingest", {"readings": [["unknown", now, 1.0], ["ahu1.sf_vib", now + 86400, 1.0],
                                              ["ahu1.sf_vib", now + 1, 1.0]]})
        assert ingest["body"]["accepted"] == 1 and [r["index"] for r in ingest["body"]["rejected"]] == [0, 1]
        assert next_event(lambda t, e: t == "alert")["body"]["state"] == "cleared"
        status = send("status", {})["body"]
        assert status["state"] == "monitoring" and status["active_alerts"] == 0
        assert handle.alive()
        req.close(0)
        sub.close(0)
        context.term()
