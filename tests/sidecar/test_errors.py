"""Every error code of PROTOCOL.md, and the sidecar keeps serving after each."""
from __future__ import annotations

import time

import msgpack
from support.protocol_client import DROP, CommandClient, DealerClient, envelope

from shared_schemas.validation import validate_reply

SMALL_LIMIT = "[sidecar]\nmax_payload_bytes = 4096\n[simulator]\ndemo_faults = false\n"


def _error(reply: dict, code: str) -> dict:  # type: ignore[type-arg]
    assert reply["ok"] is False, reply
    assert reply["error"]["code"] == code, reply
    assert isinstance(reply["error"]["message"], str) and reply["error"]["message"]
    validate_reply(reply)
    return reply["error"]  # type: ignore[no-any-return]


def test_error_codes(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    with sidecar_factory(SMALL_LIMIT) as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        ok_status = lambda: client.call("status")["state"] == "idle"

        # too_large: checked on the frame size, before decoding.
        big = msgpack.packb(envelope("status", {"pad": "x" * 5000}, handle.token))
        reply = client.send_raw(big)
        error = _error(reply, "too_large")
        assert reply["id"] is None and error["details"]["limit"] == 4096 and error["details"]["size"] == len(big)
        assert "4096" in error["message"]
        assert ok_status()

        # Not msgpack / not a map: bad_request with a nil id and type.
        for payload in (b"\xc1", b"\x92\x01", msgpack.packb([1, 2]), msgpack.packb("hello"), b""):
            reply = client.send_raw(payload)
            _error(reply, "bad_request")
            assert reply["id"] is None and reply["type"] is None
        assert ok_status()

        # Version missing or unsupported.
        for overrides in ({"v": DROP}, {"v": 2}, {"v": "1"}, {"v": True}):
            reply = client.request("status", {}, **overrides)
            error = _error(reply, "unsupported_version")
            assert error["details"]["supported"] == [1] and reply["type"] == "status"
        error = _error(client.request("hello", {"client": "x", "client_version": "1", "protocols": [2, 3]}),
                       "unsupported_version")

        # Unknown type: echoed, with the known ones listed.
        reply = client.request("reboot", {})
        error = _error(reply, "unknown_type")
        assert reply["type"] == "reboot" and "reboot" in error["message"] and "status" in error["details"]["known"]
        _error(client.request(42, {}), "unknown_type")

        # Token missing or wrong (and the error never echoes the token).
        for overrides in ({"token": DROP}, {"token": "wrong"}, {"token": handle.token + "x"}, {"token": 5}):
            reply = client.request("status", {}, **overrides)
            error = _error(reply, "unauthorized")
            assert handle.token not in repr(reply)

        # Schema-invalid: bad_request naming the field; the id is echoed.
        reply = client.request("hello", {"client_version": "1", "protocols": [1]})
        assert _error(reply, "bad_request")["details"]["field"] == "body.client"
        assert reply["id"].startswith("t-")
        assert _error(client.request("ack", {"alert_id": 7}), "bad_request")["details"]["field"] == "body.alert_id"
        assert _error(client.request("status", [], ), "bad_request")["details"]["field"] == "body"
        assert _error(client.request("status", {}, id=DROP), "bad_request")["details"]["field"] == "id"
        assert _error(client.request("snapshot", {"unique_ids": "x"}), "bad_request")["details"]["field"] == "body.unique_ids"
        assert _error(client.request("ingest", {"readings": 3}), "bad_request")["details"]["field"] == "body.readings"

        # conflict
        _error(client.request("start"), "conflict")
        _error(client.request("ingest", {"readings": [["s", time.time(), 1.0]]}), "conflict")
        assert ok_status()
        client.close()

        # Frame structure: a DEALER can send what a REQ cannot.
        dealer = DealerClient(handle.command_endpoint, zmq_context)
        good = msgpack.packb(envelope("status", {}, handle.token))
        frames = dealer.exchange([b"", good])
        assert len(frames) == 2 and frames[0] == b"" and msgpack.unpackb(frames[1])["ok"] is True
        for wrong in ([good], [b"", good, b"extra"], [b"x", good], [b"", b"", good]):
            frames = dealer.exchange(wrong)
            assert frames[0] == b"" and len(frames) == 2
            reply = msgpack.unpackb(frames[1])
            _error(reply, "bad_request")
        reply = msgpack.unpackb(dealer.exchange([good])[1])
        assert reply["id"] is not None  # decodable despite the missing delimiter: id echoed
        dealer.close()
        assert handle.alive()


def test_vanished_clients_do_not_hurt(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    with sidecar_factory("[simulator]\ndemo_faults = false\n") as handle:
        for _ in range(20):  # send and disappear before the reply
            dealer = DealerClient(handle.command_endpoint, zmq_context)
            dealer.socket.send_multipart([b"", msgpack.packb(envelope("status", {}, handle.token))])
            dealer.close()
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        assert client.call("status")["state"] == "idle"
        client.close()
        assert handle.alive()
