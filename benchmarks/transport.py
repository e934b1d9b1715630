"""Benchmark of the extension's pure-Python transport next to pyzmq and msgpack.

Measures, in one run and against the same peers:
- request round trip (p50/p99) of ``SidecarClient.request`` and of a pyzmq DEALER
  client (with the C ``msgpack``), both against one pyzmq ROUTER echo server in a
  separate process (200-byte msgpack request payload);
- event throughput of the pure-Python SUB and of a pyzmq SUB fed by the same
  pyzmq PUB (also in its own process), plus the full subscription path
  (``SidecarClient.subscribe``: receive, decode, seq check, callback);
- pack/unpack rates (messages/s and MB/s) of ``revitpyiot.transport.msgpack_codec`` and
  ``msgpack`` on an ``alert`` event;
- ``decode_20k_health_s``: decoding one ``health`` event of 20,000 HealthRecords.

Usage: ``python benchmarks/transport.py [--quick]``. The last line printed is
one JSON object with every figure. Machines are noisy: figures are medians of
several runs, and the runs of the two implementations are interleaved.
"""
import argparse
import functools
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for _path in (ROOT, os.path.join(ROOT, "RevitPyIoT.extension", "lib")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

import msgpack
import zmq
from revitpyiot.transport import msgpack_codec, zmtp
from revitpyiot.transport.client import SidecarClient

TOKEN = "benchmark-token"


# --- peers (each in its own process, so they do not share our GIL) ---------------------------

def bound_socket(kind):
    """A socket of ``kind`` on a random local port; its endpoint is printed for the parent."""
    sock = zmq.Context().socket(kind)
    sock.linger = 0
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    print(f"tcp://127.0.0.1:{port}", flush=True)
    return sock


def serve_router():
    """ROUTER echo server: answers every request like the sidecar would, echoing its body."""
    router = bound_socket(zmq.ROUTER)
    while True:
        ident, empty, payload = router.recv_multipart()
        request = msgpack.unpackb(payload, raw=False)
        reply = {"v": 1, "type": request["type"], "id": request["id"], "ts": time.time(), "ok": True,
                 "body": request["body"]}
        router.send_multipart([ident, empty, msgpack.packb(reply)])


def serve_pub():
    """PUB publishing ``alert`` events (with seq) as fast as it can, until killed."""
    pub = bound_socket(zmq.PUB)
    seq = 0
    event = alert_event()
    send = pub.send_multipart
    while True:
        seq += 1
        event["seq"] = seq
        send([b"alert", msgpack.packb(event)])


def start_peer(role):
    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--serve", role],
                            stdout=subprocess.PIPE, text=True)
    endpoint = proc.stdout.readline().strip()
    if not endpoint.startswith("tcp://"):
        proc.kill()
        raise RuntimeError(f"the {role} peer did not start")
    return proc, endpoint


# --- payloads -------------------------------------------------------------------------------

def request_body():
    """A request body whose whole request payload packs to about 200 bytes."""
    return {"unique_ids": [f"{uuid.UUID(int=i * 7919 + 1)}-{i:08x}" for i in range(2)],
            "note": "x" * 20}


def alert_event():
    return {"v": 1, "type": "alert", "id": "ev-000001", "ts": 1767225600.25, "seq": 1, "body": {
        "alert_id": "al-5f2a1c3e", "building_id": "demo-building", "unique_id":
        "8f3b2c1a-9d4e-4f6a-b1c2-3d4e5f6a7b8c-0004d2a1", "element_id": 315041, "sensor_id": "AHU-01.SAT",
        "kind": "high", "severity": "warning", "state": "active",
        "message": "AHU-01 supply air temperature 31.2 Cel above 28 Cel", "value": 31.2, "threshold": 28.0,
        "raised_ts": 1767225590.0, "updated_ts": 1767225600.25,
        "recommended_action": "Check the cooling coil valve", "failure_probability": 0.12}}


