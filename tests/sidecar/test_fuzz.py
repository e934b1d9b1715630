"""Random frames at a running sidecar subprocess: every message gets an error or ok reply, and
afterwards the sidecar still answers `status` correctly and its process is alive."""
from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import msgpack
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.buildings import small_building
from support.protocol_client import CommandClient
from support.sidecar_process import SidecarHandle, running_sidecar

from shared_schemas import protocol
from shared_schemas.validation import validate_reply

CONFIG = "[sidecar]\nmax_payload_bytes = 65536\n[simulator]\ndemo_faults = false\n"


@pytest.fixture(scope="module")
def fuzzed() -> Iterator[SidecarHandle]:
    with running_sidecar(CONFIG) as handle:
        yield handle


@pytest.fixture(scope="module")
def dealer(fuzzed: SidecarHandle) -> Iterator[zmq.Socket[Any]]:
    context: zmq.Context[Any] = zmq.Context()
    socket = context.socket(zmq.DEALER)
    socket.setsockopt(zmq.LINGER, 0)
    socket.setsockopt(zmq.RCVTIMEO, 10_000)
    socket.connect(fuzzed.command_endpoint)
    yield socket
    socket.close(0)
    context.term()


MSGPACK_INTS = st.integers(-(2**63), 2**64 - 1)
scalars = st.one_of(st.none(), st.booleans(), MSGPACK_INTS, st.floats(allow_nan=True),
                    st.text(max_size=20), st.binary(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=5),
                                                        st.dictionaries(st.text(max_size=8), inner, max_size=5)),
                      max_leaves=20)
readings = st.lists(st.one_of(
    st.tuples(st.sampled_from(["ahu1.sf_vib", "zone.co2", "nobody", ""]),
              st.one_of(st.floats(allow_nan=True), st.just(time.time()), MSGPACK_INTS),
              st.one_of(st.floats(allow_nan=True), MSGPACK_INTS, st.text(max_size=3), st.none())).map(list),
    values), max_size=8)


def plausible_maps(token: str) -> st.SearchStrategy[dict[str, Any]]:
    bodies = st.one_of(values, st.fixed_dictionaries({}, optional={
        "readings": readings, "alert_id": values, "unique_ids": values, "client": values,
        "protocols": values, "building_id": values, "elements": values}))
    return st.fixed_dictionaries({}, optional={
        "v": st.one_of(st.just(1), values), "type": st.one_of(st.sampled_from(protocol.REQUEST_TYPES), values),
        "id": st.one_of(st.text(min_size=1, max_size=10), values), "ts": st.one_of(st.floats(), values),
        "token": st.one_of(st.just(token), values), "body": bodies})


def frames_strategy(token: str) -> st.SearchStrategy[list[bytes]]:
    payload = st.one_of(
        st.binary(max_size=200),
        values.map(lambda v: msgpack.packb(v, use_bin_type=True)),
        plausible_maps(token).map(lambda m: msgpack.packb(m, use_bin_type=True)),
    )
    well_framed = payload.map(lambda p: [b"", p])
    badly_framed = st.lists(st.one_of(payload, st.just(b"")), min_size=1, max_size=4)
    return st.one_of(well_framed, badly_framed)


def _check_reply(frames: list[bytes]) -> None:
    assert len(frames) == 2 and frames[0] == b""
    reply = msgpack.unpackb(frames[1], raw=False, strict_map_key=False)
    assert reply["v"] == 1 and reply["ok"] in (True, False)
    if reply["ok"] is False:
        assert reply["error"]["code"] in protocol.ERROR_CODES
    validate_reply(reply)


def test_random_frames_never_break_the_sidecar(fuzzed: SidecarHandle, dealer: zmq.Socket[Any]) -> None:
    client = CommandClient(fuzzed.command_endpoint, fuzzed.token)
    client.call("configure", small_building())
    client.call("start")

    @settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
    @given(frames=frames_strategy(fuzzed.token))
    def throw(frames: list[bytes]) -> None:
        dealer.send_multipart(frames)
        _check_reply(dealer.recv_multipart())

    throw()
    assert fuzzed.alive()
    status = client.call("status")
    assert status["state"] in protocol.STATES and status["uptime_s"] > 0
    assert isinstance(status["active_alerts"], int) and math.isfinite(status["readings_per_s"])
    assert client.call("hello", {"client": "after-fuzz", "client_version": "1", "protocols": [1]})["protocol"] == 1
    client.close()
    assert "Traceback" not in fuzzed.log(), fuzzed.log()[-3000:]  # no handler blew up
