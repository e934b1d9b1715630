# -*- coding: utf-8 -*-
"""A small, fast, pure-Python msgpack codec.

``packb(obj)`` produces the same bytes as ``msgpack.packb(obj)`` with the
package's defaults (``use_bin_type=True``: text as msgpack str, byte strings as
bin, floats as float64, the smallest integer form), and ``unpackb(data)``
returns what ``msgpack.unpackb(data, raw=False, strict_map_key=False)`` returns
(arrays as lists; ext types as :class:`ExtType`, including the timestamp type -1,
which msgpack would turn into a ``Timestamp``).

It runs in pyRevit's IronPython 2.7 and in CPython 3. IronPython has one string
type for text and bytes, so there text is ``str``/``unicode`` and binary data is
``bytearray``; CPython 3 uses ``str`` and ``bytes``.

Speed matters on CPython (a 20,000-record ``health`` event must decode in well
under half a second), hence the shape of the decoder: one closure per call over
the input, ``struct.unpack_from`` at a position instead of slicing, and the
common scalar forms decoded inline in the container loops instead of through a
function call each.
"""
from __future__ import absolute_import

import struct
import sys
from collections import namedtuple

__all__ = ["packb", "unpackb", "ExtType", "MsgpackError", "TruncatedDataError",
           "InvalidDataError", "ExtraDataError"]

PY2 = sys.version_info[0] == 2

if PY2:  # pragma: no cover - IronPython / CPython 2 only
    _TEXT_TYPES = (unicode,)  # noqa: F821  (IronPython: str is unicode)
    _INT_TYPES = (int, long)  # noqa: F821
    _BINARY_TYPES = (bytearray,)
    # CPython 2's byte ``str`` is taken as already-encoded UTF-8 text, as the
    # protocol sends text everywhere and bytes only via bytearray.
    _RAW_TEXT_TYPES = (str,) if str is not unicode else ()  # noqa: F821
    _TEXT = unicode  # noqa: F821
else:
    _TEXT_TYPES = (str,)
    _INT_TYPES = (int,)
    _BINARY_TYPES = (bytes, bytearray, memoryview)
    _RAW_TEXT_TYPES = ()
    _TEXT = str

try:
    _RecursionError = RecursionError
except NameError:  # pragma: no cover - Python 2
    _RecursionError = RuntimeError


class MsgpackError(ValueError):
    """Base class of every decoding error of this codec."""


class TruncatedDataError(MsgpackError):
    """The input ends in the middle of an object."""


class InvalidDataError(MsgpackError):
    """The input is not valid msgpack (reserved byte, bad UTF-8, unhashable key, ...)."""


class ExtraDataError(MsgpackError):
    """A complete object was decoded but bytes are left over."""


class ExtType(namedtuple("ExtType", "code data")):
    """A msgpack extension value: ``code`` (0..127, or -1 for timestamps) and ``data`` (bytes)."""


# ---------------------------------------------------------------------------
# struct helpers (feature-tested: IronPython's struct may not take bytearray)
# ---------------------------------------------------------------------------
_S_B = struct.Struct(">B")
_S_H = struct.Struct(">H")
_S_I = struct.Struct(">I")
_S_Q = struct.Struct(">Q")
_S_b = struct.Struct(">b")
_S_h = struct.Struct(">h")
_S_i = struct.Struct(">i")
_S_q = struct.Struct(">q")
_S_f = struct.Struct(">f")
_S_d = struct.Struct(">d")


def _make_reader(st):
    """``read(data, pos) -> (value,)`` for a struct: ``st.unpack_from`` itself where the
    interpreter accepts a bytearray/bytes buffer (no slicing, no extra call layer),
    else a slicing fallback with the same signature."""
    try:
        st.unpack_from(bytearray(st.size), 0)
        return st.unpack_from
    except TypeError:  # pragma: no cover - interpreters without buffer support
        unpack = st.unpack
        size = st.size

        def read(data, pos):
            return unpack(bytes(data[pos:pos + size]))
        return read


