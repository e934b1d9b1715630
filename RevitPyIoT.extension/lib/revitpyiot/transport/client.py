# -*- coding: utf-8 -*-
"""The extension's client of the sidecar: requests and live event subscriptions.

Requests follow the "lazy pirate" pattern: one DEALER connection carries the
REQ-compatible envelope ``[b"", payload]``; a request never waits longer than its
time-out, and after a time-out or a broken connection the connection is dropped,
so the next request dials afresh (a restarted sidecar just works, and late
replies to a timed-out request die with the old connection; replies whose ``id``
is not the current request's are discarded as well).

Subscriptions run on a daemon thread that only receives, checks the per-topic
``seq`` and calls back; a silent or lost publisher is re-dialled with back-off
and the caller is told (``on_gap(topic, "reconnect")``) so it can ask for a
``snapshot``: nothing the extension shows may silently go stale.

IronPython 2.7-safe; also runs under CPython 3 (tests, the headless demo).
"""
from __future__ import absolute_import

import io
import logging
import numbers
import os
import random
import select
import socket
import threading
import time
import uuid

from revitpyiot.transport import msgpack_codec, zmtp
from revitpyiot import protocol

__all__ = ["SidecarClient", "Subscription", "SidecarError", "SidecarTimeout", "SidecarUnavailable",
           "read_token"]

log = logging.getLogger("revitpyiot.transport.client")

# How long a request keeps re-dialling a refused endpoint before it reports the
# sidecar unavailable (a restarting sidecar comes back within this; a stopped
# one should not freeze Revit for the whole time-out).
CONNECT_RETRY_S = 1.0
# Poll period of the subscription thread: bounds how long stop() waits.
SUBSCRIPTION_POLL_S = 0.2
RECONNECT_BACKOFF_MIN_S = 0.1
RECONNECT_BACKOFF_MAX_S = 5.0


class SidecarError(Exception):
    """The sidecar answered with an error, or could not be reached.

    ``code`` is one of PROTOCOL.md's error codes (or ``timeout``/``unavailable``),
    ``message`` a human-readable sentence, ``details`` whatever the sidecar added.
    """

    default_code = "error"

    def __init__(self, message, code=None, details=None):
        Exception.__init__(self, message)
        self.message = message
        self.code = code if code is not None else self.default_code
        self.details = details


class SidecarTimeout(SidecarError):
    """No reply within the request's time-out."""

    default_code = "timeout"


class SidecarUnavailable(SidecarError):
    """Nothing listens on the command endpoint, or the sidecar was never started."""

    default_code = "unavailable"


def _text(value):
    if isinstance(value, (bytes, bytearray)) and not isinstance(value, type(u"")):
        return value.decode("utf-8", "replace")
    return value


def read_token(path=None):
    """The sidecar's access token from its token file (default location if ``path`` is None)."""
    path = path or protocol.default_token_path()
    if not os.path.isfile(path):
        raise SidecarUnavailable(
            "The RevitPyIoT sidecar has not been started yet (no token file at %s). "
            "Start it with `python -m sidecar serve` (or `revitpyiot-sidecar`) "
            "or from the RevitPyIoT tray icon, then try again." % path,
            details={"token_path": path})
    try:
        with io.open(path, "r", encoding="utf-8") as handle:
            token = handle.read().strip()
    except (IOError, OSError) as exc:
        raise SidecarUnavailable("cannot read the sidecar's token file %s: %s" % (path, exc),
                                 details={"token_path": path})
    if not token:
        raise SidecarUnavailable("the sidecar's token file %s is empty; restart the sidecar" % path,
                                 details={"token_path": path})
    return token


