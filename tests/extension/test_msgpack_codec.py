"""The extension's pure-Python msgpack codec against the real ``msgpack`` package."""
import math
import struct

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from revitpyiot.transport import msgpack_codec as codec
from revitpyiot.transport.msgpack_codec import (
    ExtraDataError,
    ExtType,
    InvalidDataError,
    MsgpackError,
    TruncatedDataError,
)

SETTINGS = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def ref_pack(obj):
    return msgpack.packb(obj)


def ref_unpack(data):
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def same(a, b):
    """Structural equality that treats NaN as equal to NaN and checks float/int/bool types."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if type(a) is not type(b) and not (isinstance(a, tuple) and isinstance(b, tuple)):
        return False
    if isinstance(a, dict):
        return len(a) == len(b) and all(k in b and same(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


# Every scalar msgpack can represent; keys are hashable scalars.
ints = st.one_of(
    st.integers(min_value=-2 ** 63, max_value=2 ** 64 - 1),
    st.integers(min_value=-40, max_value=300),
    st.sampled_from([0, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32, 2 ** 63 - 1,
                     2 ** 63, 2 ** 64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2 ** 31,
                     -2 ** 31 - 1, -2 ** 63]),
)
texts = st.one_of(st.text(), st.text(alphabet=st.characters(min_codepoint=0x10000), max_size=20),
                  st.text(alphabet="a\u00e9\u20ac", min_size=28, max_size=40))
scalars = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=True, allow_infinity=True),
                    texts, st.binary())
keys = st.one_of(st.none(), st.booleans(), ints, st.floats(allow_nan=False), texts, st.binary())
values = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=20),
                               st.dictionaries(keys, children, max_size=20)),
    max_leaves=60,
)


@SETTINGS
@given(values)
def test_pack_matches_msgpack_bytes(obj):
    assert codec.packb(obj) == ref_pack(obj)


@SETTINGS
@given(values)
def test_unpack_matches_msgpack(obj):
    data = ref_pack(obj)
    assert same(codec.unpackb(data), ref_unpack(data))


@SETTINGS
@given(values)
def test_round_trip(obj):
    assert same(codec.unpackb(codec.packb(obj)), ref_unpack(ref_pack(obj)))


BOUNDARY_INTS = [0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32, 2 ** 63 - 1,
                 2 ** 63, 2 ** 64 - 1, -1, -32, -33, -128, -129, -32768, -32769, -2 ** 31,
                 -2 ** 31 - 1, -2 ** 63]


@pytest.mark.parametrize("value", BOUNDARY_INTS)
def test_int_boundaries(value):
    data = codec.packb(value)
    assert data == ref_pack(value)
    assert codec.unpackb(data) == value and type(codec.unpackb(data)) is int


@pytest.mark.parametrize("value", [2 ** 64, -2 ** 63 - 1])
def test_int_out_of_range(value):
    with pytest.raises(OverflowError):
        codec.packb(value)


LENGTHS = [0, 1, 15, 16, 31, 32, 255, 256, 65535, 65536]


@pytest.mark.parametrize("n", LENGTHS)
def test_str_bin_lengths(n):
    for obj in ("x" * n, b"\x00" * n, "\u00e9" * (n // 2)):
        data = codec.packb(obj)
        assert data == ref_pack(obj)
        assert codec.unpackb(data) == obj and type(codec.unpackb(data)) is type(obj)


@pytest.mark.parametrize("n", LENGTHS)
def test_array_map_lengths(n):
    arr = list(range(n))
    mapping = {i: i for i in range(n)}
    for obj in (arr, mapping):
        data = codec.packb(obj)
        assert data == ref_pack(obj)
        assert codec.unpackb(data) == obj


def test_str32_and_array32_and_map32_decode():
    # The 32-bit length forms, built by hand (msgpack only emits them past 65535).
    assert codec.unpackb(b"\xdb\x00\x00\x00\x03abc") == "abc"
    assert codec.unpackb(b"\xc6\x00\x00\x00\x02\x01\x02") == b"\x01\x02"
    assert codec.unpackb(b"\xdd\x00\x00\x00\x02\x01\x02") == [1, 2]
    assert codec.unpackb(b"\xdf\x00\x00\x00\x01\xa1a\x01") == {"a": 1}
    assert codec.unpackb(b"\xc5\x00\x01\x07") == b"\x07"


def test_large_sizes_match():
    for obj in ("y" * 70000, b"z" * 70000, list(range(70000)), {str(i): i for i in range(70000)}):
        assert codec.packb(obj) == ref_pack(obj)
        assert codec.unpackb(ref_pack(obj)) == obj


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1e308,
                                   5e-324, 1.5])
def test_special_floats(value):
    data = codec.packb(value)
    assert data == ref_pack(value)
    assert same(codec.unpackb(data), value)


@SETTINGS
@given(st.floats(width=32, allow_nan=False))
def test_float32_decodes_like_msgpack(value):
    data = msgpack.packb(value, use_single_float=True)
    assert data[0] == 0xca
    assert same(codec.unpackb(data), ref_unpack(data))


def test_float32_nan_and_inf():
    for raw in (b"\xca\x7f\xc0\x00\x00", b"\xca\x7f\x80\x00\x00", b"\xca\xff\x80\x00\x00"):
        assert same(codec.unpackb(raw), ref_unpack(raw))


def test_unicode_and_astral():
    for text in ("", "caf\u00e9", "\u20ac", "\U0001F600 building \U0001F3E2", "\u0000", "日本語"):
        assert codec.packb(text) == ref_pack(text)
        assert codec.unpackb(ref_pack(text)) == text


def test_nested_structures():
    obj = {"v": 1, "type": "health", "body": {"items": [
        {"unique_id": f"abc-{i}", "element_id": i, "health_score": 99.5, "status": "ok",
         "failure_probability": None, "ttf_hours": None, "drivers": ["x", "y"], "updated_ts": 1.7e9}
        for i in range(50)]}, "nested": [[[[[]]]], {"a": {"b": {"c": [True, False, None]}}}]}
    assert codec.packb(obj) == ref_pack(obj)
    assert codec.unpackb(ref_pack(obj)) == ref_unpack(ref_pack(obj))


def test_types_on_cpython3():
    assert type(codec.unpackb(ref_pack("a"))) is str
    assert type(codec.unpackb(ref_pack(b"a"))) is bytes
    assert type(codec.packb({})) is bytes


def test_accepts_bytearray_and_memoryview():
    data = ref_pack({"a": [1, 2.5, b"x"]})
    assert codec.unpackb(bytearray(data)) == {"a": [1, 2.5, b"x"]}
    assert codec.unpackb(memoryview(data)) == {"a": [1, 2.5, b"x"]}


def test_packs_tuples_bytearray_and_subclasses_like_msgpack():
    class D(dict):
        pass

    class L(list):
        pass

    class S(str):
        pass

    for obj in ((1, 2), bytearray(b"ab"), D(a=1), L([1]), S("s"), memoryview(b"mv")):
        assert codec.packb(obj) == ref_pack(obj)


def test_unsupported_type_raises_type_error():
    with pytest.raises(TypeError):
        codec.packb(object())
    with pytest.raises(TypeError):
        codec.packb({1, 2})


@SETTINGS
@given(st.integers(min_value=0, max_value=127), st.binary(max_size=300))
def test_ext_types(code, data):
    ext = msgpack.ExtType(code, data)
    packed = ref_pack(ext)
    assert codec.packb(ExtType(code, data)) == packed
    assert codec.packb(ext) == packed
    decoded = codec.unpackb(packed)
    assert isinstance(decoded, ExtType) and decoded == (code, data)


def test_negative_ext_code_decodes():
    assert codec.unpackb(b"\xd4\xff\x00") == ExtType(-1, b"\x00")


# --- bad input ---------------------------------------------------------------------------

@SETTINGS
@given(values)
def test_every_truncation_raises_truncated(obj):
    data = ref_pack(obj)
    for cut in range(len(data) - 1, -1, -max(1, len(data) // 25)):
        with pytest.raises(MsgpackError):
            codec.unpackb(data[:cut])


@pytest.mark.parametrize("data", [b"", b"\x92\x01", b"\xa3ab", b"\xcd\x01", b"\xcb\x00\x00",
                                  b"\xdc\x00", b"\xc4\x05ab", b"\xd9", b"\xdf\xff\xff\xff\xff",
                                  b"\xdd\xff\xff\xff\xff\x01", b"\x81\xa1a"])
def test_truncated(data):
    with pytest.raises(TruncatedDataError):
        codec.unpackb(data)


def test_extra_data():
    with pytest.raises(ExtraDataError):
        codec.unpackb(b"\x01\x02")


@pytest.mark.parametrize("data", [b"\xc1", b"\xa2\xff\xfe", b"\x81\x91\x01\x02", b"\x81\x80\x02",
                                  b"\x91" * 5000 + b"\x90"])
def test_invalid(data):
    with pytest.raises(InvalidDataError):
        codec.unpackb(data)


def test_errors_are_value_errors():
    for cls in (TruncatedDataError, InvalidDataError, ExtraDataError):
        assert issubclass(cls, MsgpackError) and issubclass(cls, ValueError)


@SETTINGS
@given(st.binary(max_size=200))
def test_garbage_matches_msgpack_or_raises_codec_error(data):
    try:
        expected = ref_unpack(data)
    except Exception:  # noqa: BLE001 - whatever msgpack refuses, we must refuse too
        with pytest.raises(MsgpackError):
            codec.unpackb(data)
        return
    if isinstance(expected, msgpack.Timestamp):  # ext -1: msgpack's Timestamp, ours stays ExtType
        assert codec.unpackb(data).code == -1
        return
    if _contains_timestamp(expected):
        return
    assert same(codec.unpackb(data), expected)


def _contains_timestamp(obj):
    if isinstance(obj, msgpack.Timestamp):
        return True
    if isinstance(obj, dict):
        return any(_contains_timestamp(k) or _contains_timestamp(v) for k, v in obj.items())
    if isinstance(obj, list):
        return any(_contains_timestamp(x) for x in obj)
    return False


def test_garbage_rejects_non_buffer_input():
    with pytest.raises(TypeError):
        codec.unpackb("not bytes")


def test_float64_bit_exact():
    for bits in (0x7ff8000000000001, 0xfff8000000000000, 0x0000000000000001, 0x8000000000000000):
        value = struct.unpack(">d", struct.pack(">Q", bits))[0]
        assert codec.packb(value) == ref_pack(value)


def test_reserved_negative_ext_codes_are_invalid():
    with pytest.raises(InvalidDataError):
        codec.unpackb(b"\xd5\x80\x00\x00")
    with pytest.raises(ValueError):
        codec.packb(ExtType(-2, b""))
