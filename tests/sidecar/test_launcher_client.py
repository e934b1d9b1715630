"""The shared CPython launcher and request client (``sidecar.client``): against a real
sidecar, and against a bare ROUTER that answers late, twice or never (the lazy pirate)."""
from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgpack
import pytest
import zmq

from shared_schemas import protocol
from sidecar.client import (
    LaunchError,
    RequestClient,
    SidecarError,
    SidecarLauncher,
    SidecarTimeout,
    serve_arguments,
)
from sidecar.client.launcher import LOOPBACK_ANY_PORT

QUIET = "[simulator]\ndemo_faults = false\n"


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[SidecarLauncher]:
    config = tmp_path / "sidecar.toml"
    config.write_text(QUIET, encoding="utf-8")
    args = serve_arguments(command_endpoint=LOOPBACK_ANY_PORT, event_endpoint=LOOPBACK_ANY_PORT,
                           data_dir=tmp_path / "data", config=config, dashboard=False)
    with SidecarLauncher(args, log_path=tmp_path / "sidecar.log") as launcher:
        yield launcher


def test_the_launcher_waits_for_hello_and_stops_politely(launched: SidecarLauncher) -> None:
    assert launched.running() and launched.hello["state"] == protocol.STATE_IDLE
    assert launched.command_endpoint.startswith("tcp://127.0.0.1:") and not launched.command_endpoint.endswith("*")
    assert launched.token and launched.token_path == launched.token_path.parent / protocol.TOKEN_FILE_NAME
    if sys.platform != "win32":  # its own session: a terminal's Ctrl-C or hang-up reaches only the parent
        assert launched.pid is not None and os.getsid(launched.pid) != os.getsid(0)
    with launched.client(timeout_s=5.0) as client:
        assert client.request(protocol.STATUS)["state"] == protocol.STATE_IDLE
        with pytest.raises(SidecarError) as refused:
            client.request(protocol.START)
        assert refused.value.code == "conflict" and not isinstance(refused.value, SidecarTimeout)
        client.token = "wrong"
        with pytest.raises(SidecarError) as unauthorized:
            client.request(protocol.STATUS)
        assert unauthorized.value.code == "unauthorized"
    assert launched.stop() == 0 and not launched.running()
    assert "stopped" in launched.log()


def test_a_sidecar_that_exits_before_ready_is_a_launch_error_with_its_log(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sidecar]\ncommand_endpoint = 5\n", encoding="utf-8")
    launcher = SidecarLauncher(serve_arguments(data_dir=tmp_path, config=bad), log_path=tmp_path / "sidecar.log")
    with pytest.raises(LaunchError) as error:
        launcher.start(ready_timeout_s=30)
    assert "exited with code 2" in str(error.value) and "command_endpoint" in str(error.value)
    assert not launcher.running()


def test_an_appended_log_is_read_from_this_start_only(tmp_path: Path) -> None:
    log = tmp_path / "sidecar.log"
    log.write_text("x ready command=tcp://127.0.0.1:1 events=tcp://127.0.0.1:2 token_file=/nowhere\n",
                   encoding="utf-8")  # an earlier run's line must not be taken for this one's
    args = serve_arguments(command_endpoint=LOOPBACK_ANY_PORT, event_endpoint=LOOPBACK_ANY_PORT,
                           data_dir=tmp_path / "data", dashboard=False)
    with SidecarLauncher(args, log_path=log, append_log=True) as launcher:
        assert launcher.command_endpoint != "tcp://127.0.0.1:1"
        assert "token_file=/nowhere" not in launcher.log()
    assert log.read_text(encoding="utf-8").startswith("x ready")


