"""SidecarClient against a small in-test pyzmq ROUTER/PUB responder that follows PROTOCOL.md.

(Not the real sidecar: this pins the client's behaviour to the written protocol.)
"""
import os
import queue
import socket
import threading
import time

import msgpack
import pytest
import zmq
from revitpyiot import protocol
from revitpyiot.transport.client import SidecarClient, SidecarError, SidecarTimeout, SidecarUnavailable

TOKEN = "test-token-123"


def free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class ErrorReply(Exception):
    def __init__(self, code, message, details=None):
        Exception.__init__(self, message)
        self.code, self.message, self.details = code, message, details


class Responder:
    """A ROUTER that answers requests the way PROTOCOL.md says, on its own thread."""

    def __init__(self, ctx, endpoint, token=TOKEN):
        self.ctx = ctx
        self.endpoint = endpoint
        self.token = token
        self.handlers = {"status": lambda body: {"state": "idle", "sensors": 0}}
        self.delays = {}          # type -> seconds to wait before replying (once per entry in list)
        self.stale_first = False  # send a reply with a foreign id before the real one
        self.requests = []
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10)

    def _bind(self):
        deadline = time.time() + 10
        while True:
            sock = self.ctx.socket(zmq.ROUTER)
            sock.linger = 0
            try:
                sock.bind(self.endpoint)
                return sock
            except zmq.ZMQError:
                sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)

    def _run(self):
        router = self._bind()
        self._ready.set()
        pending = []  # (due time, ident, reply bytes)
        try:
            while not self._stop.is_set():
                if router.poll(20):
                    ident, _empty, payload = router.recv_multipart()
                    for item in self._answer(payload):
                        due = time.time() + item[0]
                        pending.append((due, ident, item[1]))
                now = time.time()
                for entry in [p for p in pending if p[0] <= now]:
                    pending.remove(entry)
                    router.send_multipart([entry[1], b"", entry[2]])
        finally:
            router.close()

    def _answer(self, payload):
        try:
            request = msgpack.unpackb(payload, raw=False)
        except (ValueError, TypeError):
            return [(0, self._reply(None, None, error=("bad_request", "not msgpack", None)))]
        self.requests.append(request)
        rid, rtype = request.get("id"), request.get("type")
        if request.get("v") != 1:
            return [(0, self._reply(rid, rtype, error=("unsupported_version", "v must be 1", None)))]
        if request.get("token") != self.token:
            return [(0, self._reply(rid, rtype, error=("unauthorized", "bad token", None)))]
        handler = self.handlers.get(rtype)
        if handler is None:
            return [(0, self._reply(rid, rtype, error=("unknown_type", "no such type", {"type": rtype})))]
        try:
            reply = self._reply(rid, rtype, body=handler(request.get("body")))
        except ErrorReply as exc:
            reply = self._reply(rid, rtype, error=(exc.code, exc.message, exc.details))
        delays = self.delays.get(rtype)
        delay = delays.pop(0) if delays else 0
        out = []
        if self.stale_first:
            out.append((delay, self._reply(f"someone-else-{rid}", rtype, body={"stale": True})))
        out.append((delay, reply))
        return out

    @staticmethod
    def _reply(rid, rtype, body=None, error=None):
        reply = {"v": 1, "type": rtype, "id": rid, "ts": time.time(), "ok": error is None}
        if error is None:
            reply["body"] = body
        else:
            reply["body"] = {}
            reply["error"] = {"code": error[0], "message": error[1], "details": error[2]}
        return msgpack.packb(reply)

    def stop(self):
        self._stop.set()
        self._thread.join(10)


class Publisher:
    """A PUB socket publishing PROTOCOL.md events with per-topic seq (used from the test thread)."""

    def __init__(self, ctx, endpoint):
        deadline = time.time() + 10
        while True:
            self.sock = ctx.socket(zmq.PUB)
            self.sock.linger = 0
            try:
                self.sock.bind(endpoint)
                break
            except zmq.ZMQError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.seq = {}

    def publish(self, topic, body, seq=None):
        if seq is None:
            seq = self.seq.get(topic, 0) + 1
        self.seq[topic] = seq
        event = {"v": 1, "type": topic, "id": f"ev-{topic}-{seq}", "ts": time.time(), "seq": seq,
                 "body": body}
        self.sock.send_multipart([topic.encode(), msgpack.packb(event)])
        return event

    def close(self):
        self.sock.close()