# Each returns a 1-tuple: callers take [0].
_rH, _rI, _rQ = _make_reader(_S_H), _make_reader(_S_I), _make_reader(_S_Q)
_rb, _rh, _ri, _rq = _make_reader(_S_b), _make_reader(_S_h), _make_reader(_S_i), _make_reader(_S_q)
_rf, _rd = _make_reader(_S_f), _make_reader(_S_d)


# ---------------------------------------------------------------------------
# Packing
# ---------------------------------------------------------------------------
_pack_H = _S_H.pack
_pack_I = _S_I.pack
_pack_Q = _S_Q.pack
_pack_b = _S_b.pack
_pack_h = _S_h.pack
_pack_i = _S_i.pack
_pack_q = _S_q.pack
_pack_d = _S_d.pack


def _pack_int(obj, out):
    if obj >= 0:
        if obj < 0x80:
            out.append(obj)
        elif obj <= 0xff:
            out.append(0xcc)
            out.append(obj)
        elif obj <= 0xffff:
            out.append(0xcd)
            out += _pack_H(obj)
        elif obj <= 0xffffffff:
            out.append(0xce)
            out += _pack_I(obj)
        elif obj <= 0xffffffffffffffff:
            out.append(0xcf)
            out += _pack_Q(obj)
        else:
            raise OverflowError("Integer value out of range")
    elif obj >= -32:
        out.append(obj & 0xff)
    elif obj >= -0x80:
        out.append(0xd0)
        out += _pack_b(obj)
    elif obj >= -0x8000:
        out.append(0xd1)
        out += _pack_h(obj)
    elif obj >= -0x80000000:
        out.append(0xd2)
        out += _pack_i(obj)
    elif obj >= -0x8000000000000000:
        out.append(0xd3)
        out += _pack_q(obj)
    else:
        raise OverflowError("Integer value out of range")


def _pack_raw_header(n, out, fix_base, c8, c16, c32, allow_fix, allow_8):
    if allow_fix and n < 32:
        out.append(fix_base | n)
    elif allow_8 and n <= 0xff:
        out.append(c8)
        out.append(n)
    elif n <= 0xffff:
        out.append(c16)
        out += _pack_H(n)
    elif n <= 0xffffffff:
        out.append(c32)
        out += _pack_I(n)
    else:
        raise ValueError("object too large for msgpack (%d bytes)" % n)


def _pack_text(encoded, out):
    n = len(encoded)
    if n < 32:
        out.append(0xa0 | n)
    elif n <= 0xff:
        out.append(0xd9)
        out.append(n)
    elif n <= 0xffff:
        out.append(0xda)
        out += _pack_H(n)
    elif n <= 0xffffffff:
        out.append(0xdb)
        out += _pack_I(n)
    else:
        raise ValueError("string too large for msgpack (%d bytes)" % n)
    out += encoded


def _pack_container_header(n, out, fix_base, c16, c32):
    if n < 16:
        out.append(fix_base | n)
    elif n <= 0xffff:
        out.append(c16)
        out += _pack_H(n)
    elif n <= 0xffffffff:
        out.append(c32)
        out += _pack_I(n)
    else:
        raise ValueError("container too large for msgpack (%d items)" % n)


def _pack_ext(obj, out):
    code, data = obj.code, obj.data
    if not isinstance(code, _INT_TYPES) or not -1 <= code <= 127:
        # -2..-128 are reserved by the msgpack spec (-1 is the timestamp type).
        raise ValueError("ExtType code must be an int in -1..127")
    data = bytearray(data)
    n = len(data)
    fixed = {1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8}.get(n)
    if fixed is not None:
        out.append(fixed)
    elif n <= 0xff:
        out.append(0xc7)
        out.append(n)
    elif n <= 0xffff:
        out.append(0xc8)
        out += _pack_H(n)
    elif n <= 0xffffffff:
        out.append(0xc9)
        out += _pack_I(n)
    else:
        raise ValueError("ExtType data too large")
    out.append(code & 0xff)
    out += data


