"""The CPython request client of the sidecar's command endpoint (PROTOCOL.md "Transport").

One pyzmq DEALER carries the REQ-compatible envelope ``[b"", payload]``, one request at a
time (thread-safe). A request never waits longer than its time-out; after a time-out the
socket is closed and the next request dials afresh ("lazy pirate"): a late reply dies with
the old socket, and a restarted sidecar just works. With ``retries`` a timed-out request is
sent again on a fresh socket that many times before giving up (only for requests that are
safe to repeat: ``ingest`` is not).

Errors are typed: ``SidecarError`` for an error reply (``code`` is PROTOCOL.md's),
``SidecarTimeout`` (also a ``TimeoutError``) when no reply came. The extension has its own
IronPython client (``revitpyiot.client``) with the same error names.

    >>> client = RequestClient("tcp://127.0.0.1:5570", token, timeout_s=5.0)  # doctest: +SKIP
    >>> client.request("status")["state"]                                      # doctest: +SKIP
    'idle'
"""
from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Self

import msgpack
import zmq

from shared_schemas import protocol

__all__ = ["RequestClient", "SidecarError", "SidecarTimeout", "pack"]


class SidecarError(Exception):
    """The sidecar answered with an error reply (or could not be asked: ``code`` says which)."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.details = code, message, details


class SidecarTimeout(SidecarError, TimeoutError):
    """No reply within the request's time-out (the sidecar is not running, or is busy)."""

    def __init__(self, message: str) -> None:
        super().__init__("timeout", message)

    def __str__(self) -> str:
        return self.message


def pack(message: Mapping[str, Any]) -> bytes:
    """One msgpack payload (strings as ``str``, byte strings as ``bin``, as the protocol says)."""
    return msgpack.packb(dict(message), use_bin_type=True)


class RequestClient:
    """Requests to the sidecar's command endpoint; see the module docstring."""

    def __init__(self, endpoint: str, token: str = "", *, timeout_s: float = 5.0, retries: int = 0,
                 context: zmq.Context[Any] | None = None) -> None:
        self.endpoint = endpoint
        self.token = token          # may be set later (the tray reads the token file once it exists)
        self.timeout_s = timeout_s
        self.retries = retries
        self._context = context or zmq.Context.instance()
        self._lock = threading.Lock()
        self._socket: zmq.Socket[Any] | None = None
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:12]

    # ----- the usual call -----
    def request(self, type: str, body: Any = None, *, timeout_s: float | None = None) -> dict[str, Any]:
        """The reply body of one request; raises ``SidecarError`` for an error reply and
        ``SidecarTimeout`` when none came."""
        message = self.envelope(type, body)
        reply = self.exchange(pack(message), message["id"], timeout_s=timeout_s, what=repr(type))
        if reply.get("ok") is not True:
            error = reply.get("error")
            error = error if isinstance(error, dict) else {}
            raise SidecarError(str(error.get("code") or "internal"),
                               str(error.get("message") or f"the sidecar refused {type!r}"), error.get("details"))
        reply_body = reply.get("body")
        return reply_body if isinstance(reply_body, dict) else {}

    def envelope(self, type: str, body: Any = None) -> dict[str, Any]:
        """A request map with a fresh id, this client's token and the time."""
        return {"v": protocol.PROTOCOL_VERSION, "type": type, "id": f"{self._id_prefix}-{next(self._ids)}",
                "ts": time.time(), "token": self.token, "body": {} if body is None else body}

    # ----- lower levels: a packed payload, its whole reply -----
    def exchange(self, payload: bytes, request_id: Any = None, *, timeout_s: float | None = None,
                 what: str = "the request") -> dict[str, Any]:
        """Send ``payload`` and return the whole reply map (``ok`` true or false).

        Replies are matched on ``request_id``; an error reply with a nil id (a request that
        could not be decoded) is ours as well, and with ``request_id=None`` the first reply
        is. Raises ``SidecarTimeout`` after ``retries + 1`` time-outs."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        with self._lock:
            for _attempt in range(self.retries + 1):
                sock = self._connect()
                sock.send_multipart([b"", payload])
                reply = self._await_reply(sock, request_id, time.monotonic() + timeout)
                if reply is not None:
                    return reply
                self._reset()  # lazy pirate: a late reply must not be taken for the next request's
        raise SidecarTimeout(f"the sidecar at {self.endpoint} did not answer {what} within {timeout:g} s"
                             + (f" ({self.retries + 1} tries)" if self.retries else ""))

    def send(self, payload: bytes) -> None:
        """Send without waiting; ``receive`` gets the reply. For callers that act between the
        two (a benchmark stamps the event its request causes). Not thread-safe with ``request``."""
        self._connect().send_multipart([b"", payload])

    def receive(self, request_id: Any = None, *, timeout_s: float | None = None) -> dict[str, Any]:
        """The reply to what ``send`` sent (the whole map); ``SidecarTimeout`` when none came."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        reply = self._await_reply(self._connect(), request_id, time.monotonic() + timeout)
        if reply is None:
            self._reset()
            raise SidecarTimeout(f"the sidecar at {self.endpoint} did not answer within {timeout:g} s")
        return reply

    def close(self) -> None:
        with self._lock:
            self._reset()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- internals -----
    def _await_reply(self, sock: zmq.Socket[Any], request_id: Any, deadline: float) -> dict[str, Any] | None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not sock.poll(max(1, int(remaining * 1000))):
                return None
            frames = sock.recv_multipart()
            try:
                reply = msgpack.unpackb(frames[-1], raw=False)
            except (ValueError, msgpack.UnpackException):
                continue
            if not isinstance(reply, dict):
                continue
            reply_id = reply.get("id")
            if request_id is None or reply_id == request_id or (reply_id is None and reply.get("ok") is False):
                return reply
            # a late reply to an earlier request on this socket: not ours

    def _connect(self) -> zmq.Socket[Any]:
        if self._socket is None:
            sock = self._context.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.connect(self.endpoint)
            self._socket = sock
        return self._socket

    def _reset(self) -> None:
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None
