"""The extension's pure-Python ZMTP sockets against real libzmq (pyzmq) peers on loopback."""
import socket
import threading
import time

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from revitpyiot.transport import zmtp
from revitpyiot.transport.zmtp import DealerSocket, SubSocket, ZmtpClosed, ZmtpProtocolError, ZmtpTimeout

LOOPBACK = "tcp://127.0.0.1"


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)


def bind(ctx, kind, **options):
    sock = ctx.socket(kind)
    sock.linger = 0
    for name, value in options.items():
        sock.setsockopt(getattr(zmq, name), value)
    port = sock.bind_to_random_port(LOOPBACK)
    return sock, f"{LOOPBACK}:{port}"


def rebind(ctx, kind, endpoint, **options):
    """Bind a fresh socket on the same endpoint (a restarted peer), retrying while the port frees."""
    deadline = time.time() + 10
    while True:
        sock = ctx.socket(kind)
        sock.linger = 0
        for name, value in options.items():
            sock.setsockopt(getattr(zmq, name), value)
        try:
            sock.bind(endpoint)
            return sock
        except zmq.ZMQError:
            sock.close()
            if time.time() > deadline:
                raise
            time.sleep(0.05)


def recv_until(sub, predicate, timeout_s=5.0):
    deadline = time.time() + timeout_s
    while True:
        message = sub.recv_multipart(timeout_s=max(0.01, deadline - time.time()))
        if predicate(message):
            return message


def wait_subscribed(pub, sub, topic):
    """Publish probes until the SUB receives one: subscriptions travel asynchronously."""
    deadline = time.time() + 10
    while time.time() < deadline:
        pub.send_multipart([topic, b"probe"])
        try:
            message = sub.recv_multipart(timeout_s=0.05)
        except ZmtpTimeout:
            continue
        if message == [topic, b"probe"]:
            # Drain any further probes still in flight.
            while True:
                try:
                    sub.recv_multipart(timeout_s=0.1)
                except ZmtpTimeout:
                    return
    raise AssertionError(f"subscription to {topic!r} never took effect")


# --- DEALER against ROUTER ------------------------------------------------------------------

@pytest.mark.parametrize("minor", [0, 1])
@pytest.mark.parametrize("size", [0, 1, 255, 256, 65535, 65536, 70000, 1 << 20])
def test_dealer_frame_sizes_both_directions(ctx, minor, size):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket(identity=b"client-1", zmtp_minor=minor).connect(endpoint, timeout_s=5)
    try:
        body = bytes(bytearray((i * 7) & 0xff for i in range(size)))
        dealer.send_multipart([b"", body])
        assert router.recv_multipart() == [b"client-1", b"", body]
        router.send_multipart([b"client-1", b"", body, b"tail"])
        assert dealer.recv_multipart(timeout_s=5) == [b"", body, b"tail"]
    finally:
        dealer.close()


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(st.binary(max_size=300),
                          # big frames from a small description (sizes around the 255 and 64 KiB marks)
                          st.builds(lambda n, b: bytes([b]) * n,
                                    st.one_of(st.integers(250, 260), st.integers(65530, 70000)),
                                    st.integers(0, 255))),
                min_size=1, max_size=6))
def test_dealer_multipart_round_trip(ctx, frames):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket(identity=b"h").connect(endpoint)
    try:
        dealer.send_multipart(frames)
        got = router.recv_multipart()
        assert got == [b"h"] + frames
        router.send_multipart(got)
        assert dealer.recv_multipart(timeout_s=5) == frames
    finally:
        dealer.close()
        router.close()


def test_many_messages_pipelined(ctx):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket(identity=b"p").connect(endpoint)
    for i in range(500):
        dealer.send_multipart([b"", str(i).encode() * (i % 40)])
    for i in range(500):
        ident, empty, body = router.recv_multipart()
        router.send_multipart([ident, empty, body])
    for i in range(500):
        assert dealer.recv_multipart(timeout_s=5) == [b"", str(i).encode() * (i % 40)]
    dealer.close()


