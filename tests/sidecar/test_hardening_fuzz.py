"""Issue 15.1 / 15.5 of the brief: the envelope is judged before the body, against the real bus.

Hypothesis builds request maps whose entries come in any order (the bus reads the map up to its
last envelope key before the token check, the rest after), each envelope value right or
wrong in one of several ways, and a body that is fine, undecodable (bad UTF-8, a list as a map
key), nested past the 32-level limit or past msgpack's own 1024-level stack. A model of the
documented check order predicts the exact error code (and the reply's ``id``) of each; the real
sidecar process must answer exactly that, never crash, and keep serving.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.protocol_client import CommandClient
from support.sidecar_process import SidecarHandle, running_sidecar

from shared_schemas.validation import validate_reply

CONFIG = "[sidecar]\nmax_payload_bytes = 262144\n[simulator]\ndemo_faults = false\n"
OK = "ok"


@pytest.fixture(scope="module")
def bus() -> Iterator[SidecarHandle]:
    with running_sidecar(CONFIG) as handle:
        yield handle


def _nested(depth: int) -> bytes:
    return b"\x91" * depth + b"\xc0"


# Each envelope value: (encoded bytes or None for "absent", is it acceptable?)
VERSIONS = st.sampled_from([(msgpack.packb(1), True), (None, False), (msgpack.packb(2), False),
                            (msgpack.packb("1"), False), (msgpack.packb(True), False), (msgpack.packb([1]), False),
                            (msgpack.packb([[0]] * 3000), False)])
TYPES = st.sampled_from([(msgpack.packb("stop"), True), (msgpack.packb("status"), True), (None, False),
                         (msgpack.packb("nope"), False), (msgpack.packb(5), False), (msgpack.packb("x" * 5000), False)])
IDS = st.sampled_from([(msgpack.packb("fz-1"), "fz-1"), (None, None), (msgpack.packb(7), None),
                       (msgpack.packb("i" * 5000), "i" * 5000)])
# Body kinds: the bytes of the value and what the bus makes of it once the token is right.
BODIES = st.sampled_from([
    ("fine", msgpack.packb({})),
    ("bad utf-8", b"\x81\xa1x\xa2\xff\xfe"),
    ("list key", b"\x81\x91\x01\x01"),
    ("deeper than 32", b"\x81\xa1x" + _nested(40)),
    ("deeper than msgpack", b"\x81\xa1x" + _nested(1500)),
    ("absent", b""),
])


@st.composite
def requests(draw: st.DrawFn, token: str) -> tuple[bytes, str, str | None]:
    version, version_ok = draw(VERSIONS)
    kind, kind_ok = draw(TYPES)
    request_id, id_str = draw(IDS)
    token_kind = draw(st.sampled_from(["right", "wrong", "absent", "not a string", "huge"]))
    token_bytes = {"right": msgpack.packb(token), "wrong": msgpack.packb("w" * len(token)), "absent": None,
                   "not a string": msgpack.packb(42), "huge": msgpack.packb([token] * 200)}[token_kind]
    body_kind, body = draw(BODIES)
    entries = [(b"\xa1v", version), (b"\xa4type", kind), (b"\xa2id", request_id), (b"\xa5token", token_bytes),
               (b"\xa2ts", msgpack.packb(time.time())), (b"\xa4body", body or None)]
    extra = draw(st.lists(st.tuples(st.sampled_from([b"\xa5extra", b"\xa4note", b"\x01"]),
                                    st.sampled_from([msgpack.packb(None), msgpack.packb([1, 2]), _nested(20)])),
                          max_size=2))
    present = [(k, v) for k, v in entries if v is not None] + extra
    order = draw(st.permutations(range(len(present))))
    payload = bytes([0x80 | len(present)]) + b"".join(present[i][0] + present[i][1] for i in order)
    trailing = draw(st.booleans()) and draw(st.booleans())
    if trailing:
        payload += b"\xc0"   # one byte after the map: not one msgpack value
    # How far the bus reads the map before the token check: up to the last of v, type, id and
    # token when all four are there, else to the end (where a trailing byte is seen).
    position = {present[i][0]: place for place, i in enumerate(order)}
    needed = [b"\xa1v", b"\xa4type", b"\xa2id", b"\xa5token"]
    stop = max(position[k] for k in needed) if all(k in position for k in needed) else None
    body_read = body_kind != "absent" and (stop is None or position[b"\xa4body"] < stop)
    # The documented order: the map as far as read, version, type, token, the rest of the
    # payload decoded, then the schema.
    reply_id = id_str if id_str is not None and len(id_str) <= 4096 else None
    if (trailing and stop is None) or (body_kind == "deeper than msgpack" and body_read):
        return payload, "bad_request", None
    if not version_ok:
        return payload, "unsupported_version", reply_id
    if not kind_ok:
        return payload, "unknown_type", reply_id
    if token_kind != "right":
        return payload, "unauthorized", reply_id
    if trailing or body_kind in ("bad utf-8", "list key", "deeper than 32", "deeper than msgpack"):
        return payload, "bad_request", reply_id     # an id over 4 KiB is known only once decoded
    reply_id = id_str
    if body_kind == "absent" or id_str is None:
        return payload, "bad_request", reply_id     # schema: body and id are required
    return payload, OK, reply_id


def test_envelope_then_body_in_the_documented_order(bus: SidecarHandle) -> None:
    context: zmq.Context[Any] = zmq.Context()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.RCVTIMEO, 10_000)
    dealer.connect(bus.command_endpoint)
    seen: set[str] = set()

    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=requests(bus.token))
    def throw(case: tuple[bytes, str, str | None]) -> None:
        payload, expected, expected_id = case
        dealer.send_multipart([b"", payload])
        frames = dealer.recv_multipart()
        assert len(frames) == 2 and frames[0] == b""
        reply = msgpack.unpackb(frames[1], raw=False)
        validate_reply(reply)
        code = OK if reply["ok"] else reply["error"]["code"]
        assert code == expected, (payload[:120], reply.get("error"))
        assert reply["id"] == expected_id, (payload[:120], str(reply["id"])[:40], reply.get("error"))
        seen.add(code)

    try:
        throw()
    finally:
        dealer.close(0)
        context.term()
    assert seen == {OK, "bad_request", "unsupported_version", "unknown_type", "unauthorized"}, seen
    assert bus.alive()
    client = CommandClient(bus.command_endpoint, bus.token)
    assert client.call("hello", {"client": "after-fuzz", "client_version": "1", "protocols": [1]})["protocol"] == 1
    client.close()
    assert "Traceback" not in bus.log(), bus.log()[-3000:]