class SidecarClient(object):
    """Talks to the sidecar's command (ROUTER) and event (PUB) endpoints."""

    def __init__(self, command_endpoint=protocol.DEFAULT_COMMAND_ENDPOINT,
                 event_endpoint=protocol.DEFAULT_EVENT_ENDPOINT, token=None, timeout_s=5.0):
        zmtp.parse_tcp_endpoint(command_endpoint)  # fail early on a malformed endpoint
        zmtp.parse_tcp_endpoint(event_endpoint)
        self.command_endpoint = command_endpoint
        self.event_endpoint = event_endpoint
        self.timeout_s = float(timeout_s)
        self.token = token if token is not None else read_token()
        self._dealer = None
        self._lock = threading.Lock()
        self._id_prefix = uuid.uuid4().hex[:12]
        self._counter = 0
        self._subscriptions = []
        self._closed = False

    # -- requests --------------------------------------------------------
    def _next_id(self):
        self._counter += 1
        return "%s-%d" % (self._id_prefix, self._counter)

    def request(self, type, body=None, timeout_s=None):  # noqa: A002 - PROTOCOL.md's name
        """Send one request and return the reply's ``body``.

        Raises :class:`SidecarError` (with the sidecar's ``code``) for an error
        reply, :class:`SidecarTimeout` when no reply comes within ``timeout_s``
        (default: the client's), :class:`SidecarUnavailable` when nothing listens.
        """
        if self._closed:
            raise SidecarError("the client is closed", code="closed")
        timeout_s = self.timeout_s if timeout_s is None else float(timeout_s)
        deadline = time.time() + timeout_s
        self._acquire(deadline, type, timeout_s)
        try:
            request_id = self._next_id()
            payload = msgpack_codec.packb({
                "v": protocol.PROTOCOL_VERSION,
                "type": type,
                "id": request_id,
                "ts": time.time(),
                "token": self.token,
                "body": {} if body is None else body,
            })
            return self._exchange(type, request_id, payload, deadline, timeout_s)
        finally:
            self._lock.release()

    def _acquire(self, deadline, type_, timeout_s):
        # Another thread's request may hold the connection: wait for it, but
        # never past this request's own deadline (Lock.acquire has no time-out on 2.7).
        delay = 0.0005
        while not self._lock.acquire(False):
            if time.time() >= deadline:
                raise SidecarTimeout("request %r timed out after %.3g s waiting for another request"
                                     % (type_, timeout_s))
            time.sleep(delay)
            delay = min(delay * 2, 0.01)

    def _exchange(self, type_, request_id, payload, deadline, timeout_s):
        retried = False
        while True:
            reused = self._dealer is not None and self._dealer_is_alive()
            dealer = self._ensure_dealer(deadline)
            try:
                dealer.send_multipart([b"", payload], timeout_s=self._remaining(deadline, type_))
                return self._await_reply(dealer, type_, request_id, deadline)
            except zmtp.ZmtpTimeout:
                self._drop_dealer()
                raise SidecarTimeout("no reply to %r from %s within %.3g s"
                                     % (type_, self.command_endpoint, timeout_s))
            except zmtp.ZmtpClosed as exc:
                self._drop_dealer()
                # A connection that was open before this request may have been
                # to a sidecar that has since gone: dial once more.
                if reused and not retried and time.time() < deadline:
                    retried = True
                    continue
                raise SidecarUnavailable("lost the connection to the sidecar at %s: %s"
                                         % (self.command_endpoint, exc))
            except zmtp.ZmtpError as exc:
                self._drop_dealer()
                raise SidecarUnavailable("protocol error talking to %s: %s" % (self.command_endpoint, exc))

    def _await_reply(self, dealer, type_, request_id, deadline):
        while True:
            frames = dealer.recv_multipart(timeout_s=self._remaining(deadline, type_))
            if len(frames) != 2 or len(frames[0]) != 0:
                log.warning("discarding a reply that is not [b'', payload] (%d frames)", len(frames))
                continue
            try:
                reply = msgpack_codec.unpackb(frames[1])
            except ValueError as exc:
                log.warning("discarding an undecodable reply: %s", exc)
                continue
            if not isinstance(reply, dict):
                log.warning("discarding a reply that is not a map")
                continue
            reply_id = reply.get("id")
            if reply_id != request_id and not (reply_id is None and reply.get("ok") is False):
                # A late reply to an earlier request (or someone else's): not ours.
                log.debug("discarding reply with id %r while waiting for %r", reply_id, request_id)
                continue
            if reply.get("ok") is True:
                return reply.get("body")
            error = reply.get("error")
            if not isinstance(error, dict):
                error = {}
            raise SidecarError(_text(error.get("message")) or "the sidecar refused %r" % type_,
                               code=_text(error.get("code")) or "internal",
                               details=error.get("details"))

    def _remaining(self, deadline, type_):
        remaining = deadline - time.time()
        if remaining <= 0:
            raise zmtp.ZmtpTimeout("request %r timed out" % type_)
        return remaining

    def _dealer_is_alive(self):
        """False when the idle connection has been closed by the peer (e.g. sidecar restart)."""
        dealer = self._dealer
        try:
            readable, _, _ = select.select([dealer.fileno()], [], [], 0)
        except (zmtp.ZmtpError, socket.error, OSError, ValueError):
            self._drop_dealer()
            return False
        if readable or dealer.has_buffered_data():
            # Idle connection with something to read: EOF, an error, or a stray
            # late reply. Either way start clean.
            self._drop_dealer()
            return False
        return True

    def _ensure_dealer(self, deadline):
        if self._dealer is not None:
            return self._dealer
        connect_deadline = min(deadline, time.time() + CONNECT_RETRY_S)
        delay = 0.02
        while True:
            dealer = zmtp.DealerSocket(identity=b"", timeout_s=self.timeout_s)
            try:
                dealer.connect(self.command_endpoint, timeout_s=max(0.001, deadline - time.time()))
                self._dealer = dealer
                return dealer
            except zmtp.ZmtpTimeout:
                raise SidecarTimeout("connecting to the sidecar at %s timed out" % self.command_endpoint)
            except zmtp.ZmtpClosed as exc:
                now = time.time()
                if now + delay >= connect_deadline:
                    raise SidecarUnavailable(
                        "the sidecar is not running or not listening on %s (%s); start it with "
                        "`python -m sidecar serve` or from the RevitPyIoT tray icon"
                        % (self.command_endpoint, exc))
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
            except zmtp.ZmtpError as exc:
                raise SidecarUnavailable("the peer at %s is not a RevitPyIoT sidecar: %s"
                                         % (self.command_endpoint, exc))

    def _drop_dealer(self):
        dealer, self._dealer = self._dealer, None
        if dealer is not None:
            dealer.close()

    # -- events ----------------------------------------------------------
    def subscribe(self, topics, callback, on_gap=None, silence_s=None):
        """Deliver events whose topic starts with one of ``topics`` to ``callback(topic, event)``.

        ``on_gap(topic, reason)`` is called with ``"gap"`` when a topic's ``seq``
        jumps and with ``"reconnect"`` after the connection was re-established;
        the caller should then request a ``snapshot``. ``silence_s`` (default 3×
        the sidecar's status heartbeat) is how long a silent connection is
        trusted before it is re-dialled. Returns a started :class:`Subscription`.
        """
        if isinstance(topics, (str, bytes, bytearray)) or not isinstance(topics, (list, tuple, set)):
            topics = [topics]
        sub = Subscription(self.event_endpoint, [_text(t) for t in topics], callback, on_gap,
                           silence_s=silence_s, connect_timeout_s=min(self.timeout_s, 5.0))
        self._subscriptions.append(sub)
        sub.start()
        return sub

    def close(self):
        """Close the command connection and stop every subscription."""
        self._closed = True
        for sub in self._subscriptions:
            sub.stop(join=False)
        for sub in self._subscriptions:
            sub.join(2.0)
        self._subscriptions = []
        with self._lock:
            self._drop_dealer()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


