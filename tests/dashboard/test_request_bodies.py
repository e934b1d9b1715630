"""Issue 15.6: every POST body the dashboard gets is answered 2xx/3xx or 4xx, never 5xx.

Reproduction: ``POST /api/command/start`` with 100,000 nested ``[`` answered HTTP 500 (a
RecursionError in the JSON decoder). A command body must now be a small (16 KiB), shallow
(4 levels) JSON object, checked before decoding. The fuzz test throws random bodies, content
types and deep nestings at every POST route of the dashboard of a real sidecar process.
"""
from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.buildings import small_building
from support.protocol_client import CommandClient
from support.sidecar_process import SidecarHandle, running_sidecar

from shared_schemas import protocol
from sidecar.dashboard.app import (
    MAX_COMMAND_BODY_BYTES,
    MAX_COMMAND_BODY_DEPTH,
    PAGE_COMMANDS,
    BodyError,
    parse_command_body,
)

POST_PATHS = ["/login", "/api/command/nope", "/api/status", "/"] + [f"/api/command/{k}" for k in PAGE_COMMANDS]


class Dashboard:
    def __init__(self, handle: SidecarHandle, url: str):
        self.handle = handle
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80

    def post(self, path: str, body: bytes, content_type: str | None = "application/json") -> tuple[int, bytes]:
        connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            headers = {"Content-Type": content_type} if content_type else {}
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def dashboard() -> Iterator[Dashboard]:
    with running_sidecar("[simulator]\ndemo_faults = false\n", extra_args=["--dashboard-port", "0"]) as handle:
        client = CommandClient(handle.command_endpoint, handle.token)
        deadline = time.monotonic() + 20
        while not (status := client.call(protocol.STATUS)).get("dashboard_url"):
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        client.call("configure", small_building())
        client.close()
        yield Dashboard(handle, status["dashboard_url"])


def _assert_refused(status: int, payload: bytes, code: str | None = None) -> None:
    assert 400 <= status < 500, (status, payload[:300])
    error = json.loads(payload)["error"]
    if code is not None:
        assert error["code"] == code, error


@pytest.mark.parametrize("body", [b"[" * 100_000, b"{\"a\":" * 10_000, b"[" * 5 + b"]" * 5,
                                  b'{"a": [[[[1]]]]}', b"[" * 100_000 + b"]" * 100_000])
def test_deep_bodies_are_refused_with_400(dashboard: Dashboard, body: bytes) -> None:
    status, payload = dashboard.post("/api/command/start", body)
    _assert_refused(status, payload, "bad_request" if len(body) <= MAX_COMMAND_BODY_BYTES else "too_large")


def test_bodies_over_the_limit_are_refused_with_413(dashboard: Dashboard) -> None:
    body = json.dumps({"alert_id": "x", "note": "n" * MAX_COMMAND_BODY_BYTES}).encode()
    status, payload = dashboard.post("/api/command/ack", body)
    assert status == 413, payload
    _assert_refused(status, payload, "too_large")
    status, payload = dashboard.post("/api/command/ack", b" " * (2 << 20))  # beyond aiohttp's own 1 MiB cap
    assert status == 413, payload


def test_a_small_object_still_reaches_the_sidecar(dashboard: Dashboard) -> None:
    status, payload = dashboard.post("/api/command/stop", b"{}")
    assert status == 200 and json.loads(payload)["body"]["state"] == "configured", payload
    status, payload = dashboard.post("/api/command/ack", b'{"alert_id": "no-such-alert", "user": "\\"[[[["}')
    _assert_refused(status, payload, "bad_request")  # reached the real ack handler: unknown alert


def test_parse_command_body_rules() -> None:
    assert parse_command_body(b'{"note": "[[[[[[[[[[ {{{{{{ \\" [[[["}') == {"note": "[[[[[[[[[[ {{{{{{ \" [[[["}
    assert parse_command_body(b'{"a": {"b": {"c": [1]}}}') == {"a": {"b": {"c": [1]}}}
    for bad in (b'{"a": {"b": {"c": [[1]]}}}', b"[]", b"1", b'{"x": NaN}', b'{"x": -Infinity}',
                b'{"x": ' + b"1" * 5000 + b"}", b"\xff{}", b"", b"{", b'"{}"'):
        with pytest.raises(BodyError):
            parse_command_body(bad)
    assert MAX_COMMAND_BODY_DEPTH == 4


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=30)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
    max_leaves=30)
plausible = st.fixed_dictionaries({}, optional={
    "alert_id": st.one_of(st.text(max_size=20), json_values), "user": json_values, "note": json_values,
    "duration_s": st.one_of(st.floats(-10, 1e6), json_values), "until_ts": json_values, "reason": json_values,
    "token": st.text(max_size=10)})
nestings = st.builds(lambda opener, n, closed: opener * n + (b"]" * n if closed else b""),
                     st.sampled_from([b"[", b"{\"k\":", b"[{\"k\":"]), st.integers(1, 200_000), st.booleans())
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    plausible.map(lambda v: json.dumps(v).encode()),
    nestings,
    st.sampled_from([b'{"x": NaN}', b'{"x": Infinity}', b'{"x": ' + b"9" * 5000 + b"}", b"\xef\xbb\xbf{}",
                     b'{"alert_id": "\\ud800"}', b"token=abc", b"token=" + b"%FF" * 10]),
    st.integers(MAX_COMMAND_BODY_BYTES - 20, MAX_COMMAND_BODY_BYTES + 20).map(
        lambda n: b'{"note": "' + b"n" * n + b'"}'),
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain",
                                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                                 "multipart/form-data", None])


def test_fuzz_every_post_route_answers_without_a_server_error(dashboard: Dashboard) -> None:
    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(path=st.sampled_from(POST_PATHS), body=bodies, content_type=content_types)
    def post(path: str, body: bytes, content_type: str | None) -> None:
        status, payload = dashboard.post(path, body, content_type)
        assert status < 500, (path, content_type, body[:200], status, payload[:300])
        if path.startswith("/api/command/") and status == 200:
            # only a small, shallow JSON object gets through to the sidecar
            assert content_type and content_type.startswith("application/json")
            parsed: Any = json.loads(body)
            assert isinstance(parsed, dict) and len(body) <= MAX_COMMAND_BODY_BYTES

    post()
    assert dashboard.handle.alive()
    status, _ = dashboard.post("/api/command/stop", b"{}")
    assert status == 200
    assert "Traceback" not in dashboard.handle.log(), dashboard.handle.log()[-3000:]