def health_event(n=20000, seed=7):
    rnd = random.Random(seed)
    statuses = ["ok", "watch", "warning", "critical", "unknown"]
    items = []
    for i in range(n):
        items.append({
            "unique_id": f"{uuid.UUID(int=rnd.getrandbits(128))}-{i:08x}",
            "element_id": 100000 + i,
            "health_score": round(rnd.uniform(0, 100), 2),
            "status": rnd.choice(statuses),
            "failure_probability": rnd.random() if i % 3 else None,
            "ttf_hours": rnd.uniform(1, 5000) if i % 2 else None,
            "drivers": ["vibration rising", "supply temperature high"][:i % 3],
            "updated_ts": 1767225600.0 + i * 0.001,
        })
    return {"v": 1, "type": "health", "id": "ev-health-1", "ts": 1767225600.0, "seq": 1,
            "body": {"items": items}}


# --- measurements ---------------------------------------------------------------------------

def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def rtt_ours(endpoint, n, body):
    client = SidecarClient(endpoint, endpoint, token=TOKEN, timeout_s=5.0)
    try:
        for _ in range(50):
            client.request("snapshot", body)
        times = []
        clock = time.perf_counter
        for _ in range(n):
            t0 = clock()
            client.request("snapshot", body)
            times.append(clock() - t0)
    finally:
        client.close()
    return times


def rtt_pyzmq(ctx, endpoint, n, body):
    dealer = ctx.socket(zmq.DEALER)
    dealer.linger = 0
    dealer.connect(endpoint)
    prefix = uuid.uuid4().hex[:12]
    try:
        def one(i):
            rid = f"{prefix}-{i}"
            dealer.send_multipart([b"", msgpack.packb({"v": 1, "type": "snapshot", "id": rid,
                                                       "ts": time.time(), "token": TOKEN, "body": body})])
            _empty, payload = dealer.recv_multipart()
            reply = msgpack.unpackb(payload, raw=False)
            assert reply["id"] == rid and reply["ok"]
            return reply["body"]
        for i in range(50):
            one(i)
        times = []
        clock = time.perf_counter
        for i in range(n):
            t0 = clock()
            one(i + 50)
            times.append(clock() - t0)
    finally:
        dealer.close()
    return times


def receive_rate(recv, window_s):
    """Messages per second that ``recv()`` takes in over ``window_s``, after 0.2 s of warm-up."""
    recv()
    end_warm = time.time() + 0.2
    while time.time() < end_warm:
        recv()
    count = 0
    clock = time.perf_counter
    t0 = clock()
    deadline = t0 + window_s
    while True:
        recv()
        count += 1
        if not count & 255 and clock() >= deadline:
            break
    return count / (clock() - t0)


def events_ours(endpoint, window_s):
    sub = zmtp.SubSocket(timeout_s=5.0)
    sub.subscribe(b"alert")
    sub.connect(endpoint)
    try:
        return receive_rate(functools.partial(sub.recv_multipart, timeout_s=5), window_s)
    finally:
        sub.close()


def events_pyzmq(ctx, endpoint, window_s):
    sub = ctx.socket(zmq.SUB)
    sub.linger = 0
    sub.rcvtimeo = 5000
    sub.setsockopt(zmq.SUBSCRIBE, b"alert")
    sub.connect(endpoint)
    try:
        return receive_rate(sub.recv_multipart, window_s)
    finally:
        sub.close()


def events_client(endpoint, window_s):
    """The whole subscription path: receive, decode (pure Python), seq check, callback."""
    counter = {"n": 0, "gaps": 0}

    def on_event(topic, event):
        counter["n"] += 1

    def on_gap(topic, reason):
        counter["gaps"] += 1

    client = SidecarClient(endpoint, endpoint, token=TOKEN)
    client.subscribe(["alert"], on_event, on_gap)
    try:
        deadline = time.time() + 10
        while counter["n"] == 0 and time.time() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)
        n0, t0 = counter["n"], time.perf_counter()
        time.sleep(window_s)
        return (counter["n"] - n0) / (time.perf_counter() - t0)
    finally:
        client.close()


