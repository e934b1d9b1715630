"""Issue 15.1: a request without the token is never decoded beyond its envelope.

Reproduction: one ~29 MiB request whose body is a msgpack array of N empty arrays, sent with no
token (or a wrong one, after the body), made the sidecar unpack 29 million lists (2.19 GB RSS)
before the token check and stalled other clients' `hello` for 2.8-4 s. Here the real sidecar
process must answer `unauthorized`, its peak RSS (VmHWM) must grow by less than twice the
request, and another client's `hello` must still be answered.
"""
from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq
import zmq.asyncio
from support.protocol_client import CommandClient
from support.sidecar_process import SidecarHandle, running_sidecar

from shared_schemas.validation import validate_reply
from sidecar.bus import MAX_QUEUED_BEHIND_WALK, CommandServer
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
from sidecar.validation import validate_request

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
        # One 29 MiB string in the body, then a wrong token: msgpack's skip would hold it whole.
        "string body first, wrong token": _request(
            [("body", b"\x81" + msgpack.packb("note") + b"\xdb" + n.to_bytes(4, "big") + b"s" * n)]
            + header + [("token", msgpack.packb(wrong))]),
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


@pytest.mark.parametrize("case", ["no token", "body first, wrong token", "body first, no token",
                                  "string body first, wrong token"])
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
    if case.startswith("string"):  # one value over the 1 MiB a string may have: refused as such
        assert reply["ok"] is False and reply["error"]["code"] == "bad_request", reply
        assert "longer than 1048576 bytes" in reply["error"]["message"]
    else:
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
    # read up to the last of v, type, id and token: ts, after them, is left to the full decode
    assert envelope.complete and envelope.values == {"id": "r-1", "v": 1, "type": "ingest", "token": TOKEN}
    envelope = read_envelope(memoryview(msgpack.packb({"ts": 5.0, "v": 1, "body": {}})), token_needle(TOKEN))
    assert envelope.complete and envelope.values == {"ts": 5.0, "v": 1}


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


@contextlib.asynccontextmanager
async def status_server(clients: int, on_status: Callable[[dict[str, Any]], None] = lambda message: None,
                        also: tuple[str, ...] = ()) -> AsyncIterator[tuple[CommandServer, list[zmq.asyncio.Socket]]]:
    """A CommandServer answering ``status`` (and the ``also`` types) with an idle status, calling
    ``on_status`` with each request, and ``clients`` DEALER sockets connected to it."""
    async def status(message: dict[str, Any]) -> dict[str, Any]:
        on_status(message)
        return {"state": "idle", "sensors": 0, "readings_per_s": 0.0, "active_alerts": 0, "uptime_s": 1.0,
                "sources": {}}

    context = zmq.asyncio.Context()
    server = CommandServer(context, "tcp://127.0.0.1:*", TOKEN, dict.fromkeys(("status", *also), status),
                           validate_request)
    serving = asyncio.create_task(server.serve())
    sockets = [context.socket(zmq.DEALER) for _ in range(clients)]
    for socket in sockets:
        socket.setsockopt(zmq.LINGER, 0)
        socket.connect(server.endpoint)
    try:
        yield server, sockets
    finally:
        for socket in sockets:
            socket.close(0)
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        server.close()
        context.term()


async def test_a_repeated_envelope_key_is_a_bad_request() -> None:
    """The envelope is read up to its last key and the body decoded after: a map that repeats
    ``type`` (or ``v``, ``token``) after that point must not switch handlers behind the check."""
    called: list[str] = []
    async with status_server(1, lambda message: called.append(message["type"]), also=("stop",)) as (_, [socket]):
        head = [("v", msgpack.packb(1)), ("type", msgpack.packb("status")), ("id", msgpack.packb("dup")),
                ("token", msgpack.packb(TOKEN)), ("ts", msgpack.packb(1.0)), ("body", msgpack.packb({}))]
        for repeated in (("type", msgpack.packb("stop")), ("token", msgpack.packb("w" * 43)), ("v", msgpack.packb(2))):
            await socket.send_multipart([b"", _request([*head, repeated])])
            reply = msgpack.unpackb((await asyncio.wait_for(socket.recv_multipart(), 10))[1], raw=False)
            assert reply["ok"] is False and reply["error"]["code"] == "bad_request", reply
            assert reply["id"] == "dup" and "repeats an envelope key" in reply["error"]["message"]
        await socket.send_multipart([b"", _request(head)])
        reply = msgpack.unpackb((await asyncio.wait_for(socket.recv_multipart(), 10))[1], raw=False)
        assert reply["ok"] is True and called == ["status"]