class Subscription(object):
    """A background thread receiving events from the sidecar's PUB endpoint."""

    def __init__(self, endpoint, topics, callback, on_gap=None, silence_s=None,
                 connect_timeout_s=2.0, poll_s=SUBSCRIPTION_POLL_S):
        self.endpoint = endpoint
        self.topics = list(topics)
        self.callback = callback
        self.on_gap = on_gap
        self.silence_s = 3 * protocol.STATUS_HEARTBEAT_S if silence_s is None else float(silence_s)
        self.connect_timeout_s = connect_timeout_s
        self.poll_s = poll_s
        self.connected = threading.Event()
        self.reconnects = 0
        self._stop = threading.Event()
        self._sub = None
        self._last_seq = {}
        self._thread = threading.Thread(target=self._run, name="revitpyiot-events")
        self._thread.daemon = True

    def start(self):
        self._thread.start()

    def stop(self, join=True, timeout_s=2.0):
        """Ask the thread to end; by default wait (briefly) until it has."""
        self._stop.set()
        if join:
            self.join(timeout_s)

    def join(self, timeout_s=None):
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout_s)

    @property
    def alive(self):
        return self._thread.is_alive()

    # -- thread ------------------------------------------------------------
    def _wanted(self, topic):
        for prefix in self.topics:
            if topic.startswith(prefix):
                return True
        return False

    def _connect(self):
        sub = zmtp.SubSocket(timeout_s=self.connect_timeout_s)
        for prefix in self.topics:
            sub.subscribe(prefix.encode("utf-8"))
        if not self._wanted(protocol.TOPIC_STATUS):
            # The status heartbeat proves the connection is alive even when the
            # caller does not want status events (they are filtered out below).
            sub.subscribe(protocol.TOPIC_STATUS.encode("ascii"))
        sub.connect(self.endpoint, timeout_s=self.connect_timeout_s)
        return sub

    def _drop(self):
        sub, self._sub = self._sub, None
        self.connected.clear()
        if sub is not None:
            sub.close()

    def _run(self):
        backoff = RECONNECT_BACKOFF_MIN_S
        ever_connected = False
        last_rx = 0.0
        try:
            while not self._stop.is_set():
                if self._sub is None:
                    try:
                        self._sub = self._connect()
                    except (zmtp.ZmtpError, socket.error, OSError) as exc:
                        log.debug("event endpoint %s not reachable: %s", self.endpoint, exc)
                        self._stop.wait(backoff * (0.75 + 0.5 * random.random()))
                        backoff = min(backoff * 2, RECONNECT_BACKOFF_MAX_S)
                        continue
                    backoff = RECONNECT_BACKOFF_MIN_S
                    last_rx = time.time()
                    self._last_seq = {}
                    self.connected.set()
                    if ever_connected:
                        self.reconnects += 1
                        for prefix in self.topics:
                            self._call(self.on_gap, prefix, "reconnect")
                    ever_connected = True
                try:
                    frames = self._sub.recv_multipart(timeout_s=self.poll_s)
                except zmtp.ZmtpTimeout:
                    if time.time() - last_rx > self.silence_s:
                        log.warning("no events (not even the status heartbeat) from %s for %.1f s: "
                                    "reconnecting", self.endpoint, self.silence_s)
                        self._drop()
                    continue
                except (zmtp.ZmtpError, socket.error, OSError) as exc:
                    log.warning("event connection to %s lost: %s", self.endpoint, exc)
                    self._drop()
                    continue
                last_rx = time.time()
                self._dispatch(frames)
        except Exception:  # pragma: no cover - last line of defence, never die silently
            log.exception("event thread for %s crashed", self.endpoint)
        finally:
            self._drop()

    def _dispatch(self, frames):
        if len(frames) != 2:
            log.warning("discarding an event of %d frames (expected [topic, payload])", len(frames))
            return
        topic = frames[0].decode("utf-8", "replace")
        try:
            event = msgpack_codec.unpackb(frames[1])
        except ValueError as exc:
            log.warning("discarding an undecodable %r event: %s", topic, exc)
            return
        if not isinstance(event, dict):
            log.warning("discarding a %r event that is not a map", topic)
            return
        seq = event.get("seq")
        if isinstance(seq, numbers.Integral) and not isinstance(seq, bool):
            last = self._last_seq.get(topic)
            self._last_seq[topic] = seq
            if last is not None and seq != last + 1 and self._wanted(topic):
                # Skipped numbers: events were lost (PUB high-water mark). Going
                # backwards: the publisher restarted. Both mean stale state.
                self._call(self.on_gap, topic, "gap")
        if self._wanted(topic):
            self._call(self.callback, topic, event)

    def _call(self, fn, *args):
        if fn is None:
            return
        try:
            fn(*args)
        except Exception:
            log.exception("subscription callback %r failed", fn)
