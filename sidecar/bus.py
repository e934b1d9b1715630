"""The sidecar's two ZeroMQ endpoints: ``CommandServer`` (ROUTER) and ``EventPublisher`` (PUB).

Command checks run in this order, each with its PROTOCOL.md error code: frames larger than
``max_payload_bytes`` (counted before decoding) -> too_large; anything but ``[b"", payload]``
-> bad_request; not msgpack / not a map -> bad_request (``id`` nil); ``v`` missing or
unsupported -> unsupported_version; unknown ``type`` -> unknown_type; bad or missing token ->
unauthorized; body not decodable or nested too deep -> bad_request; schema-invalid ->
bad_request naming the field; a handler's exception -> internal. Every reply is ``[b"", payload]``
to the requesting identity.

Nothing is decoded before the token check but the envelope (``sidecar.envelope``): a request
without the token costs one 64 KiB chunk of memory and about 2 ns per msgpack item skipped to
reach its envelope keys, never a Python object per item. The "not msgpack" check before the
token covers the request map up to its last envelope key; the rest is decoded after it.

Socket options, on purpose:
- ROUTER_MANDATORY off (default): a reply to a client that vanished is dropped, never an error.
- LINGER 0 on the ROUTER (replies to gone clients are worthless at shutdown), 500 ms on the PUB
  (lets the final ``status`` event leave).
- ROUTER SNDHWM/RCVHWM ``command_hwm`` per peer: a client that floods requests is throttled by
  TCP back-pressure instead of growing the sidecar's memory.
- MAXMSGSIZE = twice the payload limit (+1 MiB): a client sending far beyond the limit is
  disconnected by libzmq before the frame is buffered; anything up to that gets ``too_large``.
- PUB SNDHWM ``event_sndhwm`` (default 10,000): beyond it events for that subscriber are
  dropped; per-topic ``seq`` lets the subscriber see the gap and ask for a ``snapshot``.
"""
from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import msgpack
import zmq
import zmq.asyncio

from shared_schemas import protocol
from sidecar.envelope import (
    DECODE_ERRORS,
    PREFIX_BYTES,
    Envelope,
    EnvelopeError,
    NestingError,
    decode_request,
    read_envelope,
    token_needle,
)
from sidecar.errors import RequestError
from sidecar.security import token_matches

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
Validator = Callable[[dict[str, Any]], None]
# The reply `type` when the request had none we could read (undecodable, or not a string).
UNKNOWN_REQUEST_TYPE: str | None = None
EMPTY = b""
# Decoding a big request allocates one list per reading; the cyclic garbage collector would
# rescan them several times while they are alive (x3 on a 100k-reading ingest), though they
# hold no cycles and die by reference counting when the reply is sent. Larger payloads are
# therefore handled with the collector paused.
GC_PAUSE_BYTES = 256 * 1024
# Requests a client may queue behind its own request whose envelope is walked off the loop.
MAX_QUEUED_BEHIND_WALK = 8


def bound_endpoint(socket: zmq.Socket[Any]) -> str:
    """The endpoint actually bound (resolves ``tcp://127.0.0.1:*``)."""
    endpoint = socket.getsockopt(zmq.LAST_ENDPOINT)
    return endpoint.decode() if isinstance(endpoint, bytes) else str(endpoint)