def rate(fn, arg, min_time):
    """Calls per second of fn(arg), looping for at least min_time seconds."""
    n, elapsed, batch = 0, 0.0, 64
    clock = time.perf_counter
    t0 = clock()
    while elapsed < min_time:
        for _ in range(batch):
            fn(arg)
        n += batch
        elapsed = clock() - t0
        batch = min(batch * 2, 8192)
    return n / elapsed


def codec_rates(runs, min_time):
    event = alert_event()
    raw = msgpack.packb(event)
    assert msgpack_codec.packb(event) == raw and msgpack_codec.unpackb(raw) == msgpack.unpackb(raw)
    results = {"pack": [], "unpack": [], "msgpack_pack": [], "msgpack_unpack": []}

    def ref_unpack(data):
        return msgpack.unpackb(data, raw=False, strict_map_key=False)
    for _ in range(runs):
        results["pack"].append(rate(msgpack_codec.packb, event, min_time))
        results["msgpack_pack"].append(rate(msgpack.packb, event, min_time))
        results["unpack"].append(rate(msgpack_codec.unpackb, raw, min_time))
        results["msgpack_unpack"].append(rate(ref_unpack, raw, min_time))
    return {k: statistics.median(v) for k, v in results.items()}, len(raw)


def decode_health(runs):
    event = health_event()
    raw = msgpack.packb(event)
    assert msgpack_codec.unpackb(raw) == msgpack.unpackb(raw, raw=False)
    times, ref_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        msgpack_codec.unpackb(raw)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        msgpack.unpackb(raw, raw=False)
        ref_times.append(time.perf_counter() - t0)
    return statistics.median(times), statistics.median(ref_times), len(raw)


# --- main -----------------------------------------------------------------------------------