def test_handshake_metadata(ctx):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket(identity=b"me").connect(endpoint)
    assert dealer.peer_socket_type == "ROUTER"
    assert dealer.peer_version[0] == 3
    dealer.send_multipart([b"x"])
    frames = router.recv_multipart(copy=False)
    assert frames[0].bytes == b"me"
    assert frames[1].get("Socket-Type") == "DEALER"
    dealer.close()


def test_empty_identity_gets_generated_routing_id(ctx):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket().connect(endpoint)
    dealer.send_multipart([b"", b"hi"])
    ident, _empty, body = router.recv_multipart()
    assert ident and body == b"hi"
    router.send_multipart([ident, b"", b"back"])
    assert dealer.recv_multipart(timeout_s=5) == [b"", b"back"]
    dealer.close()


def test_recv_timeout_keeps_connection_usable(ctx):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket(identity=b"t").connect(endpoint)
    with pytest.raises(ZmtpTimeout):
        dealer.recv_multipart(timeout_s=0.1)
    dealer.send_multipart([b"", b"after"])
    router.send_multipart(router.recv_multipart())
    assert dealer.recv_multipart(timeout_s=5) == [b"", b"after"]
    dealer.close()


def test_timeout_mid_message_resumes(ctx):
    """A message whose frames arrive slowly survives a time-out between them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    results = {}

    def fake_router():
        conn, _ = listener.accept()
        conn.recv(64)
        conn.sendall(zmtp.greeting(0))
        conn.sendall(zmtp.encode_command("READY", zmtp.encode_metadata([("Socket-Type", "ROUTER")])))
        time.sleep(0.2)
        conn.sendall(zmtp.encode_frame(b"part1", more=True) + zmtp.encode_frame(b"x" * 300)[:5])
        time.sleep(0.5)
        conn.sendall(zmtp.encode_frame(b"x" * 300)[5:])
        results["conn"] = conn

    thread = threading.Thread(target=fake_router)
    thread.start()
    dealer = DealerSocket().connect(f"tcp://127.0.0.1:{port}")
    with pytest.raises(ZmtpTimeout):
        dealer.recv_multipart(timeout_s=0.4)
    assert dealer.recv_multipart(timeout_s=5) == [b"part1", b"x" * 300]
    thread.join()
    dealer.close()
    results["conn"].close()
    listener.close()


def test_router_restart_then_reconnect(ctx):
    router, endpoint = bind(ctx, zmq.ROUTER)
    dealer = DealerSocket(identity=b"r").connect(endpoint)
    dealer.send_multipart([b"", b"one"])
    router.send_multipart(router.recv_multipart())
    assert dealer.recv_multipart(timeout_s=5) == [b"", b"one"]
    router.close()
    with pytest.raises(ZmtpClosed):
        dealer.recv_multipart(timeout_s=5)
    assert not dealer.connected
    router = rebind(ctx, zmq.ROUTER, endpoint)
    dealer.reconnect(timeout_s=5)
    dealer.send_multipart([b"", b"two"])
    router.send_multipart(router.recv_multipart())
    assert dealer.recv_multipart(timeout_s=5) == [b"", b"two"]
    dealer.close()


def test_connect_refused_is_closed_error():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    with pytest.raises(ZmtpClosed):
        DealerSocket().connect(f"tcp://127.0.0.1:{port}", timeout_s=2)


def test_answers_ping_so_heartbeating_peer_keeps_the_connection(ctx):
    router, endpoint = bind(ctx, zmq.ROUTER, HEARTBEAT_IVL=50, HEARTBEAT_TIMEOUT=300, HEARTBEAT_TTL=1000)
    dealer = DealerSocket(identity=b"hb", zmtp_minor=1).connect(endpoint)
    # Longer than several heartbeat time-outs: only our PONGs keep the link up.
    deadline = time.time() + 1.5
    while time.time() < deadline:
        with pytest.raises(ZmtpTimeout):
            dealer.recv_multipart(timeout_s=0.25)
    dealer.send_multipart([b"", b"still here"])
    assert router.poll(2000)
    router.send_multipart(router.recv_multipart())
    assert dealer.recv_multipart(timeout_s=5) == [b"", b"still here"]
    dealer.close()


def test_dealer_refuses_pub_peer(ctx):
    _pub, endpoint = bind(ctx, zmq.PUB)
    with pytest.raises(ZmtpProtocolError):
        DealerSocket().connect(endpoint)


def test_sub_refuses_router_peer(ctx):
    _router, endpoint = bind(ctx, zmq.ROUTER)
    with pytest.raises(ZmtpProtocolError):
        SubSocket().connect(endpoint)


def test_refuses_plain_mechanism(ctx):
    _router, endpoint = bind(ctx, zmq.ROUTER, PLAIN_SERVER=1)
    # libzmq may hang up before sending its mechanism: either way a clean ZMTP error.
    with pytest.raises(zmtp.ZmtpError):
        DealerSocket().connect(endpoint)


def test_refuses_non_zmtp_peer():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def http_server():
        conn, _ = listener.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n" + b" " * 64)
        time.sleep(0.5)
        conn.close()

    thread = threading.Thread(target=http_server)
    thread.start()
    with pytest.raises(ZmtpProtocolError):
        DealerSocket().connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}")
    thread.join()
    listener.close()


def test_handshake_timeout_against_silent_peer():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    started = time.time()
    with pytest.raises(ZmtpTimeout):
        DealerSocket().connect(f"tcp://127.0.0.1:{listener.getsockname()[1]}", timeout_s=0.3)
    assert time.time() - started < 30  # bounded (generous: this is not a speed test)
    listener.close()


@pytest.mark.parametrize("endpoint", ["ipc:///tmp/x", "tcp://*:5", "tcp://host", "tcp://h:0",
                                      "tcp://h:notaport", "tcp://[::1:5"])
def test_bad_endpoints(endpoint):
    with pytest.raises(ValueError):
        zmtp.parse_tcp_endpoint(endpoint)


def test_endpoint_forms():
    assert zmtp.parse_tcp_endpoint("tcp://127.0.0.1:5570") == ("127.0.0.1", 5570)
    assert zmtp.parse_tcp_endpoint("tcp://[::1]:5571") == ("::1", 5571)
    assert zmtp.parse_tcp_endpoint("tcp://localhost:1") == ("localhost", 1)


# --- SUB against PUB ------------------------------------------------------------------------

@pytest.mark.parametrize("minor", [0, 1])
def test_sub_prefix_filtering(ctx, minor):
    pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket(zmtp_minor=minor)
    sub.subscribe(b"al")
    sub.connect(endpoint)
    wait_subscribed(pub, sub, b"alert")
    for topic in (b"health", b"alert", b"status", b"a", b"alarm"):
        pub.send_multipart([topic, b"payload-" + topic])
    pub.send_multipart([b"alert", b"end"])
    got = []
    while True:
        message = sub.recv_multipart(timeout_s=5)
        got.append(message)
        if message == [b"alert", b"end"]:
            break
    assert got == [[b"alert", b"payload-alert"], [b"alarm", b"payload-alarm"], [b"alert", b"end"]]
    sub.close()


@pytest.mark.parametrize("minor", [0, 1])
def test_many_subscriptions(ctx, minor):
    pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket(zmtp_minor=minor)
    topics = [f"topic-{i:03d}".encode() for i in range(0, 400, 2)]
    for topic in topics:
        sub.subscribe(topic)
    sub.connect(endpoint)
    wait_subscribed(pub, sub, topics[-1])
    for i in range(400):
        pub.send_multipart([f"topic-{i:03d}".encode(), b"x" * i])
    pub.send_multipart([topics[-1], b"end"])
    got = []
    while True:
        message = sub.recv_multipart(timeout_s=5)
        if message == [topics[-1], b"end"]:
            break
        got.append(message)
    assert got == [[f"topic-{i:03d}".encode(), b"x" * i] for i in range(0, 400, 2)]
    sub.close()


def test_empty_prefix_receives_everything(ctx):
    pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket()
    sub.subscribe(b"")
    sub.connect(endpoint)
    wait_subscribed(pub, sub, b"anything")
    pub.send_multipart([b"x", b"1"])
    pub.send_multipart([b"", b"2", b"3"])
    assert sub.recv_multipart(timeout_s=5) == [b"x", b"1"]
    assert sub.recv_multipart(timeout_s=5) == [b"", b"2", b"3"]
    sub.close()


@pytest.mark.parametrize("minor", [0, 1])
def test_unsubscribe(ctx, minor):
    pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket(zmtp_minor=minor)
    sub.subscribe(b"alert")
    sub.subscribe(b"health")
    sub.subscribe(b"health")  # counted: needs two unsubscribes
    sub.connect(endpoint)
    wait_subscribed(pub, sub, b"alert")
    wait_subscribed(pub, sub, b"health")
    sub.unsubscribe(b"health")
    assert sub.subscriptions == [b"alert", b"health"]
    sub.unsubscribe(b"health")
    assert sub.subscriptions == [b"alert"]
    # Give libzmq time to process the cancel, then check on the PUB side too
    # (a message that reaches us anyway is filtered locally).
    time.sleep(0.3)
    pub.send_multipart([b"health", b"unwanted"])
    pub.send_multipart([b"alert", b"wanted"])
    assert sub.recv_multipart(timeout_s=5) == [b"alert", b"wanted"]
    sub.close()


def test_publisher_side_filtering_sends_nothing_unwanted(ctx):
    """With XPUB we can watch the subscription messages libzmq decoded from our socket."""
    xpub, endpoint = bind(ctx, zmq.XPUB)
    sub = SubSocket()
    sub.subscribe(b"alert")
    sub.connect(endpoint)
    assert xpub.recv(flags=0) == b"\x01alert"
    sub.subscribe(b"status")
    assert xpub.recv() == b"\x01status"
    sub.unsubscribe(b"alert")
    assert xpub.recv() == b"\x00alert"
    sub.close()


def test_large_events(ctx):
    pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket()
    sub.subscribe(b"health")
    sub.connect(endpoint)
    wait_subscribed(pub, sub, b"health")
    for size in (0, 255, 256, 70000, 3 << 20):
        pub.send_multipart([b"health", b"h" * size])
        assert sub.recv_multipart(timeout_s=10) == [b"health", b"h" * size]
    sub.close()


def test_publisher_restart_then_resubscribed(ctx):
    pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket()
    sub.subscribe(b"alert")
    sub.connect(endpoint)
    wait_subscribed(pub, sub, b"alert")
    pub.close()
    with pytest.raises(ZmtpClosed):
        sub.recv_multipart(timeout_s=5)
    pub = rebind(ctx, zmq.PUB, endpoint)
    sub.reconnect(timeout_s=5)  # subscriptions are sent again
    wait_subscribed(pub, sub, b"alert")
    pub.send_multipart([b"health", b"no"])
    pub.send_multipart([b"alert", b"yes"])
    assert sub.recv_multipart(timeout_s=5) == [b"alert", b"yes"]
    sub.close()


def test_sub_cannot_send(ctx):
    _pub, endpoint = bind(ctx, zmq.PUB)
    sub = SubSocket().connect(endpoint)
    with pytest.raises(zmtp.ZmtpError):
        sub.send_multipart([b"x"])
    sub.close()