class Recorder:
    def __init__(self):
        self.events = queue.Queue()
        self.gaps = queue.Queue()

    def callback(self, topic, event):
        self.events.put((topic, event))

    def on_gap(self, topic, reason):
        self.gaps.put((topic, reason))


def get(q, timeout=10):
    return q.get(timeout=timeout)


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def endpoints():
    return f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"


@pytest.fixture
def responder(ctx, endpoints):
    server = Responder(ctx, endpoints[0])
    yield server
    server.stop()


@pytest.fixture
def client(endpoints):
    c = SidecarClient(endpoints[0], endpoints[1], token=TOKEN, timeout_s=5.0)
    yield c
    c.close()


def wait_until_flowing(pub, rec, topic="alert"):
    """Publish until the subscription delivers: subscriptions reach the PUB asynchronously."""
    deadline = time.time() + 10
    while time.time() < deadline:
        pub.publish(topic, {"probe": True})
        try:
            return get(rec.events, timeout=0.1)
        except queue.Empty:
            continue
    raise AssertionError("the subscription never delivered")


def drain(q, wait=0.3):
    items = []
    while True:
        try:
            items.append(q.get(timeout=wait))
        except queue.Empty:
            return items


# --- requests -------------------------------------------------------------------------------

def test_request_reply_envelope(responder, client):
    responder.handlers["hello"] = lambda body: {"sidecar_version": "0.1.0", "protocol": 1,
                                                "state": "idle", "echo": body}
    body = client.request("hello", {"client": "test", "client_version": "1", "protocols": [1],
                                    "document": "Caf\u00e9 \U0001F3E2"})
    assert body["state"] == "idle" and body["echo"]["document"] == "Caf\u00e9 \U0001F3E2"
    sent = responder.requests[-1]
    assert sent["v"] == 1 and sent["type"] == "hello" and sent["token"] == TOKEN
    assert isinstance(sent["id"], str) and isinstance(sent["ts"], float)
    assert client.request("status") == {"state": "idle", "sensors": 0}
    assert responder.requests[-1]["body"] == {}
    ids = [r["id"] for r in responder.requests]
    assert len(set(ids)) == len(ids)


def test_many_requests_and_large_payloads(responder, client):
    responder.handlers["ingest"] = lambda body: {"accepted": len(body["readings"]), "rejected": []}
    readings = [[f"sensor-{i}", 1.7e9 + i, i * 0.5] for i in range(20000)]
    assert client.request("ingest", {"readings": readings})["accepted"] == 20000
    for i in range(200):
        assert client.request("status")["state"] == "idle"


def test_error_reply_raises_sidecar_error_with_code(responder, client):
    def conflict(body):
        raise ErrorReply("conflict", "start without a configuration", {"state": "idle"})
    responder.handlers["start"] = conflict
    with pytest.raises(SidecarError) as info:
        client.request("start", {})
    assert info.value.code == "conflict"
    assert info.value.message == "start without a configuration"
    assert info.value.details == {"state": "idle"}
    assert not isinstance(info.value, (SidecarTimeout, SidecarUnavailable))
    with pytest.raises(SidecarError) as info:
        client.request("no_such_type", {})
    assert info.value.code == "unknown_type"
    assert client.request("status")["state"] == "idle"  # the connection is still fine


def test_wrong_token_is_unauthorized(responder, endpoints):
    with SidecarClient(endpoints[0], endpoints[1], token="wrong", timeout_s=5) as c:
        with pytest.raises(SidecarError) as info:
            c.request("status")
        assert info.value.code == "unauthorized"


def test_timeout_is_bounded_then_next_request_works(responder, client):
    responder.delays["status"] = [3.0]
    with pytest.raises(SidecarTimeout) as info:
        client.request("status", timeout_s=0.3)
    assert info.value.code == "timeout"
    assert client.request("status", timeout_s=5)["state"] == "idle"


