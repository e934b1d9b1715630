# -*- coding: utf-8 -*-
"""ZMTP 3.x client sockets (DEALER and SUB) over the standard ``socket`` module.

pyRevit's IronPython cannot load pyzmq (a C extension), so the extension speaks
the ZeroMQ wire protocol itself: RFC 23 (ZMTP 3.0) with the 3.1 additions it
needs (PING/PONG, optional SUBSCRIBE/CANCEL commands). Only what a client of the
sidecar uses is here: one TCP connection per socket, the NULL mechanism, no
reconnection inside the socket (the caller decides; see ``client.py``).

Wire summary (all integers big-endian):
- greeting, 64 bytes: ``FF 00*8 7F``, version ``03 xx``, mechanism "NULL" padded
  to 20 bytes, as-server 0, 31 filler bytes;
- NULL handshake: each side sends a READY command carrying metadata properties
  (``Socket-Type``, ``Identity``) and checks the peer's socket type;
- frames: flags (bit 0 MORE, bit 1 LONG, bit 2 COMMAND), size (1 byte, or 8
  bytes when LONG), body. A message is one or more frames, all but the last with
  MORE set.

Speed notes (the request round trip must stay close to libzmq's): TCP_NODELAY
is set, a whole multipart message goes out in one ``sendall``, and the receive
side reads large chunks into a buffer and parses frames out of it with offsets.
"""
from __future__ import absolute_import

import errno
import socket
import struct
import sys
import time

__all__ = ["ZmtpError", "ZmtpTimeout", "ZmtpClosed", "ZmtpProtocolError",
           "DealerSocket", "SubSocket", "parse_tcp_endpoint"]

PY2 = sys.version_info[0] == 2

FLAG_MORE = 0x01
FLAG_LONG = 0x02
FLAG_COMMAND = 0x04

MECHANISM_NULL = b"NULL"
# Below glibc's mmap threshold: a bigger recv() buffer would be mapped and unmapped per call.
_RECV_CHUNK = 65536
_MAX_FRAME = 1 << 31  # refuse absurd frame sizes instead of trying to buffer them

_U64 = struct.Struct(">Q")
_U32 = struct.Struct(">I")

# Which peer socket types each of our socket types may talk to (RFC 23 / 28 / 29).
_VALID_PEERS = {
    "DEALER": ("ROUTER", "DEALER", "REP"),
    "SUB": ("PUB", "XPUB"),
}

try:
    _TimeoutError = socket.timeout
except AttributeError:  # pragma: no cover
    _TimeoutError = OSError


class ZmtpError(Exception):
    """A ZMTP connection failed: protocol violation, closed peer, time-out, ..."""


class ZmtpTimeout(ZmtpError):
    """Nothing (or not enough) arrived, or could be sent, within the time-out."""


class ZmtpClosed(ZmtpError):
    """The connection is closed (by the peer, by ``close()``, or by a network error)."""


class ZmtpProtocolError(ZmtpError):
    """The peer broke the protocol (bad greeting, bad frame, incompatible socket type, ERROR)."""


def _b(text):
    """ASCII text -> bytes (bytearray on IronPython, where str is text)."""
    encoded = text.encode("ascii")
    return bytearray(encoded) if PY2 else encoded


if PY2:  # pragma: no cover - IronPython / CPython 2
    def _to_bytes(data):
        return data if isinstance(data, bytearray) else bytearray(data)

    def _frame_out(chunk):
        return bytearray(chunk)
else:
    def _to_bytes(data):
        if type(data) is bytes:
            return data
        if isinstance(data, str):
            return data.encode("utf-8")
        return bytes(data)

    _frame_out = bytes