class CommandServer:
    def __init__(self, context: zmq.asyncio.Context, endpoint: str, token: str,
                 handlers: Mapping[str, Handler], validate: Validator,
                 max_payload_bytes: int = protocol.DEFAULT_MAX_PAYLOAD_BYTES, hwm: int = 1000):
        self.token = token
        self.handlers = handlers
        self.validate = validate
        self.max_payload_bytes = max_payload_bytes
        self._token_needle = token_needle(token)
        self.socket = context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.socket.setsockopt(zmq.SNDHWM, hwm)
        self.socket.setsockopt(zmq.RCVHWM, hwm)
        self.socket.setsockopt(zmq.MAXMSGSIZE, 2 * max_payload_bytes + (1 << 20))
        self.socket.setsockopt(zmq.TCP_KEEPALIVE, 1)
        self.socket.bind(endpoint)
        self.endpoint = bound_endpoint(self.socket)
        self.requests_served = 0
        # Clients with a request whose envelope is being read in a worker thread: their later
        # requests, in arrival order.
        self._waiting: dict[bytes, deque[list[zmq.Frame]]] = {}
        self._walks: dict[bytes, asyncio.Task[None]] = {}

    async def serve(self) -> None:
        """Answer requests until cancelled. Requests are handled one at a time, in arrival
        order; handlers are quick (heavy work belongs in an executor).

        One exception keeps a crafted request from stalling everyone: a payload over 1 MiB
        whose envelope keys are not all in its first MiB needs its whole map walked (~2 ns per
        item, 0.15-0.4 s for 64 MiB). One such walk at a time runs in a worker thread; meanwhile
        other clients are served, and the same client's later requests wait for it, in order
        (while a walk is running, a second one, or a client queueing more than
        ``MAX_QUEUED_BEHIND_WALK`` requests or ``max_payload_bytes`` behind its own, is handled
        as before: the loop waits, so memory stays bounded)."""
        try:
            while True:
                frames = await self.socket.recv_multipart(copy=False)
                identity = frames[0].bytes
                walk = self._walks.get(identity)
                if walk is not None:
                    waiting = self._waiting[identity]
                    waiting.append(frames)
                    if (len(waiting) > MAX_QUEUED_BEHIND_WALK
                            or sum(len(f[-1]) for f in waiting) > self.max_payload_bytes):
                        await asyncio.wait({walk})  # the loop waits, as it did for every request before
                elif not self._walks and self._needs_long_scan(frames):
                    self._waiting[identity] = deque([frames])
                    task = asyncio.create_task(self._serve_off_loop(identity))
                    self._walks[identity] = task
                else:
                    await self._answer(frames)
        finally:
            for task in list(self._walks.values()):
                task.cancel()

    def _needs_long_scan(self, frames: list[zmq.Frame]) -> bool:
        if len(frames) != 3 or len(frames[1]) != 0 or not PREFIX_BYTES < len(frames[2]) <= self.max_payload_bytes:
            return False
        try:
            return not read_envelope(frames[2].buffer, prefix_only=True).complete
        except Exception:  # noqa: BLE001 - EnvelopeError (or worse): process() answers it, on the loop
            return False

    async def _serve_off_loop(self, identity: bytes) -> None:
        """Answer one client's queued requests in order, walking long maps in a thread."""
        queue = self._waiting[identity]
        try:
            while queue:
                frames = queue[0]
                try:
                    scanned: Envelope | EnvelopeError | None = None
                    if self._needs_long_scan(frames):
                        scanned = await asyncio.to_thread(self._scan_whole, frames[2].buffer)
                    await self._answer(frames, scanned)
                except Exception:  # e.g. MemoryError in the thread: the client's next request still gets its turn
                    log.exception("could not build a reply")
                finally:
                    queue.popleft()
        finally:
            del self._waiting[identity]
            del self._walks[identity]

    def _scan_whole(self, payload: memoryview) -> Envelope | EnvelopeError:
        try:
            return read_envelope(payload, self._token_needle)
        except EnvelopeError as error:
            return error

    async def _answer(self, frames: list[zmq.Frame], scanned: Envelope | EnvelopeError | None = None) -> None:
        pause_gc = len(frames[-1]) > GC_PAUSE_BYTES and gc.isenabled()
        if pause_gc:
            gc.disable()
        try:
            reply = await self.process(frames[1:], scanned)
        except asyncio.CancelledError:
            raise
        except Exception:  # the last line of defence: never stop serving
            log.exception("could not build a reply")
            return
        finally:
            if pause_gc:
                gc.enable()
        self.requests_served += 1
        try:
            await self.socket.send_multipart([frames[0], EMPTY, reply], copy=False)
        except zmq.ZMQError as error:  # e.g. the peer is gone and its pipe closed
            log.debug("reply not sent: %s", error)

    async def process(self, frames: list[zmq.Frame], scanned: Envelope | EnvelopeError | None = None) -> bytes:
        """One request's frames (identity removed) -> the reply payload. ``scanned``: the
        envelope (or its error) when it was already read off the loop."""
        size = sum(len(frame) for frame in frames)
        if size > self.max_payload_bytes:
            return self._error(None, UNKNOWN_REQUEST_TYPE, RequestError(
                protocol.E_TOO_LARGE, f"request of {size} bytes exceeds the limit of "
                f"{self.max_payload_bytes} bytes", {"size": size, "limit": self.max_payload_bytes}))
        structure = None
        if len(frames) != 2:
            structure = f"expected 2 frames [empty delimiter, payload], got {len(frames)}"
        elif len(frames[0]) != 0:
            structure = "the first frame must be the empty delimiter"
        payload = frames[-1].buffer
        try:
            if isinstance(scanned, EnvelopeError):
                raise scanned
            envelope = scanned if scanned is not None else read_envelope(payload, self._token_needle)
        except EnvelopeError as error:
            reason = structure or str(error)
            return self._error(None, UNKNOWN_REQUEST_TYPE, RequestError(protocol.E_BAD_REQUEST, reason, {"field": None}))
        request_id = envelope.get("id")
        request_id = request_id if isinstance(request_id, str) else None
        kind = envelope.get("type")
        reply_type = kind if isinstance(kind, str) else UNKNOWN_REQUEST_TYPE
        if structure:
            return self._error(request_id, reply_type, RequestError(protocol.E_BAD_REQUEST, structure, {"field": None}))
        # A large request whose body comes before its envelope keys and that cannot carry the
        # token was scanned in part (envelope.complete False): keys it did not reach are not
        # judged, it gets `unauthorized`.
        version = envelope.get("v")
        if (envelope.complete or "v" in envelope) and (
                isinstance(version, bool) or version not in protocol.SUPPORTED_VERSIONS):
            what = "missing" if "v" not in envelope else f"{version!r} is not supported"
            return self._error(request_id, reply_type, RequestError(
                protocol.E_UNSUPPORTED_VERSION, f"protocol version {what}; this sidecar speaks "
                f"{', '.join(map(str, protocol.SUPPORTED_VERSIONS))}",
                {"supported": list(protocol.SUPPORTED_VERSIONS)}))
        handler = self.handlers.get(kind) if isinstance(kind, str) else None
        if handler is None and (envelope.complete or "type" in envelope):
            return self._error(request_id, reply_type, RequestError(
                protocol.E_UNKNOWN_TYPE, f"unknown request type {kind!r}", {"known": sorted(self.handlers)}))
        if handler is None or not token_matches(envelope.get("token"), self.token):
            what = "missing" if envelope.get("token") is None else "wrong"
            return self._error(request_id, reply_type, RequestError(
                protocol.E_UNAUTHORIZED, f"{what} access token: read it from the sidecar's token file", None))
        # Only now, for a sender holding the token, is the body decoded.
        try:
            message = decode_request(payload, self.max_payload_bytes)
        except NestingError as error:
            return self._error(request_id, reply_type, RequestError(protocol.E_BAD_REQUEST, str(error), {"field": "body"}))
        except DECODE_ERRORS as error:
            return self._error(request_id, reply_type, RequestError(
                protocol.E_BAD_REQUEST, f"payload is not valid msgpack ({type(error).__name__}: {error})", {"field": None}))
        request_id = message.get("id") if isinstance(message.get("id"), str) else None  # even one over 4 KiB
        if any(message.get(key) != envelope.get(key) for key in ("v", "type", "token")):
            return self._error(request_id, reply_type, RequestError(
                protocol.E_BAD_REQUEST, "the request map repeats an envelope key (v, type or token)", {"field": None}))
        try:
            self.validate(message)
            body = await handler(message)
        except RequestError as error:
            return self._error(request_id, reply_type, error)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.exception("%s request %s failed", kind, request_id)
            return self._error(request_id, reply_type, RequestError(
                protocol.E_INTERNAL, f"internal error while handling {kind}: {type(error).__name__}", None))
        return msgpack.packb({"v": protocol.PROTOCOL_VERSION, "type": kind, "id": request_id, "ts": time.time(),
                              "ok": True, "body": body}, use_bin_type=True)

    def _error(self, request_id: str | None, kind: str | None, error: RequestError) -> bytes:
        log.debug("reply %s to %s %s: %s", error.code, kind, request_id, error.message)
        return msgpack.packb({"v": protocol.PROTOCOL_VERSION, "type": kind, "id": request_id, "ts": time.time(),
                              "ok": False, "body": {}, "error": error.to_wire()}, use_bin_type=True)

    def close(self) -> None:
        self.socket.close(linger=0)