def _pack(obj, out, depth):
    # Exact-type checks first (the common case, cheapest); subclasses and the
    # rarer types go through _pack_other's isinstance chain.
    t = type(obj)
    if t is _TEXT:
        encoded = obj.encode("utf-8")
        n = len(encoded)
        if n < 32:
            out.append(0xa0 | n)
            out += encoded
        else:
            _pack_text(encoded, out)
    elif t is int:
        if 0 <= obj < 0x80:
            out.append(obj)
        else:
            _pack_int(obj, out)
    elif t is float:
        out.append(0xcb)
        out += _pack_d(obj)
    elif t is dict:
        if depth <= 0:
            raise ValueError("recursion limit exceeded")
        n = len(obj)
        if n < 16:
            out.append(0x80 | n)
        else:
            _pack_container_header(n, out, 0x80, 0xde, 0xdf)
        depth -= 1
        for k, v in obj.items():
            _pack(k, out, depth)
            _pack(v, out, depth)
    elif t is list or t is tuple:
        if depth <= 0:
            raise ValueError("recursion limit exceeded")
        n = len(obj)
        if n < 16:
            out.append(0x90 | n)
        else:
            _pack_container_header(n, out, 0x90, 0xdc, 0xdd)
        depth -= 1
        for item in obj:
            _pack(item, out, depth)
    elif obj is None:
        out.append(0xc0)
    elif obj is True:
        out.append(0xc3)
    elif obj is False:
        out.append(0xc2)
    else:
        _pack_other(obj, out, depth)


def _is_ext(obj):
    return isinstance(obj, ExtType) or (
        type(obj).__name__ == "ExtType" and hasattr(obj, "code") and hasattr(obj, "data"))


def _pack_other(obj, out, depth):
    if isinstance(obj, bool):
        out.append(0xc3 if obj else 0xc2)
    elif isinstance(obj, _TEXT_TYPES):
        _pack_text(obj.encode("utf-8"), out)
    elif isinstance(obj, _INT_TYPES):
        _pack_int(int(obj), out)
    elif isinstance(obj, float):
        out.append(0xcb)
        out += _pack_d(obj)
    elif isinstance(obj, _BINARY_TYPES):
        data = obj.tobytes() if isinstance(obj, memoryview) else obj
        _pack_raw_header(len(data), out, 0, 0xc4, 0xc5, 0xc6, False, True)
        out += data
    elif _is_ext(obj):
        _pack_ext(obj, out)
    elif isinstance(obj, dict):
        _pack(dict(obj), out, depth)
    elif isinstance(obj, (list, tuple)):
        _pack(list(obj), out, depth)
    elif _RAW_TEXT_TYPES and isinstance(obj, _RAW_TEXT_TYPES):  # pragma: no cover - CPython 2
        _pack_text(obj, out)
    else:
        raise TypeError("can not serialize %r object" % (type(obj).__name__,))


def packb(obj):
    """Serialize ``obj`` to msgpack bytes (``bytearray`` on Python 2 / IronPython)."""
    out = bytearray()
    _pack(obj, out, 512)
    return out if PY2 else bytes(out)


# ---------------------------------------------------------------------------
# Unpacking
# ---------------------------------------------------------------------------
if PY2:  # pragma: no cover - IronPython / CPython 2 only
    def _as_buffer(data):
        if isinstance(data, bytearray):
            return data
        return bytearray(data)

    def _to_bin(view):
        return view  # a fresh bytearray slice: the binary type on IronPython
else:
    def _as_buffer(data):
        t = type(data)
        if t is bytes or t is bytearray:
            return data
        if isinstance(data, (bytes, bytearray)):
            return data
        if isinstance(data, memoryview):
            return data.tobytes()
        raise TypeError("unpackb() needs bytes, bytearray or memoryview, not %s" % (t.__name__,))

    _to_bin = bytes

_MAX_DEPTH = 512