def parse_tcp_endpoint(endpoint):
    """``"tcp://host:port"`` -> ``(host, port)``; IPv6 hosts in brackets."""
    if not endpoint.startswith("tcp://"):
        raise ValueError("only tcp:// endpoints are supported, not %r" % (endpoint,))
    rest = endpoint[len("tcp://"):]
    if rest.startswith("["):
        close = rest.find("]")
        if close < 0 or rest[close + 1:close + 2] != ":":
            raise ValueError("bad IPv6 endpoint %r" % (endpoint,))
        host, port = rest[1:close], rest[close + 2:]
    else:
        host, sep, port = rest.rpartition(":")
        if not sep or not host:
            raise ValueError("endpoint %r has no host:port" % (endpoint,))
    if host == "*":
        raise ValueError("cannot connect to a wildcard address (%r)" % (endpoint,))
    try:
        port_number = int(port)
    except ValueError:
        raise ValueError("endpoint %r has a bad port" % (endpoint,))
    if not 0 < port_number < 65536:
        raise ValueError("endpoint %r has a bad port" % (endpoint,))
    return host, port_number


def encode_frame(body, more=False, command=False):
    """One ZMTP frame (header + body) as bytes."""
    size = len(body)
    flags = (FLAG_MORE if more else 0) | (FLAG_COMMAND if command else 0)
    if size > 255:
        header = bytearray([flags | FLAG_LONG]) + _U64.pack(size)
    else:
        header = bytearray([flags, size])
    return bytes(header + body) if not PY2 else header + bytearray(body)


def encode_command(name, data=b""):
    name_bytes = _b(name)
    return encode_frame(bytearray([len(name_bytes)]) + name_bytes + bytearray(data), command=True)


def encode_metadata(properties):
    """READY/metadata properties: name-len(1) name value-len(4) value, in order."""
    out = bytearray()
    for name, value in properties:
        name_bytes = _b(name)
        value_bytes = bytearray(_to_bytes(value))
        out.append(len(name_bytes))
        out += name_bytes
        out += _U32.pack(len(value_bytes))
        out += value_bytes
    return out


def decode_metadata(data):
    """Parse metadata properties into a dict {lower-case name: bytes value}."""
    props = {}
    pos, size = 0, len(data)
    while pos < size:
        name_len = data[pos]
        pos += 1
        if pos + name_len + 4 > size:
            raise ZmtpProtocolError("truncated metadata property")
        name = bytes(data[pos:pos + name_len]).decode("ascii", "replace")
        pos += name_len
        value_len = _U32.unpack_from(bytes(data[pos:pos + 4]))[0]
        pos += 4
        if pos + value_len > size:
            raise ZmtpProtocolError("truncated metadata value")
        props[name.lower()] = _frame_out(data[pos:pos + value_len])
        pos += value_len
    return props


def greeting(minor_version=0):
    """Our 64-byte greeting: ZMTP 3.<minor>, NULL mechanism, as-server 0."""
    g = bytearray(64)
    g[0] = 0xFF
    g[9] = 0x7F
    g[10] = 3
    g[11] = minor_version
    g[12:16] = bytearray(MECHANISM_NULL)
    return bytes(g) if not PY2 else g