def test_late_reply_after_timeout_is_discarded(responder, client):
    calls = {"n": 0}

    def numbered(body):
        calls["n"] += 1
        return {"n": calls["n"]}
    responder.handlers["status"] = numbered
    responder.delays["status"] = [0.6]
    with pytest.raises(SidecarTimeout):
        client.request("status", timeout_s=0.2)
    time.sleep(0.8)  # the late reply to the first request is sent now
    assert client.request("status")["n"] == 2
    assert client.request("status")["n"] == 3


def test_reply_with_foreign_id_is_discarded(responder, client):
    responder.stale_first = True
    body = client.request("status")
    assert body == {"state": "idle", "sensors": 0} and "stale" not in body


def test_server_restart_then_next_request_works(ctx, endpoints, client):
    server = Responder(ctx, endpoints[0])
    assert client.request("status")["state"] == "idle"
    server.stop()
    server = Responder(ctx, endpoints[0])
    server.handlers["status"] = lambda body: {"state": "monitoring"}
    try:
        assert client.request("status")["state"] == "monitoring"
    finally:
        server.stop()


def test_server_down_then_up(ctx, endpoints, client):
    with pytest.raises(SidecarUnavailable) as info:
        client.request("status", timeout_s=0.5)
    assert info.value.code == "unavailable"
    server = Responder(ctx, endpoints[0])
    try:
        assert client.request("status")["state"] == "idle"
    finally:
        server.stop()


def test_server_dies_mid_request(ctx, endpoints, client):
    server = Responder(ctx, endpoints[0])
    server.delays["status"] = [5.0]
    errors = []

    def call():
        try:
            client.request("status", timeout_s=8)
        except SidecarError as exc:
            errors.append(exc)
    thread = threading.Thread(target=call)
    thread.start()
    time.sleep(0.5)
    server.stop()
    thread.join(20)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], SidecarError)


def test_concurrent_requests_from_threads(responder, client):
    results = []

    def worker():
        for _ in range(20):
            results.append(client.request("status")["state"])
    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == ["idle"] * 80


def test_closed_client_refuses_requests(responder, endpoints):
    c = SidecarClient(endpoints[0], endpoints[1], token=TOKEN)
    c.close()
    with pytest.raises(SidecarError):
        c.request("status")


# --- token file -----------------------------------------------------------------------------

def test_token_read_from_token_file(ctx, endpoints, tmp_path, monkeypatch):
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(tmp_path))
    token_path = protocol.default_token_path()
    assert token_path.startswith(str(tmp_path))
    with open(token_path, "w") as handle:
        handle.write("file-token-xyz\n")
    server = Responder(ctx, endpoints[0], token="file-token-xyz")
    try:
        with SidecarClient(endpoints[0], endpoints[1]) as c:
            assert c.token == "file-token-xyz"
            assert c.request("status")["state"] == "idle"
            assert server.requests[-1]["token"] == "file-token-xyz"
    finally:
        server.stop()


def test_missing_token_file_says_how_to_start_the_sidecar(tmp_path, monkeypatch):
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(tmp_path / "never-started"))
    with pytest.raises(SidecarUnavailable) as info:
        SidecarClient("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")
    assert info.value.code == "unavailable"
    assert "not been started" in info.value.message
    assert "python -m sidecar serve" in info.value.message
    assert "tray" in info.value.message


def test_empty_token_file_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(tmp_path))
    open(os.path.join(str(tmp_path), "token"), "w").close()
    with pytest.raises(SidecarUnavailable):
        SidecarClient("tcp://127.0.0.1:1", "tcp://127.0.0.1:2")


# --- subscriptions --------------------------------------------------------------------------

