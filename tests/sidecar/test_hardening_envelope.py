"""Issue 15.1: a request without the token is never decoded beyond its envelope.

Reproduction: one ~29 MiB request whose body is a msgpack array of N empty arrays, sent with no
token (or a wrong one, after the body), made the sidecar unpack 29 million lists (2.19 GB RSS)
before the token check and stalled other clients' `hello` for 2.8-4 s. Here the real sidecar
process must answer `unauthorized`, its peak RSS (VmHWM) must grow by less than twice the
request, and another client's `hello` must still be answered.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
from support.protocol_client import CommandClient
from support.sidecar_process import SidecarHandle, running_sidecar

from shared_schemas.validation import validate_reply
from sidecar.envelope import (
    PREFIX_BYTES,
    Envelope,
    EnvelopeError,
    NestingError,
    TooLarge,
    check_nesting,
    decode_request,
    read_envelope,
    token_needle,
)

REQUEST_BYTES = 29 * 1024 * 1024


def _status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{key} not in /proc/{pid}/status")


def _empty_arrays(n: int) -> bytes:
    """A msgpack array of ``n`` empty arrays, built without a Python list of ``n`` items."""
    return b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n


def _request(entries: list[tuple[str, bytes]]) -> bytes:
    return bytes([0x80 | len(entries)]) + b"".join(msgpack.packb(key) + value for key, value in entries)


def _flood_requests(token_length: int) -> dict[str, bytes]:
    header = [("v", msgpack.packb(1)), ("type", msgpack.packb("ingest")), ("id", msgpack.packb("flood-1")),
              ("ts", msgpack.packb(time.time()))]
    n = REQUEST_BYTES - 100
    body = msgpack.packb("readings") + _empty_arrays(n)
    body_entry = ("body", b"\x81" + body)
    wrong = "x" * token_length
    return {
        # The reproduction: envelope first, no token.
        "no token": _request(header + [body_entry]),
        # The costly order: body first, then a token of the right length but wrong.
        "body first, wrong token": _request([body_entry] + header + [("token", msgpack.packb(wrong))]),
        # Body first and no token at all: only a prefix is scanned.
        "body first, no token": _request([body_entry] + header),
    }


def _hello_latency(endpoint: str, token: str, start: threading.Event, result: dict[str, Any]) -> None:
    client = CommandClient(endpoint, token, zmq.Context.instance(), timeout_ms=30_000)
    try:
        start.wait(30)
        time.sleep(0.05)  # the flood is on its way
        t0 = time.monotonic()
        result["reply"] = client.request("hello", {"client": "bystander", "client_version": "1", "protocols": [1]})
        result["latency_s"] = time.monotonic() - t0
    finally:
        client.close()


@pytest.fixture
def flooded() -> Any:
    """A fresh sidecar per case: VmHWM only ever grows."""
    with running_sidecar("[simulator]\ndemo_faults = false\n") as handle:
        yield handle


@pytest.mark.parametrize("case", ["no token", "body first, wrong token", "body first, no token"])
def test_unauthenticated_flood_costs_less_than_twice_its_size(flooded: SidecarHandle, case: str) -> None:
    payload = _flood_requests(len(flooded.token))[case]
    assert REQUEST_BYTES - 1024 < len(payload) < REQUEST_BYTES + 1024
    pid = flooded.process.pid
    rss_before_kib = _status_kib(pid, "VmRSS")
    context: zmq.Context[Any] = zmq.Context()
    attacker = context.socket(zmq.DEALER)
    attacker.setsockopt(zmq.LINGER, 0)
    attacker.setsockopt(zmq.RCVTIMEO, 60_000)
    attacker.connect(flooded.command_endpoint)
    start = threading.Event()
    bystander: dict[str, Any] = {}
    thread = threading.Thread(target=_hello_latency, args=(flooded.command_endpoint, flooded.token, start, bystander))
    thread.start()
    try:
        t0 = time.monotonic()
        attacker.send_multipart([b"", payload])
        start.set()
        frames = attacker.recv_multipart()
        flood_reply_s = time.monotonic() - t0
    finally:
        thread.join(60)
        attacker.close(0)
        context.term()
    reply = msgpack.unpackb(frames[1], raw=False)
    validate_reply(reply)
    assert reply["ok"] is False and reply["error"]["code"] == "unauthorized", reply
    if case == "no token":
        assert reply["id"] == "flood-1" and reply["type"] == "ingest"
    growth = (_status_kib(pid, "VmHWM") - rss_before_kib) * 1024
    print(f"\n{case}: {len(payload) / 2**20:.1f} MiB request, peak RSS growth {growth / 2**20:.1f} MiB, "
          f"flood answered in {flood_reply_s * 1000:.0f} ms, bystander hello in "
          f"{bystander.get('latency_s', float('nan')) * 1000:.0f} ms")
    assert growth < 2 * len(payload), f"peak RSS grew {growth} bytes for a {len(payload)}-byte request"
    assert bystander.get("reply", {}).get("ok") is True, bystander
    assert bystander["latency_s"] < 5.0, bystander
    assert flooded.alive()


# -- the envelope reader on its own ------------------------------------------------------------

TOKEN = "T" * 43


def test_envelope_is_read_wherever_its_keys_are() -> None:
    message = {"body": {"readings": [["a", 1.0, 2.0]] * 1000}, "id": "r-1", "v": 1, "type": "ingest",
               "token": TOKEN, "ts": 5.0}
    envelope = read_envelope(memoryview(msgpack.packb(message)), token_needle(TOKEN))
    assert envelope.complete and envelope.values == {"id": "r-1", "v": 1, "type": "ingest", "token": TOKEN, "ts": 5.0}


def test_oversized_envelope_values_are_not_decoded() -> None:
    envelope = read_envelope(memoryview(msgpack.packb({"v": 1, "token": [[]] * 5000, "id": "x" * 5000})))
    assert isinstance(envelope.get("token"), TooLarge) and isinstance(envelope.get("id"), TooLarge)
    assert envelope.get("v") == 1


@pytest.mark.parametrize("payload, message", [
    (b"", "OutOfData"), (b"\xc1", "0xc1"), (msgpack.packb([1, 2]), "got list"), (msgpack.packb(3), "got int"),
    (msgpack.packb({"v": 1}) + b"\x00", "ExtraData"), (msgpack.packb({"v": 1})[:-1], "truncated"),
    (b"\x81\xa1v\xc1", "not valid msgpack"), (bytes([0xDF]) + (10**6).to_bytes(4, "big"), "at most 64 keys"),
])
def test_envelope_errors_are_precise(payload: bytes, message: str) -> None:
    with pytest.raises(EnvelopeError, match=message):
        read_envelope(memoryview(payload), token_needle(TOKEN))


def test_large_request_without_the_token_is_scanned_in_part() -> None:
    body = b"\x81" + msgpack.packb("readings") + _empty_arrays(4 * PREFIX_BYTES)
    payload = _request([("body", body), ("v", msgpack.packb(2)), ("token", msgpack.packb("short"))])
    envelope = read_envelope(memoryview(payload), token_needle(TOKEN))
    assert envelope == Envelope(values={}, complete=False)
    # With a token-shaped string after the body the whole map is walked (and v is seen).
    payload = _request([("body", body), ("v", msgpack.packb(2)), ("token", msgpack.packb("t" * 43))])
    envelope = read_envelope(memoryview(payload), token_needle(TOKEN))
    assert envelope.complete and envelope.values == {"v": 2, "token": "t" * 43}


def test_decode_limits_nesting_but_not_readings() -> None:
    deep: Any = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(NestingError, match="deeper than 32"):
        decode_request(memoryview(msgpack.packb({"v": 1, "body": {"elements": deep}})), 1 << 20)
    message = decode_request(memoryview(msgpack.packb({"v": 1, "body": {"readings": [deep, ["a", 1, 2]]}})), 1 << 20)
    assert message["body"]["readings"][1] == ["a", 1, 2]
    check_nesting({"a": [[{"b": [1]}]]}, 5)
    with pytest.raises(NestingError):
        check_nesting({"a": [[{"b": [1]}]]}, 4)


def test_decode_refuses_lengths_beyond_the_payload() -> None:
    # An array header claiming 2**32-1 items in a 6-byte payload is refused before any allocation.
    with pytest.raises(ValueError):
        decode_request(memoryview(b"\x81\xa1v" + b"\xdd\xff\xff\xff\xff"), 64 << 20)