def unpackb(data):
    """Deserialize exactly one msgpack object from ``data``.

    Raises :class:`TruncatedDataError`, :class:`InvalidDataError` or
    :class:`ExtraDataError` (all ``ValueError``) for bad input.
    """
    data = _as_buffer(data)
    size = len(data)
    if size == 0:
        raise TruncatedDataError("no data")
    b = data[0]
    try:
        if b < 0x80:  # the one-byte forms need no machinery
            obj, pos = b, 1
        elif 0x80 <= b <= 0x8f:
            obj, pos = _decode_map(data, 1, b & 0x0f, _MAX_DEPTH - 1)
        else:
            obj, pos = _decode(data, 0, _MAX_DEPTH)
    except (IndexError, struct.error):
        raise TruncatedDataError("truncated msgpack data")
    except UnicodeDecodeError as exc:
        raise InvalidDataError("invalid UTF-8 in msgpack str: %s" % (exc,))
    except _RecursionError:
        raise InvalidDataError("msgpack data nested too deeply")
    if pos > size:
        raise TruncatedDataError("truncated msgpack data")
    if pos < size:
        raise ExtraDataError("extra data after the msgpack object (%d bytes)" % (size - pos))
    return obj


# The decoder: plain module functions ``f(data, pos, ...) -> (obj, new_pos)``.
# Short strings, small ints, float64 and nil are decoded inline in the container
# loops (most of a health event), everything else through _DISPATCH. Reads past
# the end raise IndexError/struct.error, turned into TruncatedDataError above;
# slices are bounds-checked where a short slice could otherwise go unnoticed.

def _truncated():
    raise TruncatedDataError("truncated msgpack data")


def _check_count(data, pos, n):
    # Every element takes at least one byte: refuse absurd headers early
    # instead of looping (or allocating) for billions of items.
    if n > len(data) - pos:
        raise TruncatedDataError("truncated msgpack data (container claims %d items)" % n)


def _decode_array(data, pos, n, depth, rd=_rd):
    _check_count(data, pos, n)
    out = []
    append = out.append
    for _ in range(n):
        b = data[pos]
        if b < 0x80:
            append(b)
            pos += 1
        elif 0xa0 <= b <= 0xbf:
            end = pos + 1 + (b & 0x1f)
            append(data[pos + 1:end].decode("utf-8"))
            pos = end
        elif b == 0xcb:
            append(rd(data, pos + 1)[0])
            pos += 9
        else:
            obj, pos = _decode(data, pos, depth)
            append(obj)
    return out, pos


def _decode_map(data, pos, n, depth, rd=_rd):
    _check_count(data, pos, n)
    out = {}
    for _ in range(n):
        b = data[pos]
        if 0xa0 <= b <= 0xbf:
            end = pos + 1 + (b & 0x1f)
            key = data[pos + 1:end].decode("utf-8")
            pos = end
        else:
            key, pos = _decode(data, pos, depth)
            if isinstance(key, (list, dict)):
                raise InvalidDataError("unhashable map key of type %s" % type(key).__name__)
        b = data[pos]
        if b < 0x80:
            out[key] = b
            pos += 1
        elif 0xa0 <= b <= 0xbf:
            end = pos + 1 + (b & 0x1f)
            out[key] = data[pos + 1:end].decode("utf-8")
            pos = end
        elif b == 0xcb:
            out[key] = rd(data, pos + 1)[0]
            pos += 9
        elif b == 0xc0:
            out[key] = None
            pos += 1
        elif b == 0xd9:
            end = pos + 2 + data[pos + 1]
            if end > len(data):
                _truncated()
            out[key] = data[pos + 2:end].decode("utf-8")
            pos = end
        else:
            out[key], pos = _decode(data, pos, depth)
    return out, pos


def _decode(data, pos, depth):
    b = data[pos]
    if b < 0x80:
        return b, pos + 1
    if b >= 0xe0:
        return b - 0x100, pos + 1
    if b >= 0xc0:
        return _DISPATCH[b - 0xc0](data, pos, depth)
    # 0x80..0xbf: fixmap, fixarray, fixstr
    if b >= 0xa0:
        end = pos + 1 + (b & 0x1f)
        if end > len(data):
            _truncated()
        return data[pos + 1:end].decode("utf-8"), end
    if depth <= 0:
        raise InvalidDataError("msgpack data nested too deeply")
    if b >= 0x90:
        return _decode_array(data, pos + 1, b & 0x0f, depth - 1)
    return _decode_map(data, pos + 1, b & 0x0f, depth - 1)


