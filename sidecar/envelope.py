"""Reading a request's envelope (``v``, ``type``, ``id``, ``token``) without decoding its body.

Decoding msgpack allocates a Python object per item: an array of N empty arrays costs about
64 bytes of memory per byte on the wire, so a 29 MiB request decoded in full took 2 GB. The
bus therefore decodes a request in two steps:

1. ``read_envelope`` walks the top-level map with msgpack's C ``skip()`` (no objects made),
   reading the payload in ``CHUNK_BYTES`` slices, decodes only the small envelope values, and
   stops once ``v``, ``type``, ``id`` and ``token`` are seen. Memory: one chunk, or the largest
   string/binary value skipped when it is larger (msgpack's skip holds one whole, and growing
   its buffer briefly holds it twice: hence ``MAX_STRING_BYTES`` per value, so at most ~2.2 MiB
   whatever the request); time: about 2 ns per item skipped. When a payload larger than ``PREFIX_BYTES`` has its body before
   some of those keys, and does not even contain ``"token"`` followed by a string of the
   token's length (a regex search over the frame, ~0.3 ms per MiB), it cannot carry the right
   token: only its first ``PREFIX_BYTES`` are read.
2. ``decode_request`` decodes the whole payload, for authenticated requests only, with
   msgpack's length limits scaled to the payload (every item costs at least one byte) and a
   nesting limit checked on the containers that the schemas allow to nest.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import msgpack

# The envelope keys the bus needs before it decides to decode the body.
ENVELOPE_KEYS = ("v", "type", "id", "ts", "token")
# Once these are seen the rest of the map is not read before the token check.
NEEDED_KEYS = ("v", "type", "id", "token")
# A request map has a handful of keys (PROTOCOL.md: v, type, id, ts, token, body).
MAX_ENVELOPE_ENTRIES = 64
# Envelope values and keys larger than this are not decoded (an id, a type or a token is short).
MAX_ENVELOPE_VALUE_BYTES = 4096
MAX_KEY_BYTES = 64
# The part of a large request scanned for its envelope when the token cannot be in it.
PREFIX_BYTES = 1 << 20
CHUNK_BYTES = 64 * 1024
# One string, binary or extension value: no request of the protocol carries anything near this.
MAX_STRING_BYTES = 1024 * 1024
# Containers nested deeper than this are refused (the deepest legitimate request, a configure
# with sensor limits, nests 6 levels); msgpack's own decoder stops at 1024.
MAX_NESTING = 32

# What msgpack raises on bad input: FormatError, StackError, ExtraData and UnicodeDecodeError are
# ValueErrors; an unhashable map key is a TypeError.
DECODE_ERRORS = (ValueError, TypeError, msgpack.UnpackException)

_MAP_FIX = range(0x80, 0x90)
_MAP_16 = 0xDE
_MAP_32 = 0xDF


class EnvelopeError(ValueError):
    """The payload is not msgpack, or not a map (the bus answers ``bad_request``)."""


class TooLarge:
    """An envelope value too large to be an id, a type, a version or a token."""

    def __init__(self, size: int):
        self.size = size

    def __repr__(self) -> str:
        return f"<{self.size}-byte value>"


@dataclass
class Envelope:
    values: dict[str, Any] = field(default_factory=dict)
    # False when only a prefix was read: keys absent from ``values`` may still be in the payload.
    complete: bool = True

    def get(self, key: str) -> Any:
        return self.values.get(key)

    def __contains__(self, key: str) -> bool:
        return key in self.values


class _Chunks:
    """A file-like view of a buffer that hands msgpack one slice at a time (the payload is
    never copied whole) and ends after ``limit`` bytes."""

    def __init__(self, buffer: memoryview, limit: int):
        self.buffer = buffer
        self.limit = min(limit, len(buffer))
        self.position = 0

    def read(self, size: int) -> bytes:
        end = min(self.position + size, self.limit)
        chunk = bytes(self.buffer[self.position:end])
        self.position = end
        return chunk


def _type_name(first: int) -> str:
    """The Python type msgpack would decode a value starting with ``first`` into."""
    if first <= 0x7F or first >= 0xE0 or 0xCC <= first <= 0xD3:
        return "int"
    if 0x90 <= first <= 0x9F or first in (0xDC, 0xDD):
        return "list"
    if 0xA0 <= first <= 0xBF or first in (0xD9, 0xDA, 0xDB):
        return "str"
    if first in (0xC4, 0xC5, 0xC6):
        return "bytes"
    if first in (0xCA, 0xCB):
        return "float"
    if first in (0xC2, 0xC3):
        return "bool"
    if first == 0xC0:
        return "NoneType"
    return "ExtType"


def token_needle(token: str) -> re.Pattern[bytes]:
    """The bytes every payload carrying ``token`` contains: the key ``"token"`` and the header
    of a string of the token's length (the length is public; the token's bytes are not in
    the pattern, so the search leaks nothing about them)."""
    header = msgpack.packb("x" * len(token.encode("utf-8")))[:-len(token.encode("utf-8")) or None]
    return re.compile(re.escape(msgpack.packb("token") + header))


def read_envelope(payload: memoryview, needle: re.Pattern[bytes] | None = None, *,
                  prefix_only: bool = False) -> Envelope:
    """The envelope values of one request payload (see the module docstring).

    The map is read until ``v``, ``type``, ``id`` and ``token`` have all been seen, or to its
    end. Raises ``EnvelopeError`` when what is read is not msgpack, or not a map (or, when the
    map is read to its end, is followed by more bytes). Values of envelope keys larger than
    ``MAX_ENVELOPE_VALUE_BYTES`` come back as ``TooLarge``. ``prefix_only``: read at most the
    first ``PREFIX_BYTES`` (``complete`` says whether that was enough)."""
    size = len(payload)
    if size == 0:
        raise EnvelopeError("payload is not valid msgpack (OutOfData: empty payload)")
    first = payload[0]
    if not (first in _MAP_FIX or first in (_MAP_16, _MAP_32)):
        if first == 0xC1:
            raise EnvelopeError("payload is not valid msgpack (FormatError: 0xc1 is not a msgpack type)")
        raise EnvelopeError(f"payload must be a msgpack map, got {_type_name(first)}")
    if prefix_only:
        return _scan(payload, min(size, PREFIX_BYTES))
    if needle is None or size <= PREFIX_BYTES:
        return _scan(payload, size)
    envelope = _scan(payload, PREFIX_BYTES)
    if envelope.complete or needle.search(payload) is None:
        return envelope  # all keys seen in the first MiB, or the right token cannot be there
    return _scan(payload, size)


def _scan(payload: memoryview, limit: int) -> Envelope:
    size = len(payload)
    # skip() streams through arrays and maps but needs a whole string, binary or extension value
    # in its buffer at once: the buffer grows to the largest one met, MAX_STRING_BYTES at most
    # and never much beyond the payload itself.
    unpacker = msgpack.Unpacker(_Chunks(payload, limit), read_size=CHUNK_BYTES,
                                max_buffer_size=min(limit, MAX_STRING_BYTES) + 2 * CHUNK_BYTES)
    envelope = Envelope()
    values = envelope.values
    try:
        entries = unpacker.read_map_header()
        if entries > MAX_ENVELOPE_ENTRIES:
            raise EnvelopeError(f"a request map has at most {MAX_ENVELOPE_ENTRIES} keys, this one {entries}")
        for _ in range(entries):
            key = _small_value(unpacker, payload, MAX_KEY_BYTES)
            value_is_envelope = isinstance(key, str) and key in ENVELOPE_KEYS
            value = _small_value(unpacker, payload, MAX_ENVELOPE_VALUE_BYTES if value_is_envelope else 0)
            if value_is_envelope:
                values[key] = value
                if all(k in values for k in NEEDED_KEYS):
                    return envelope  # the rest is the body's: decoded only for the token's holder
    except msgpack.OutOfData:
        if limit < size:
            envelope.complete = False
            return envelope
        raise EnvelopeError("payload is not valid msgpack (OutOfData: truncated)") from None
    except msgpack.BufferFull:
        raise EnvelopeError(f"a string, binary or extension value is longer than {MAX_STRING_BYTES} bytes, "
                            "the limit for one value") from None
    except EnvelopeError:
        raise
    except DECODE_ERRORS as error:
        raise EnvelopeError(f"payload is not valid msgpack ({type(error).__name__}: {error})") from None
    if unpacker.tell() != size:
        raise EnvelopeError("payload is not valid msgpack (ExtraData: bytes after the request map)")
    return envelope


_SKIPPED = object()


def _small_value(unpacker: msgpack.Unpacker, payload: memoryview, max_bytes: int) -> Any:
    """Skip one value; decode it when it is at most ``max_bytes`` long (``TooLarge`` otherwise)."""
    start = unpacker.tell()
    unpacker.skip()
    end = unpacker.tell()
    if max_bytes <= 0:
        return _SKIPPED
    if end - start > max_bytes:
        return TooLarge(end - start)
    return msgpack.unpackb(payload[start:end], raw=False)


class NestingError(ValueError):
    pass


def decode_request(payload: memoryview, max_payload_bytes: int) -> dict[str, Any]:
    """The whole request, for a sender that proved it holds the token. Length limits are
    scaled to the documented maximum message size: no string, array or map can claim more
    items than there are bytes. Raises one of ``DECODE_ERRORS`` (``NestingError`` is a ValueError)."""
    scaled = max(1, min(len(payload), max_payload_bytes))
    longest = min(scaled, MAX_STRING_BYTES)
    message = msgpack.unpackb(payload, raw=False, max_str_len=longest, max_bin_len=longest,
                              max_array_len=scaled, max_map_len=scaled // 2, max_ext_len=longest)
    if not isinstance(message, dict):  # read_envelope saw a map: only a decoder change could get here
        raise TypeError(f"payload must be a msgpack map, got {type(message).__name__}")
    body = message.get("body")
    if isinstance(body, dict) and isinstance(body.get("readings"), list):
        # Readings are checked one by one as [sensor_id, ts, value] (anything nested in one is
        # a malformed reading) and never walked recursively: 100,000 of them would cost 20 ms.
        check_nesting(dict(message, body=dict(body, readings=[])), MAX_NESTING)
    else:
        check_nesting(message, MAX_NESTING)
    return message


def check_nesting(message: Any, max_depth: int) -> None:
    """Raise ``NestingError`` when containers nest deeper than ``max_depth`` levels.

    Level by level, with C-level passes: an ingest batch's 100,000 readings (lists of scalars)
    cost a few milliseconds, not a Python step per item."""
    level: list[Any] = [message] if type(message) in (list, dict) else []
    depth = 1
    while level:
        if depth > max_depth:
            raise NestingError(f"containers nested deeper than {max_depth} levels")
        kinds = set(map(type, level))
        if dict not in kinds:
            children: list[Any] = list(chain.from_iterable(level))
        elif list not in kinds:
            children = list(chain.from_iterable(map(dict.values, level)))
        else:
            children = list(chain(chain.from_iterable(c for c in level if type(c) is list),
                                  chain.from_iterable(c.values() for c in level if type(c) is dict)))
        kinds = set(map(type, children))
        if list not in kinds and dict not in kinds:
            return
        if kinds <= {list, dict}:
            level = children
        else:
            level = [c for c in children if type(c) is list or type(c) is dict]
        depth += 1