def machine():
    return {"platform": platform.platform(), "machine": platform.machine(),
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "implementation": platform.python_implementation(), "pyzmq": zmq.__version__,
            "libzmq": zmq.zmq_version(), "msgpack": ".".join(map(str, msgpack.version))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer, shorter runs (under 60 s)")
    parser.add_argument("--serve", choices=["router", "pub"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve == "router":
        return serve_router()
    if args.serve == "pub":
        return serve_pub()

    runs = 3 if args.quick else 7
    round_trips = 2000 if args.quick else 5000
    window_s = 1.0 if args.quick else 3.0
    codec_time = 0.3 if args.quick else 1.0
    info = machine()
    print("RevitPyIoT transport benchmark (%s)" % ("quick" if args.quick else "full"))
    print("machine: {platform}, {cpu_count} CPUs, {implementation} {python}, pyzmq {pyzmq} "
          "(libzmq {libzmq}), msgpack {msgpack}".format(**info))

    ctx = zmq.Context()
    body = request_body()
    size = len(msgpack.packb({"v": 1, "type": "snapshot", "id": "x" * 15, "ts": time.time(),
                              "token": TOKEN, "body": body}))
    router_proc, router_endpoint = start_peer("router")
    try:
        ours_p50, ours_p99, ref_p50, ref_p99 = [], [], [], []
        for _ in range(runs):
            times = rtt_ours(router_endpoint, round_trips, body)
            ours_p50.append(percentile(times, 0.5))
            ours_p99.append(percentile(times, 0.99))
            times = rtt_pyzmq(ctx, router_endpoint, round_trips, body)
            ref_p50.append(percentile(times, 0.5))
            ref_p99.append(percentile(times, 0.99))
    finally:
        router_proc.kill()
        router_proc.wait()

    pub_proc, pub_endpoint = start_peer("pub")
    try:
        ev_ours, ev_ref, ev_client = [], [], []
        for _ in range(runs):
            ev_ours.append(events_ours(pub_endpoint, window_s))
            ev_ref.append(events_pyzmq(ctx, pub_endpoint, window_s))
            ev_client.append(events_client(pub_endpoint, window_s))
    finally:
        pub_proc.kill()
        pub_proc.wait()
    ctx.destroy(linger=0)

    rates, event_size = codec_rates(runs, codec_time)
    health_s, health_ref_s, health_size = decode_health(runs)

    med = statistics.median
    figures = {
        "rtt_p50_ms": med(ours_p50) * 1e3,
        "rtt_p99_ms": med(ours_p99) * 1e3,
        "pyzmq_rtt_p50_ms": med(ref_p50) * 1e3,
        "pyzmq_rtt_p99_ms": med(ref_p99) * 1e3,
        "rtt_p50_ratio": med(ours_p50) / med(ref_p50),
        "rtt_payload_bytes": size,
        "round_trips_per_run": round_trips,
        "events_per_s": med(ev_ours),
        "pyzmq_events_per_s": med(ev_ref),
        "client_events_per_s": med(ev_client),
        "event_bytes": event_size,
        "pack_per_s": rates["pack"],
        "unpack_per_s": rates["unpack"],
        "msgpack_pack_per_s": rates["msgpack_pack"],
        "msgpack_unpack_per_s": rates["msgpack_unpack"],
        "pack_mb_per_s": rates["pack"] * event_size / 1e6,
        "unpack_mb_per_s": rates["unpack"] * event_size / 1e6,
        "msgpack_pack_mb_per_s": rates["msgpack_pack"] * event_size / 1e6,
        "msgpack_unpack_mb_per_s": rates["msgpack_unpack"] * event_size / 1e6,
        "decode_20k_health_s": health_s,
        "msgpack_decode_20k_health_s": health_ref_s,
        "health_event_bytes": health_size,
        "runs": runs,
        "quick": bool(args.quick),
        "machine": info,
    }

    f = figures

    def rates_cell(per_s, mb_per_s):
        return f"{per_s:.0f} msg/s {mb_per_s:.1f} MB/s"

    rows = [
        ("request round trip p50", f"{f['rtt_p50_ms']:.3f} ms", f"{f['pyzmq_rtt_p50_ms']:.3f} ms",
         f"{f['rtt_p50_ratio']:.2f}x (target <= 2)"),
        ("request round trip p99", f"{f['rtt_p99_ms']:.3f} ms", f"{f['pyzmq_rtt_p99_ms']:.3f} ms",
         f"{f['rtt_p99_ms'] / f['pyzmq_rtt_p99_ms']:.2f}x"),
        ("events received (SUB socket)", f"{f['events_per_s']:.0f} msg/s",
         f"{f['pyzmq_events_per_s']:.0f} msg/s",
         f"{f['events_per_s'] / f['pyzmq_events_per_s']:.2f}x"),
        ("events through subscribe() + decode", f"{f['client_events_per_s']:.0f} msg/s", "", ""),
        (f"pack {event_size}-byte alert event", rates_cell(f["pack_per_s"], f["pack_mb_per_s"]),
         rates_cell(f["msgpack_pack_per_s"], f["msgpack_pack_mb_per_s"]),
         f"{f['pack_per_s'] / f['msgpack_pack_per_s']:.2f}x"),
        (f"unpack {event_size}-byte alert event", rates_cell(f["unpack_per_s"], f["unpack_mb_per_s"]),
         rates_cell(f["msgpack_unpack_per_s"], f["msgpack_unpack_mb_per_s"]),
         f"{f['unpack_per_s'] / f['msgpack_unpack_per_s']:.2f}x"),
        (f"decode health event, 20,000 records ({health_size / 1e6:.1f} MB)",
         f"{health_s:.3f} s", f"{health_ref_s:.3f} s", "target <= 0.5 s"),
    ]
    print()
    header = (f"measure (median of {runs} runs)", "pure Python (revitpyiot)", "reference (pyzmq/msgpack)",
              "ratio")
    for row in [header, ("-" * 44, "-" * 26, "-" * 26, "-" * 20), *rows]:
        print(f"{row[0]:<48} {row[1]:<26} {row[2]:<26} {row[3]}")
    print()
    print(f"round trip: {round_trips} requests of {size} bytes per run against a pyzmq ROUTER in another "
          "process; events: one pyzmq PUB process publishing as fast as it can (a SUB that keeps up is "
          "publisher-bound).")
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