class EventPublisher:
    """PUB socket with a per-topic ``seq`` (1, 2, 3, ... from start). ``publish`` is
    synchronous and never blocks: the socket comes from a plain (non-asyncio) shadow of the
    asyncio context, and PUB drops rather than waits when a subscriber is full."""

    def __init__(self, context: zmq.Context[Any], endpoint: str, sndhwm: int = 10_000):
        self.socket = context.socket(zmq.PUB)
        self.socket.setsockopt(zmq.SNDHWM, sndhwm)
        self.socket.setsockopt(zmq.LINGER, 500)
        self.socket.bind(endpoint)
        self.endpoint = bound_endpoint(self.socket)
        self._seq: dict[str, int] = {}
        self._boot = f"{int(time.time() * 1000):x}-{os.getpid():x}"
        self._ids = itertools.count(1)
        self.published = 0

    def publish(self, topic: str, body: Any) -> int:
        seq = self._seq.get(topic, 0) + 1
        self._seq[topic] = seq
        payload = msgpack.packb({"v": protocol.PROTOCOL_VERSION, "type": topic, "id": f"E{self._boot}-{next(self._ids)}",
                                 "ts": time.time(), "seq": seq, "body": body}, use_bin_type=True)
        try:
            self.socket.send_multipart([topic.encode("ascii"), payload], flags=zmq.NOBLOCK)
        except zmq.ZMQError as error:  # PUB does not raise EAGAIN; anything else is logged
            log.warning("event %s #%d not sent: %s", topic, seq, error)
        self.published += 1
        return seq

    def close(self) -> None:
        self.socket.close()
