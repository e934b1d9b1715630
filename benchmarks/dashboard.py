#!/usr/bin/env python3
"""What the live dashboard costs the sidecar while browsers watch.

    python benchmarks/dashboard.py [--quick] [--clients 20] [--rate 10000]

The real readings pipeline (``sidecar.pipeline.Pipeline``, rules, alerts, health) runs on
the sample building at ``--rate`` readings/s, paced in 10 ms batches, two ways:
1. baseline: the pipeline alone;
2. dashboard: another one, wired as the sidecar wires it (``SidecarMirror`` + ``LiveFeed``
   on ``on_readings``/``emit``), an aiohttp dashboard on loopback, ``--clients`` WebSocket
   clients in a separate process (so their CPU is not counted), plus one client that
   never reads (it must be resynced with a snapshot, not buffered).
Figures: CPU per reading both ways (process time of the sidecar side), their ratio
(``ingest_slowdown_ratio``), push latency from a reading's arrival to its receipt by a
client (includes the coalescing window, ``flush_interval_s``) and from the push to its
receipt, and resync counts. Machines here are shared and noisy: within a run the two sides
are fed in alternating slices (ABBA), so that load drifting during the run weighs on both
alike; the figures are medians of runs, each run's ratio and push p99 printed beside them
(and in the JSON, ``*_runs``) with the load average before and after. Last line: JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np

BATCH_INTERVAL_S = 0.01


# ----- the client process -----
async def run_clients(url: str, count: int, seconds: float) -> dict:
    import aiohttp

    push: list[float] = []
    transport: list[float] = []
    counts = {"messages": 0, "snapshots": 0, "lagged": 0}

    async def one(session: aiohttp.ClientSession) -> None:
        async with session.ws_connect(url, max_msg_size=0) as ws:
            end = time.time() + seconds
            while time.time() < end:
                try:
                    msg = await ws.receive(timeout=max(0.01, end - time.time()))
                except TimeoutError:
                    break
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                now = time.time()
                data = json.loads(msg.data)
                counts["messages"] += 1
                if data["type"] == "readings":
                    push.append((now - data["t0"]) * 1000)
                    transport.append((now - data["t1"]) * 1000)
                elif data["type"] == "snapshot":
                    counts["snapshots"] += 1
                    counts["lagged"] += data.get("reason") == "lagged"

    async with aiohttp.ClientSession() as session:
        await asyncio.gather(*(one(session) for _ in range(count)))
    return {"push_ms": push, "transport_ms": transport, **counts}


# ----- the sidecar side -----
def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def feed(pipeline, model, rate: int, seconds: float) -> tuple[int, float]:
    """Paced batches of real-looking readings; returns (readings, CPU seconds)."""
    from sidecar.readings import ReadingBatch

    rng = np.random.default_rng(1)
    n_sensors = len(model.sensors)
    per_batch = max(1, int(rate * BATCH_INTERVAL_S))
    base = np.array([20.0] * n_sensors)
    for i, s in enumerate(model.sensors):  # values inside each sensor's limits: a quiet building
        limits = getattr(s, "limits", None)
        low, high = getattr(limits, "low", None), getattr(limits, "high", None)
        # a missing limit is NaN in the model: (NaN + x) / 2 fed NaN readings to half the sensors
        if low is not None and high is not None and np.isfinite(low) and np.isfinite(high):
            base[i] = (low + high) / 2
        elif high is not None and np.isfinite(high):
            base[i] = high * 0.5
    assert np.isfinite(base).all(), "every benchmark reading must be a real number"
    total, start_cpu = 0, time.process_time()
    start = time.monotonic()
    tick = 0
    while time.monotonic() - start < seconds:
        sensor = rng.integers(0, n_sensors, per_batch, dtype=np.int32)
        now = time.time()
        batch = ReadingBatch(model, sensor, np.full(per_batch, now), base[sensor] + rng.normal(0, 0.01, per_batch))
        pipeline.submit(batch)
        total += per_batch
        tick += 1
        delay = start + tick * BATCH_INTERVAL_S - time.monotonic()
        await asyncio.sleep(max(0.0, delay))
    return total, time.process_time() - start_cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def one_run(clients: int, rate: int, seconds: float, flush_s: float, slices: int = 12) -> dict:
    """One run: the pipeline alone and the pipeline with the dashboard, fed in alternating slices
    (ABBA order, ``seconds`` each in total) so that the load of a shared machine, which drifts
    within seconds, weighs on both sides alike instead of on whichever came second."""
    from sidecar.dashboard import LiveFeed, SidecarMirror, start_dashboard
    from sidecar.model import build_model
    from sidecar.pipeline import Pipeline
    from sidecar.simulation.sample_building import build_demo_building

    config = build_demo_building()
    model = build_model(config)
    baseline = Pipeline(model, lambda topic, body: None, lambda batch: None)

    async def handle(kind: str, body: dict) -> dict:
        if kind == "snapshot":
            return {"health": [], "alerts": []}
        return {"state": "monitoring"}

    mirror = SidecarMirror(handle, lambda: config)
    live = LiveFeed(mirror, flush_interval_s=flush_s)
    mirror.add_sink(live)
    await mirror.prime()

    def emit(topic: str, body) -> None:
        if topic == "alert":
            mirror.on_alert(body)
        elif topic == "health":
            mirror.on_health(body.get("items", []))
        elif topic == "status":
            mirror.on_status(body)

    pipeline = Pipeline(model, emit, mirror.on_readings)
    runner, url = await start_dashboard(mirror, "127.0.0.1", free_port(), live=live)
    ws_url = url.replace("http", "ws") + "ws"
    stalled = socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1].strip("/"))))
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.sendall(b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    slices = max(2, slices - slices % 2)
    slice_s = seconds / (slices // 2)
    # each slice ends by letting the last coalesced push go out, on both sides alike
    settle_s = flush_s + 0.02
    client_seconds = 2 * seconds + slices * settle_s + 3.0
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client-mode", ws_url, str(clients), str(client_seconds),
        stdout=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while live.client_count < clients + 1:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {live.client_count} clients connected")
        await asyncio.sleep(0.02)
    # warm-up, not counted: first pushes give out every sensor key, first calls fill caches
    for warm in (baseline, pipeline):
        await feed(warm, model, rate, 0.3)
    await asyncio.sleep(settle_s)
    totals = {"base": [0, 0.0], "dash": [0, 0.0]}
    order = ["base", "dash", "dash", "base"]
    for i in range(slices):
        side = order[i % 4]
        cpu0 = time.process_time()
        n, _ = await feed(baseline if side == "base" else pipeline, model, rate, slice_s)
        await asyncio.sleep(settle_s)
        totals[side][0] += n
        totals[side][1] += time.process_time() - cpu0
    stdout, _ = await proc.communicate()
    stats = live.stats()
    stalled.close()
    await runner.cleanup()
    got = json.loads(stdout.decode().strip().splitlines()[-1])
    (base_n, base_cpu), (n, cpu) = totals["base"], totals["dash"]
    base_us = base_cpu / base_n * 1e6
    dash_us = cpu / n * 1e6
    return {
        "readings": n, "readings_per_s": n / seconds,
        "pipeline_cpu_us_per_reading": base_us,
        "with_dashboard_cpu_us_per_reading": dash_us,
        "dashboard_cpu_us_per_reading": dash_us - base_us,
        "ingest_slowdown_ratio": dash_us / base_us,
        "push_latency_ms_p50": percentile(got["push_ms"], 50),
        "push_latency_ms_p99": percentile(got["push_ms"], 99),
        "transport_latency_ms_p50": percentile(got["transport_ms"], 50),
        "transport_latency_ms_p99": percentile(got["transport_ms"], 99),
        "messages_per_client": got["messages"] / clients,
        "client_resyncs": got["lagged"],
        "stalled_client_resyncs": stats["resyncs"] - got["lagged"],
        "dropped_messages": stats["dropped_messages"],
    }


# Figures whose every run is reported beside the median (the machine is shared and noisy).
SPREAD_KEYS = ("ingest_slowdown_ratio", "dashboard_cpu_us_per_reading", "push_latency_ms_p99")


def _spread(values: list[float]) -> str:
    """``(runs 1.08 1.12 1.19; range 0.11)``"""
    return f"(runs {' '.join(f'{v:.3g}' for v in values)}; range {max(values) - min(values):.3g})"


def _load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "--client-mode":
        url, count, seconds = argv[1], int(argv[2]), float(argv[3])
        print(json.dumps(asyncio.run(run_clients(url, count, seconds))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 short runs (CI)")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--rate", type=int, default=10_000, help="readings per second")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--flush-ms", type=float, default=50.0, help="LiveFeed coalescing window")
    args = parser.parse_args(argv)
    runs = args.runs or (3 if args.quick else 5)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    load_before = os.getloadavg()
    results = [asyncio.run(one_run(args.clients, args.rate, seconds, args.flush_ms / 1000)) for _ in range(runs)]
    load_after = os.getloadavg()
    keys = results[0].keys()
    med = {k: statistics.median(r[k] for r in results) for k in keys}
    spread = {k: [round(float(r[k]), 4) for r in results] for k in SPREAD_KEYS}
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"load average (1, 5, 15 min): before {_load(load_before)}, after {_load(load_after)}")
    print(f"{runs} run(s) of {seconds:g} s each side at {args.rate} readings/s, {args.clients} WebSocket clients "
          f"(+1 stalled), sample building ({len(__import__('sidecar.simulation.sample_building', fromlist=['x']).build_demo_building()['elements'])} elements); medians:")
    print(f"  pipeline alone            {med['pipeline_cpu_us_per_reading']:.2f} us CPU/reading")
    print(f"  pipeline + dashboard      {med['with_dashboard_cpu_us_per_reading']:.2f} us CPU/reading "
          f"(dashboard {med['dashboard_cpu_us_per_reading']:.2f} us/reading, "
          f"{med['dashboard_cpu_us_per_reading'] * args.rate / 1e4:.2f} % of a core at this rate)")
    print(f"  ingest slowdown ratio     {med['ingest_slowdown_ratio']:.3f} {_spread(spread['ingest_slowdown_ratio'])}")
    print(f"  push latency (arrival → browser) p50 {med['push_latency_ms_p50']:.1f} ms, "
          f"p99 {med['push_latency_ms_p99']:.1f} ms {_spread(spread['push_latency_ms_p99'])} "
          f"(coalescing window {args.flush_ms:g} ms)")
    print(f"  transport (push → browser)       p50 {med['transport_latency_ms_p50']:.1f} ms, "
          f"p99 {med['transport_latency_ms_p99']:.1f} ms")
    print(f"  messages per client {med['messages_per_client']:.0f}; resyncs: healthy clients "
          f"{med['client_resyncs']:.0f}, stalled client {med['stalled_client_resyncs']:.0f}; "
          f"messages dropped for it {med['dropped_messages']:.0f}")
    figures = {"ws_clients": args.clients, "flush_ms": args.flush_ms, "runs": runs,
               **{k: round(float(v), 4) for k, v in med.items()},
               **{f"{k}_runs": v for k, v in spread.items()},
               "loadavg_before": [round(x, 2) for x in load_before], "loadavg_after": [round(x, 2) for x in load_after]}
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
