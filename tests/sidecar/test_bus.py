"""CommandServer and EventPublisher in-process, over real ZeroMQ sockets."""
from __future__ import annotations

import asyncio
from typing import Any

import msgpack
import zmq
import zmq.asyncio
from support.protocol_client import envelope

from sidecar.bus import CommandServer, EventPublisher
from sidecar.errors import RequestError
from sidecar.validation import validate_request

TOKEN = "t" * 43


async def _exchange(context: zmq.asyncio.Context, endpoint: str, message: dict[str, Any]) -> dict[str, Any]:
    socket = context.socket(zmq.REQ)
    socket.setsockopt(zmq.LINGER, 0)
    socket.connect(endpoint)
    await socket.send(msgpack.packb(message))
    reply: dict[str, Any] = msgpack.unpackb(await asyncio.wait_for(socket.recv(), 10))
    socket.close()
    return reply


async def test_handler_exception_is_internal_and_server_keeps_serving() -> None:
    calls = []

    async def broken(message: dict[str, Any]) -> dict[str, Any]:
        calls.append(message["id"])
        raise ZeroDivisionError("boom")

    async def conflict(message: dict[str, Any]) -> dict[str, Any]:
        raise RequestError("conflict", "not now", {"state": "idle"})

    async def fine(message: dict[str, Any]) -> dict[str, Any]:
        return {"state": "idle", "sensors": 0, "readings_per_s": 0.0, "active_alerts": 0, "uptime_s": 1.0,
                "sources": {}}

    context = zmq.asyncio.Context()
    server = CommandServer(context, "tcp://127.0.0.1:*", TOKEN, {"hello": broken, "start": conflict, "status": fine},
                           validate_request)
    serving = asyncio.create_task(server.serve())
    try:
        reply = await _exchange(context, server.endpoint, envelope(
            "hello", {"client": "c", "client_version": "1", "protocols": [1]}, TOKEN))
        assert reply["ok"] is False and reply["error"]["code"] == "internal"
        assert "ZeroDivisionError" in reply["error"]["message"] and reply["id"] == calls[0]
        reply = await _exchange(context, server.endpoint, envelope("start", {}, TOKEN))
        assert reply["error"] == {"code": "conflict", "message": "not now", "details": {"state": "idle"}}
        reply = await _exchange(context, server.endpoint, envelope("status", {}, TOKEN))
        assert reply["ok"] is True and reply["body"]["state"] == "idle"
        assert server.requests_served == 3
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        server.close()
        context.term()


def test_publisher_seq_starts_at_one_per_topic() -> None:
    context: zmq.Context[Any] = zmq.Context()
    publisher = EventPublisher(context, "tcp://127.0.0.1:*", sndhwm=10_000)
    subscriber = context.socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"")
    subscriber.connect(publisher.endpoint)
    try:
        assert publisher.socket.getsockopt(zmq.SNDHWM) == 10_000
        # Wait for the subscription to reach the publisher (a PUB drops until then).
        while not subscriber.poll(50):
            publisher.publish("warmup", {})
        while subscriber.poll(50):
            subscriber.recv_multipart()
        assert [publisher.publish("alert", {"n": i}) for i in range(3)] == [1, 2, 3]
        assert publisher.publish("health", {"items": []}) == 1
        received = [subscriber.recv_multipart() for _ in range(4)]
        decoded = [(topic.decode(), msgpack.unpackb(payload)) for topic, payload in received]
        assert [(t, e["seq"]) for t, e in decoded] == [("alert", 1), ("alert", 2), ("alert", 3), ("health", 1)]
        assert all(e["type"] == t and e["v"] == 1 for t, e in decoded)
        assert len({e["id"] for _, e in decoded}) == 4
    finally:
        subscriber.close(0)
        publisher.close()
        context.term()