async def test_a_long_envelope_walk_keeps_each_clients_order() -> None:
    """A request whose envelope keys come after a body over 1 MiB is read in a worker thread;
    the same client's next requests wait for it and are answered in order, others go on."""
    seen: list[str] = []

    def request(request_id: str, token: str = TOKEN, pad: int = 0) -> bytes:
        entries = [("body", msgpack.packb({"pad": ["p" * 100] * (pad // 100)} if pad else {}))]
        entries += [("v", msgpack.packb(1)), ("type", msgpack.packb("status")), ("id", msgpack.packb(request_id)),
                    ("ts", msgpack.packb(1.0)), ("token", msgpack.packb(token))]
        return _request(entries)

    async def reply_of(socket: zmq.asyncio.Socket) -> dict[str, Any]:
        return dict(msgpack.unpackb((await asyncio.wait_for(socket.recv_multipart(), 20))[1], raw=False))

    async with status_server(2, lambda message: seen.append(message["id"])) as (server, [client, other]):
        big = 3 * PREFIX_BYTES
        await client.send_multipart([b"", request("slow-1", pad=big)])
        await client.send_multipart([b"", request("quick-2")])
        await client.send_multipart([b"", request("slow-3", token="w" * len(TOKEN), pad=big)])
        await client.send_multipart([b"", request("quick-4")])
        await other.send_multipart([b"", request("other-1")])
        replies = [await reply_of(client) for _ in range(4)]
        assert [r["id"] for r in replies] == ["slow-1", "quick-2", "slow-3", "quick-4"]
        assert [r["ok"] for r in replies] == [True, True, False, True]
        assert replies[2]["error"]["code"] == "unauthorized"
        assert (await reply_of(other))["ok"] is True
        assert [i for i in seen if i != "other-1"] == ["slow-1", "quick-2", "quick-4"]
        assert server._waiting == {}


def test_one_value_is_at_most_one_mib() -> None:
    big = msgpack.packb({"v": 1, "type": "status", "id": "x", "token": TOKEN, "body": {"note": "n" * ((1 << 20) + 1)}})
    assert read_envelope(memoryview(big), token_needle(TOKEN)).complete  # the body is not read before the token
    with pytest.raises(ValueError):
        decode_request(memoryview(big), 64 << 20)
    ok = msgpack.packb({"v": 1, "body": {"note": "n" * ((1 << 20) - 64)}})
    assert len(decode_request(memoryview(ok), 64 << 20)["body"]["note"]) == (1 << 20) - 64
    first = msgpack.packb({"body": {"note": "n" * (2 << 20)}, "v": 1, "type": "status", "id": "x", "token": TOKEN})
    with pytest.raises(EnvelopeError, match="longer than 1048576 bytes"):
        read_envelope(memoryview(first), token_needle(TOKEN))


@pytest.mark.parametrize("shape", ["empty arrays", "one string", "strings of 100 KiB"])
@pytest.mark.parametrize("size", [300 * 1024, 3 << 20, 9 << 20])
def test_reading_the_envelope_allocates_at_most_the_payload_again(shape: str, size: int) -> None:
    """Whatever precedes the token, reading the envelope allocates at most twice the largest
    string it skips (1 MiB at most) plus msgpack's buffer (256 KiB): a bounded amount, never a Python
    object per item (the full decode of 9 MiB of empty arrays: ~700 MB)."""
    import tracemalloc

    n = size - 200
    if shape == "empty arrays":
        body = _empty_arrays(n)
    elif shape == "one string":
        n = min(n, (1 << 20) - 16)
        body = b"\xdb" + n.to_bytes(4, "big") + b"s" * n
    else:
        chunk = msgpack.packb("s" * (100 * 1024))
        count = n // len(chunk)
        body = b"\xdd" + count.to_bytes(4, "big") + chunk * count
    payload = _request([("body", body), ("v", msgpack.packb(1)), ("type", msgpack.packb("status")),
                        ("id", msgpack.packb("m")), ("token", msgpack.packb("w" * len(TOKEN)))])
    tracemalloc.start()
    try:
        envelope = read_envelope(memoryview(payload), token_needle(TOKEN))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert envelope.complete and envelope.get("token") == "w" * len(TOKEN)
    longest = min(len(payload), 1 << 20) if shape == "one string" else 100 * 1024 if shape.startswith("strings") else 0
    assert peak <= 2 * longest + 512 * 1024, (shape, len(payload), peak)


async def test_walks_beyond_the_first_are_served_in_turn() -> None:
    """One walk at a time goes off the loop; a second client's walk, and a client queueing more
    than MAX_QUEUED_BEHIND_WALK requests behind its own, are served as before (the loop waits):
    every request is still answered, each client's in order."""
    def request(request_id: str, pad: int = 0) -> bytes:
        body = msgpack.packb({"pad": [[]] * pad} if pad else {})
        return _request([("body", body), ("v", msgpack.packb(1)), ("type", msgpack.packb("status")),
                         ("id", msgpack.packb(request_id)), ("ts", msgpack.packb(1.0)),
                         ("token", msgpack.packb(TOKEN))])

    async with status_server(3) as (server, sockets):
        big = 2 * PREFIX_BYTES
        for n, socket in enumerate(sockets):
            await socket.send_multipart([b"", request(f"c{n}-walk", pad=big)])
            for i in range(MAX_QUEUED_BEHIND_WALK + 4):
                await socket.send_multipart([b"", request(f"c{n}-{i}")])
        for n, socket in enumerate(sockets):
            ids = []
            for _ in range(MAX_QUEUED_BEHIND_WALK + 5):
                reply = msgpack.unpackb((await asyncio.wait_for(socket.recv_multipart(), 30))[1], raw=False)
                assert reply["ok"] is True, reply
                ids.append(reply["id"])
            assert ids == [f"c{n}-walk"] + [f"c{n}-{i}" for i in range(MAX_QUEUED_BEHIND_WALK + 4)]
        assert server._waiting == {} and server._walks == {}