class _ZmtpSocket(object):
    """One ZMTP connection: handshake, framing, multipart send/receive, time-outs."""

    socket_type = None  # "DEALER" or "SUB"

    def __init__(self, identity=b"", timeout_s=5.0, zmtp_minor=0):
        """``zmtp_minor`` is the minor version we announce: 0 (ZMTP 3.0) or 1 (3.1)."""
        if zmtp_minor not in (0, 1):
            raise ValueError("zmtp_minor must be 0 or 1")
        self.identity = _to_bytes(identity)
        self.timeout_s = timeout_s
        self.zmtp_minor = zmtp_minor
        self.endpoint = None
        self.peer_socket_type = None
        self.peer_metadata = {}
        self.peer_version = None
        self._sock = None
        self._buf = bytearray()
        self._pos = 0
        self._partial = []  # frames of a multipart message interrupted by a time-out

    # -- connection ------------------------------------------------------
    @property
    def connected(self):
        return self._sock is not None

    def connect(self, endpoint, timeout_s=None):
        """Dial ``endpoint`` and complete the handshake within ``timeout_s``."""
        if self._sock is not None:
            raise ZmtpError("already connected to %s" % (self.endpoint,))
        host, port = parse_tcp_endpoint(endpoint)
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        deadline = time.time() + timeout_s
        try:
            sock = socket.create_connection((host, port), timeout_s)
        except _TimeoutError:
            raise ZmtpTimeout("connecting to %s timed out after %.3g s" % (endpoint, timeout_s))
        except (socket.error, OSError) as exc:
            raise ZmtpClosed("cannot connect to %s: %s" % (endpoint, exc))
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (socket.error, OSError):  # pragma: no cover - not every stack has it
            pass
        self._sock = sock
        self.endpoint = endpoint
        self._buf = bytearray()
        self._pos = 0
        self._partial = []
        try:
            self._handshake(deadline)
        except BaseException:
            self.close()
            raise
        return self

    def reconnect(self, timeout_s=None):
        """Close the connection and dial the same endpoint again."""
        endpoint = self.endpoint
        if endpoint is None:
            raise ZmtpError("reconnect() before connect()")
        self.close()
        return self.connect(endpoint, timeout_s)

    def close(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except (socket.error, OSError):  # pragma: no cover
                pass
        self._buf = bytearray()
        self._pos = 0
        self._partial = []

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def fileno(self):
        if self._sock is None:
            raise ZmtpClosed("socket is closed")
        return self._sock.fileno()

    def has_buffered_data(self):
        return self._pos < len(self._buf) or bool(self._partial)

    # -- handshake -------------------------------------------------------
    def _handshake(self, deadline):
        self._sendall(greeting(self.zmtp_minor), deadline)
        try:
            peer = self._read_exact(64, deadline)
        except ZmtpClosed as exc:
            raise ZmtpClosed("%s during the handshake (is it a ZeroMQ peer with the NULL mechanism?)"
                             % (exc,))
        if peer[0] != 0xFF or peer[9] & 0x01 != 0x01:
            raise ZmtpProtocolError("peer at %s is not a ZMTP peer (bad signature)" % (self.endpoint,))
        if peer[10] < 3:
            raise ZmtpProtocolError("peer speaks ZMTP %d.x; 3.x is required" % peer[10])
        self.peer_version = (peer[10], peer[11])
        mechanism = bytes(peer[12:32]).rstrip(b"\x00")
        if mechanism != MECHANISM_NULL:
            raise ZmtpProtocolError("peer wants security mechanism %r; only NULL is supported"
                                    % (mechanism.decode("ascii", "replace"),))
        props = [("Socket-Type", self.socket_type)]
        if self.socket_type == "DEALER":
            props.append(("Identity", self.identity))
        self._sendall(encode_command("READY", encode_metadata(props)), deadline)
        while True:
            flags, body = self._read_frame(deadline)
            if not flags & FLAG_COMMAND:
                raise ZmtpProtocolError("peer sent a message before its READY command")
            name, data = self._parse_command(body)
            if name == "READY":
                break
            if name == "ERROR":
                raise ZmtpProtocolError("peer refused the handshake: %s" % self._error_reason(data))
            # Unknown commands before READY are a protocol error for NULL.
            raise ZmtpProtocolError("unexpected %s command during the NULL handshake" % name)
        self.peer_metadata = decode_metadata(data)
        peer_type = self.peer_metadata.get("socket-type", b"").decode("ascii", "replace").upper()
        self.peer_socket_type = peer_type
        if peer_type not in _VALID_PEERS[self.socket_type]:
            raise ZmtpProtocolError("a %s socket cannot talk to a %s peer"
                                    % (self.socket_type, peer_type or "(unnamed)"))
        self._after_handshake(deadline)

    def _after_handshake(self, deadline):
        pass

    @staticmethod
    def _parse_command(body):
        if not body:
            raise ZmtpProtocolError("empty command frame")
        name_len = body[0]
        if 1 + name_len > len(body):
            raise ZmtpProtocolError("truncated command name")
        name = bytes(body[1:1 + name_len]).decode("ascii", "replace")
        return name, body[1 + name_len:]

    @staticmethod
    def _error_reason(data):
        if not data:
            return "(no reason)"
        return bytes(data[1:1 + data[0]]).decode("utf-8", "replace")

    # -- low-level I/O ---------------------------------------------------
    def _require_sock(self):
        sock = self._sock
        if sock is None:
            raise ZmtpClosed("socket is not connected")
        return sock

    def _set_timeout(self, sock, deadline):
        if deadline is None:
            sock.settimeout(None)
            return
        remaining = deadline - time.time()
        if remaining <= 0:
            raise ZmtpTimeout("timed out")
        sock.settimeout(remaining)

    def _sendall(self, data, deadline):
        sock = self._require_sock()
        try:
            self._set_timeout(sock, deadline)
            sock.sendall(data)
        except ZmtpTimeout:
            raise
        except _TimeoutError:
            # Part of the message may be on the wire: the stream is unusable now.
            self.close()
            raise ZmtpTimeout("sending to %s timed out" % (self.endpoint,))
        except (socket.error, OSError) as exc:
            self.close()
            raise ZmtpClosed("connection to %s lost while sending: %s" % (self.endpoint, exc))

    def _fill(self, n, deadline):
        """Make sure ``n`` unread bytes are buffered. A time-out keeps what was read."""
        buf = self._buf
        if self._pos and self._pos == len(buf):
            buf = self._buf = bytearray()
            self._pos = 0
        elif self._pos > 65536:
            del buf[:self._pos]
            self._pos = 0
        sock = self._require_sock()
        while len(buf) - self._pos < n:
            try:
                self._set_timeout(sock, deadline)
                chunk = sock.recv(max(_RECV_CHUNK, n - (len(buf) - self._pos)))
            except _TimeoutError:
                raise ZmtpTimeout("no data from %s within the time-out" % (self.endpoint,))
            except (socket.error, OSError) as exc:
                if getattr(exc, "errno", None) in (errno.EAGAIN, errno.EWOULDBLOCK):
                    raise ZmtpTimeout("no data from %s within the time-out" % (self.endpoint,))
                self.close()
                raise ZmtpClosed("connection to %s lost: %s" % (self.endpoint, exc))
            if not chunk:
                endpoint = self.endpoint
                self.close()
                raise ZmtpClosed("connection closed by the peer at %s" % (endpoint,))
            buf += chunk

    def _read_exact(self, n, deadline):
        self._fill(n, deadline)
        pos = self._pos
        self._pos = pos + n
        return self._buf[pos:pos + n]

    def _read_frame(self, deadline):
        """``(flags, body)`` of the next frame; consumes nothing on a time-out."""
        self._fill(2, deadline)
        buf, pos = self._buf, self._pos
        flags = buf[pos]
        if flags & 0xF8:
            self.close()
            raise ZmtpProtocolError("bad frame flags 0x%02x" % flags)
        if flags & FLAG_LONG:
            self._fill(9, deadline)
            buf, pos = self._buf, self._pos
            size = _U64.unpack_from(buf, pos + 1)[0] if not PY2 else \
                _U64.unpack(bytes(buf[pos + 1:pos + 9]))[0]
            header = 9
            if size > _MAX_FRAME:
                self.close()
                raise ZmtpProtocolError("frame of %d bytes is too large" % size)
        else:
            size = buf[pos + 1]
            header = 2
        self._fill(header + size, deadline)
        buf, pos = self._buf, self._pos
        start = pos + header
        self._pos = start + size
        return flags, buf[start:start + size]

    # -- messages --------------------------------------------------------
    def send_multipart(self, frames, timeout_s=None):
        """Send one message (a list of byte strings) in a single ``sendall``."""
        if not frames:
            raise ValueError("a message needs at least one frame")
        out = bytearray()
        last = len(frames) - 1
        for i, frame in enumerate(frames):
            frame = _to_bytes(frame)
            size = len(frame)
            flags = FLAG_MORE if i < last else 0
            if size > 255:
                out.append(flags | FLAG_LONG)
                out += _U64.pack(size)
            else:
                out.append(flags)
                out.append(size)
            out += frame
        self._sendall(out if PY2 else bytes(out), self._deadline(timeout_s))

    def send(self, frame, timeout_s=None):
        self.send_multipart([frame], timeout_s)

    def _deadline(self, timeout_s):
        timeout_s = self.timeout_s if timeout_s is None else timeout_s
        return None if timeout_s is None else time.time() + timeout_s

    def recv_multipart(self, timeout_s=None):
        """The next message as a list of frames (bytes; bytearray on IronPython).

        Raises :class:`ZmtpTimeout` when no complete message arrives in time (the
        connection stays usable), :class:`ZmtpClosed` when it is gone.
        """
        deadline = self._deadline(timeout_s)
        while True:
            message = self._recv_message(deadline)
            if message is not None:
                return message

    def _recv_message(self, deadline):
        partial = self._partial
        while True:
            flags, body = self._read_frame(deadline)
            if flags & FLAG_COMMAND:
                self._handle_command(body, deadline)
                continue
            partial.append(_frame_out(body))
            if not flags & FLAG_MORE:
                self._partial = []
                return self._accept(partial)

    def _accept(self, message):
        return message

    def _handle_command(self, body, deadline):
        name, data = self._parse_command(body)
        if name == "PING":
            # PING: TTL (2 bytes) + context; answer PONG with the same context.
            self._sendall(encode_command("PONG", data[2:]), deadline)
        elif name == "ERROR":
            reason = self._error_reason(data)
            self.close()
            raise ZmtpProtocolError("peer reported an error: %s" % reason)
        # PONG and unknown commands are ignored, as RFC 37 allows.


class DealerSocket(_ZmtpSocket):
    """A DEALER-like client socket: one connection, send and receive multipart messages."""

    socket_type = "DEALER"


class SubSocket(_ZmtpSocket):
    """A SUB-like client socket: subscribes by topic prefix and filters locally too.

    Subscriptions are counted like libzmq's (subscribe twice, unsubscribe twice)
    and sent again after ``reconnect()``. With ``zmtp_minor=0`` they travel as
    ZMTP 3.0 messages (``0x01``/``0x00`` + prefix), which libzmq 4.x accepts;
    with ``zmtp_minor=1`` as 3.1 SUBSCRIBE/CANCEL commands.
    """

    socket_type = "SUB"

    def __init__(self, identity=b"", timeout_s=5.0, zmtp_minor=0):
        _ZmtpSocket.__init__(self, identity, timeout_s, zmtp_minor)
        self._subscriptions = {}  # prefix -> count

    @property
    def subscriptions(self):
        return sorted(self._subscriptions)

    def subscribe(self, prefix, timeout_s=None):
        prefix = _to_bytes(prefix)
        count = self._subscriptions.get(prefix, 0)
        self._subscriptions[prefix] = count + 1
        if count == 0 and self._sock is not None:
            self._send_subscription(prefix, True, self._deadline(timeout_s))

    def unsubscribe(self, prefix, timeout_s=None):
        prefix = _to_bytes(prefix)
        count = self._subscriptions.get(prefix, 0)
        if count == 0:
            return
        if count > 1:
            self._subscriptions[prefix] = count - 1
            return
        del self._subscriptions[prefix]
        if self._sock is not None:
            self._send_subscription(prefix, False, self._deadline(timeout_s))

    def _send_subscription(self, prefix, subscribe, deadline):
        if self.zmtp_minor >= 1 and self.peer_version is not None and self.peer_version >= (3, 1):
            self._sendall(encode_command("SUBSCRIBE" if subscribe else "CANCEL", prefix), deadline)
        else:
            body = bytearray([1 if subscribe else 0]) + bytearray(prefix)
            self._sendall(encode_frame(body), deadline)

    def _after_handshake(self, deadline):
        for prefix in sorted(self._subscriptions):
            self._send_subscription(prefix, True, deadline)

    def matches(self, topic):
        for prefix in self._subscriptions:
            if topic[:len(prefix)] == prefix:
                return True
        return False

    def _accept(self, message):
        # The publisher filters too, but messages sent before it processed an
        # unsubscribe may still arrive: drop what we no longer want.
        if self.matches(message[0]):
            return message
        return None

    def send_multipart(self, frames, timeout_s=None):
        raise ZmtpError("a SUB socket cannot send messages")