def test_subscription_delivers_and_detects_seq_gap(ctx, endpoints, client):
    pub = Publisher(ctx, endpoints[1])
    rec = Recorder()
    sub = client.subscribe(["alert", "health"], rec.callback, rec.on_gap)
    try:
        wait_until_flowing(pub, rec)
        drain(rec.events)
        assert drain(rec.gaps, wait=0.05) == []
        pub.publish("alert", {"alert_id": "a1", "state": "active"})
        pub.publish("health", {"items": [{"unique_id": "u1", "health_score": 80.0}]})
        pub.publish("status", {"state": "monitoring"})  # not subscribed: not delivered
        pub.publish("alert", {"alert_id": "a2"}, seq=pub.seq["alert"] + 3)  # lost two events
        pub.publish("alert", {"alert_id": "a3"})
        got = [get(rec.events) for _ in range(4)]
        assert [(t, e["body"].get("alert_id")) for t, e in got] == [
            ("alert", "a1"), ("health", None), ("alert", "a2"), ("alert", "a3")]
        assert got[1][1]["body"]["items"][0]["unique_id"] == "u1"
        assert set(got[0][1]) >= {"v", "type", "id", "ts", "seq", "body"}
        assert get(rec.gaps) == ("alert", "gap")
        assert drain(rec.gaps, wait=0.2) == []
        assert drain(rec.events, wait=0.2) == []
    finally:
        sub.stop()
        pub.close()
    assert not sub.alive


def test_reconnect_after_publisher_restart(ctx, endpoints, client):
    pub = Publisher(ctx, endpoints[1])
    rec = Recorder()
    sub = client.subscribe(["alert"], rec.callback, rec.on_gap)
    try:
        wait_until_flowing(pub, rec)
        pub.close()
        pub = Publisher(ctx, endpoints[1])  # a restarted sidecar: seq starts again at 1
        assert get(rec.gaps, timeout=20) == ("alert", "reconnect")
        event = wait_until_flowing(pub, rec)
        assert event[0] == "alert"
        assert sub.reconnects == 1
    finally:
        sub.stop()
        pub.close()


def test_silent_publisher_triggers_reconnect(ctx, endpoints, client):
    pub = Publisher(ctx, endpoints[1])
    rec = Recorder()
    sub = client.subscribe(["alert"], rec.callback, rec.on_gap, silence_s=0.6)
    try:
        wait_until_flowing(pub, rec)
        assert get(rec.gaps, timeout=20) == ("alert", "reconnect")
    finally:
        sub.stop()
        pub.close()


def test_status_heartbeat_keeps_connection_but_is_not_delivered(ctx, endpoints, client):
    pub = Publisher(ctx, endpoints[1])
    rec = Recorder()
    sub = client.subscribe(["alert"], rec.callback, rec.on_gap, silence_s=1.5)
    try:
        wait_until_flowing(pub, rec)
        deadline = time.time() + 4.0
        while time.time() < deadline:
            pub.publish("status", {"state": "monitoring"})
            time.sleep(0.1)
        assert sub.reconnects == 0
        assert drain(rec.gaps, wait=0.05) == []
        assert [t for t, _ in drain(rec.events, wait=0.1)] == []
    finally:
        sub.stop()
        pub.close()


def test_callback_exceptions_do_not_kill_the_thread(ctx, endpoints, client):
    pub = Publisher(ctx, endpoints[1])
    rec = Recorder()
    calls = []

    def bad_callback(topic, event):
        calls.append(event["seq"])
        if len(calls) % 2:
            raise RuntimeError("boom")
        rec.callback(topic, event)

    def bad_gap(topic, reason):
        raise ValueError("gap handler broke")
    sub = client.subscribe(["alert"], bad_callback, bad_gap)
    try:
        deadline = time.time() + 10
        while not calls and time.time() < deadline:
            pub.publish("alert", {})
            time.sleep(0.05)
        time.sleep(0.2)
        pub.publish("alert", {}, seq=pub.seq["alert"] + 5)  # gap: on_gap raises
        for _ in range(4):
            pub.publish("alert", {"x": 1})
        delivered = 0
        deadline = time.time() + 10
        while delivered < 2 and time.time() < deadline:
            try:
                delivered += get(rec.events, timeout=0.5)[1]["body"] == {"x": 1}
            except queue.Empty:
                pass
        assert delivered == 2  # every other callback raised; the thread kept going
        assert sub.alive
    finally:
        sub.stop()
        pub.close()


def test_close_stops_subscription_threads(ctx, endpoints):
    c = SidecarClient(endpoints[0], endpoints[1], token=TOKEN)
    rec = Recorder()
    subs = [c.subscribe(["alert"], rec.callback), c.subscribe("health", rec.callback)]
    assert all(s.alive for s in subs)
    c.close()
    assert not any(s.alive for s in subs)