class Router:
    """A bare ROUTER on a thread; ``answer(request, copy)`` returns the reply map (or None for
    no reply) and a delay; every request is recorded with the identity it came from."""

    def __init__(self, answer: Callable[[dict[str, Any], int], tuple[dict[str, Any] | None, float]]) -> None:
        self.context: zmq.Context[Any] = zmq.Context()
        self.socket = self.context.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.answer = answer
        self.seen: list[tuple[bytes, dict[str, Any]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending: list[tuple[float, list[bytes]]] = []
        while not self._stop.is_set():
            if self.socket.poll(10):
                identity, empty, payload = self.socket.recv_multipart()
                request = msgpack.unpackb(payload, raw=False)
                copies = sum(1 for _, seen in self.seen if seen["id"] == request["id"])
                self.seen.append((identity, request))
                reply, delay = self.answer(request, copies)
                if reply is not None:
                    pending.append((time.monotonic() + delay, [identity, empty, msgpack.packb(reply)]))
            now = time.monotonic()
            for item in [p for p in pending if p[0] <= now]:
                pending.remove(item)
                self.socket.send_multipart(item[1])

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.socket.close(0)
        self.context.term()


def ok(request: dict[str, Any], body: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"v": 1, "type": request["type"], "id": request["id"], "ts": time.time(), "ok": True,
            "body": body if body is not None else {"echo": request["body"]}}


def test_no_reply_is_a_timeout_and_the_next_request_dials_afresh() -> None:
    router = Router(lambda request, copies: (ok(request), 0.0) if request["body"].get("n") != 1 else (None, 0))
    try:
        client = RequestClient(router.endpoint, "t", timeout_s=0.3)
        with pytest.raises(SidecarTimeout) as timed_out:
            client.request("status", {"n": 1})
        assert isinstance(timed_out.value, TimeoutError) and timed_out.value.code == "timeout"
        assert "did not answer 'status' within 0.3 s" in str(timed_out.value)
        assert client.request("status", {"n": 2}) == {"echo": {"n": 2}}
        assert router.seen[0][0] != router.seen[1][0], "the request after a time-out must use a fresh socket"
        assert router.seen[1][1]["token"] == "t" and router.seen[1][1]["v"] == protocol.PROTOCOL_VERSION
        client.close()
    finally:
        router.close()


def test_a_late_reply_is_never_taken_for_the_next_request() -> None:
    # the first request is answered after its time-out; the second, at once
    router = Router(lambda request, copies: (ok(request), 0.6 if request["body"].get("n") == 1 else 0.0))
    try:
        client = RequestClient(router.endpoint, "t", timeout_s=0.3)
        with pytest.raises(SidecarTimeout):
            client.request("status", {"n": 1})
        time.sleep(0.5)
        assert client.request("status", {"n": 2}) == {"echo": {"n": 2}}
        client.close()
    finally:
        router.close()


def test_retries_resend_on_a_fresh_socket_until_one_is_answered() -> None:
    router = Router(lambda request, copies: (ok(request), 0.0) if copies == 2 else (None, 0))
    try:
        client = RequestClient(router.endpoint, "t", timeout_s=0.2, retries=2)
        assert client.request("snapshot", {"n": 7}) == {"echo": {"n": 7}}
        assert len(router.seen) == 3 and len({identity for identity, _ in router.seen}) == 3
        assert len({request["id"] for _, request in router.seen}) == 1  # the same request, sent again
        client.retries = 1
        with pytest.raises(SidecarTimeout, match=r"\(2 tries\)"):
            client.request("snapshot", {"n": 8})
        client.close()
    finally:
        router.close()


def test_an_error_reply_with_a_nil_id_is_ours_and_typed() -> None:
    def refuse(request: dict[str, Any], copies: int) -> tuple[dict[str, Any], float]:
        return {"v": 1, "type": request["type"], "id": None, "ts": time.time(), "ok": False,
                "error": {"code": "bad_request", "message": "no", "details": {"field": "id"}}}, 0.0

    router = Router(refuse)
    try:
        client = RequestClient(router.endpoint, "t", timeout_s=2.0)
        with pytest.raises(SidecarError) as refused:
            client.request("status")
        assert (refused.value.code, refused.value.message, refused.value.details) == ("bad_request", "no",
                                                                                     {"field": "id"})
        client.close()
    finally:
        router.close()