def _raw(data, start, n):
    end = start + n
    if end > len(data):
        _truncated()
    return data[start:end], end


def _need(data, pos, n):
    if pos + n > len(data):
        _truncated()


def _d_nil(data, pos, depth):
    return None, pos + 1


def _d_reserved(data, pos, depth):
    raise InvalidDataError("reserved msgpack type byte 0xc1 at %d" % pos)


def _d_false(data, pos, depth):
    return False, pos + 1


def _d_true(data, pos, depth):
    return True, pos + 1


def _make_raw_decoder(header, read_len, convert):
    """str/bin decoders: ``header`` bytes of type+length, then the payload."""
    def d_raw(data, pos, depth):
        _need(data, pos, header)
        chunk, end = _raw(data, pos + header, read_len(data, pos + 1)[0])
        return convert(chunk), end
    return d_raw


def _utf8(chunk):
    return chunk.decode("utf-8")


def _read_u8(data, pos):
    return (data[pos],)


def _ext(data, n, code_pos):
    code = data[code_pos]
    if code >= 0x80:
        code -= 0x100
        if code != -1:
            # Negative types are reserved by the spec; msgpack refuses them too.
            raise InvalidDataError("reserved msgpack ext type %d" % code)
    chunk, end = _raw(data, code_pos + 1, n)
    return ExtType(code, _to_bin(chunk)), end


def _make_ext_decoder(header, read_len):
    def d_ext(data, pos, depth):
        _need(data, pos, header)
        return _ext(data, read_len(data, pos + 1)[0], pos + header - 1)
    return d_ext


def _make_fixext_decoder(n):
    def d_fixext(data, pos, depth):
        _need(data, pos, 2)
        return _ext(data, n, pos + 1)
    return d_fixext


def _make_number_decoder(read, width):
    def d_number(data, pos, depth):
        return read(data, pos + 1)[0], pos + 1 + width
    return d_number


def _make_container_decoder(decode_items, header, read_len):
    def d_container(data, pos, depth):
        if depth <= 0:
            raise InvalidDataError("msgpack data nested too deeply")
        _need(data, pos, header)
        return decode_items(data, pos + header, read_len(data, pos + 1)[0], depth - 1)
    return d_container


_DISPATCH = [
    _d_nil, _d_reserved, _d_false, _d_true,                                   # c0..c3
    _make_raw_decoder(2, _read_u8, _to_bin),                                  # c4 bin8
    _make_raw_decoder(3, _rH, _to_bin),                                       # c5 bin16
    _make_raw_decoder(5, _rI, _to_bin),                                       # c6 bin32
    _make_ext_decoder(3, _read_u8),                                           # c7 ext8
    _make_ext_decoder(4, _rH),                                                # c8 ext16
    _make_ext_decoder(6, _rI),                                                # c9 ext32
    _make_number_decoder(_rf, 4), _make_number_decoder(_rd, 8),               # ca, cb
    _make_number_decoder(_read_u8, 1), _make_number_decoder(_rH, 2),          # cc, cd
    _make_number_decoder(_rI, 4), _make_number_decoder(_rQ, 8),               # ce, cf
    _make_number_decoder(_rb, 1), _make_number_decoder(_rh, 2),               # d0, d1
    _make_number_decoder(_ri, 4), _make_number_decoder(_rq, 8),               # d2, d3
    _make_fixext_decoder(1), _make_fixext_decoder(2), _make_fixext_decoder(4),  # d4..d6
    _make_fixext_decoder(8), _make_fixext_decoder(16),                        # d7, d8
    _make_raw_decoder(2, _read_u8, _utf8),                                    # d9 str8
    _make_raw_decoder(3, _rH, _utf8),                                         # da str16
    _make_raw_decoder(5, _rI, _utf8),                                         # db str32
    _make_container_decoder(_decode_array, 3, _rH),                           # dc array16
    _make_container_decoder(_decode_array, 5, _rI),                           # dd array32
    _make_container_decoder(_decode_map, 3, _rH),                             # de map16
    _make_container_decoder(_decode_map, 5, _rI),                             # df map32
]
