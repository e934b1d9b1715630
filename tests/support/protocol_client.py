"""A client of the sidecar for tests: requests through the sidecar's own request client
(``sidecar.client.requests``, a pyzmq DEALER), plus what only tests need: envelopes with any
key changed or left out, raw payloads and frames, and a SUB listener that keeps every event.
(``tests/sidecar/test_third_party.py`` keeps a client written from PROTOCOL.md alone.)"""
from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import Any

import msgpack
import zmq

from sidecar.client.requests import RequestClient, pack

_ids = itertools.count(1)


def envelope(kind: Any, body: Any, access_token: str | None, **overrides: Any) -> dict[str, Any]:
    message = {"v": 1, "type": kind, "id": f"t-{next(_ids)}", "ts": time.time(), "token": access_token, "body": body}
    message.update(overrides)
    return {k: v for k, v in message.items() if v is not _DROP}


_DROP = object()
DROP = _DROP  # pass as an override value to leave a key out


class CommandClient:
    """One request, one reply: the whole reply map, error replies included."""

    def __init__(self, endpoint: str, token: str, context: zmq.Context[Any] | None = None, timeout_ms: int = 10_000):
        self.requests = RequestClient(endpoint, token, timeout_s=timeout_ms / 1000, context=context)
        self.token = token

    def send_raw(self, payload: bytes) -> dict[str, Any]:
        return self.requests.exchange(payload)

    def request(self, kind: Any, body: Any = None, **overrides: Any) -> dict[str, Any]:
        message = envelope(kind, {} if body is None else body, self.token, **overrides)
        reply = self.requests.exchange(pack(message), message.get("id"))
        if "id" in message and isinstance(message["id"], str) and reply.get("ok"):
            assert reply["id"] == message["id"]
        return reply

    def call(self, kind: str, body: Any = None) -> dict[str, Any]:
        """The reply body of a request that must succeed."""
        reply = self.request(kind, body)
        assert reply["ok"] is True, reply
        result: dict[str, Any] = reply["body"]
        return result

    def close(self) -> None:
        self.requests.close()


class DealerClient:
    """DEALER client for sending arbitrary frames (what a REQ socket cannot do)."""

    def __init__(self, endpoint: str, context: zmq.Context[Any] | None = None, timeout_ms: int = 10_000):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVTIMEO, timeout_ms)
        self.socket.connect(endpoint)

    def exchange(self, frames: list[bytes]) -> list[bytes]:
        self.socket.send_multipart(frames)
        return self.socket.recv_multipart()

    def close(self) -> None:
        self.socket.close(0)


class EventListener:
    """SUB client that keeps every event it receives, per topic, in arrival order."""

    def __init__(self, endpoint: str, topics: tuple[str, ...] = ("",), context: zmq.Context[Any] | None = None):
        self.context = context or zmq.Context.instance()
        self.socket = self.context.socket(zmq.SUB)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.RCVHWM, 0)
        for topic in topics:
            self.socket.setsockopt(zmq.SUBSCRIBE, topic.encode())
        self.socket.connect(endpoint)
        self.events: list[tuple[str, dict[str, Any]]] = []

    def settle(self, client: CommandClient, timeout_s: float = 10.0) -> None:
        """Wait until the subscription is live (a SUB joins late): poll until a status event
        arrives, nudging with status requests."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            client.call("status")
            if self.poll(0.2, lambda topic, m: topic == "status") is not None:
                return
        raise AssertionError("no status event arrived: subscription never became live")

    def _receive(self, timeout_s: float) -> tuple[str, dict[str, Any]] | None:
        if not self.socket.poll(max(0, int(timeout_s * 1000))):
            return None
        topic, payload = self.socket.recv_multipart()
        event = (topic.decode("ascii"), msgpack.unpackb(payload, raw=False))
        self.events.append(event)
        return event

    def poll(self, timeout_s: float, predicate: Callable[[str, dict[str, Any]], bool]) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while True:
            event = self._receive(max(0.0, deadline - time.monotonic()))
            if event is not None and predicate(*event):
                return event[1]
            if time.monotonic() >= deadline:
                return None

    def wait_for(self, predicate: Callable[[str, dict[str, Any]], bool], timeout_s: float = 15.0,
                 what: str = "event", include_seen: bool = False) -> dict[str, Any]:
        """The next event matching ``predicate`` (or, with ``include_seen``, the first one
        already received)."""
        if include_seen:
            for topic, seen_event in self.events:
                if predicate(topic, seen_event):
                    return seen_event
        event = self.poll(timeout_s, predicate)
        if event is None:
            seen = [(t, e.get("body")) for t, e in self.events[-10:]]
            raise AssertionError(f"no {what} within {timeout_s} s; last events: {seen}")
        return event

    def of(self, topic: str) -> list[dict[str, Any]]:
        return [event for t, event in self.events if t == topic]

    def close(self) -> None:
        self.socket.close(0)


def alert_event(state: str | None = None, severity: str | None = None,
                sensor_id: str | None = None) -> Callable[[str, dict[str, Any]], bool]:
    def match(topic: str, event: dict[str, Any]) -> bool:
        body = event.get("body", {})
        return (topic == "alert" and (state is None or body.get("state") == state)
                and (severity is None or body.get("severity") == severity)
                and (sensor_id is None or body.get("sensor_id") == sensor_id))
    return match


def health_event(unique_id: str, status: str) -> Callable[[str, dict[str, Any]], bool]:
    def match(topic: str, event: dict[str, Any]) -> bool:
        return topic == "health" and any(item["unique_id"] == unique_id and item["status"] == status
                                         for item in event["body"]["items"])
    return match
