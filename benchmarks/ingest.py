"""Readings through the whole sidecar pipeline, and alert latency under load.

The sidecar runs as a subprocess pinned to one CPU core (Linux); the clients run here, on
another core when there is one. Figures (medians of several runs):

- ``readings_per_s``: batched ``ingest`` requests of 10,000 readings over ZeroMQ (decode, parse,
  ring buffer, rules, alerts, health, journal with fsync before each reply, historian) until the
  historian has committed every reading to SQLite (its backlog is back to 0).
- ``alert_latency_ms_p50`` / ``_p99``: from sending one out-of-limit reading to receiving its
  ``alert`` event on a SUB socket, while another client ingests 10,000 readings/s.
- ``bytes_per_buffered_point``: memory of the ring buffers per buffered reading.

    python benchmarks/ingest.py [--quick]      # the last line is JSON
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgpack
import zmq

from sidecar.client.launcher import LOOPBACK_ANY_PORT, SidecarLauncher, serve_arguments
from sidecar.client.requests import RequestClient, pack
from sidecar.store.ring import SensorRing

SENSORS = 1000
PROBES = 50
BATCH = 10_000
RING_POINTS = 1024


def building() -> dict[str, Any]:
    elements = []
    for i in range(SENSORS + PROBES):
        sensor_id = f"probe-{i - SENSORS}" if i >= SENSORS else f"t-{i}"
        elements.append({
            "unique_id": f"bench-{i:06d}", "element_id": 10_000 + i, "kind": "sensor", "category": "Data Devices",
            "name": sensor_id, "location": [0.0, 0.0, 0.0], "parameters": {},
            "sensor": {"sensor_id": sensor_id, "quantity": "temperature", "unit": "Cel", "source": "ingest:"}})
    return {"building_id": "bench", "model": {"title": "ingest benchmark"}, "exported_ts": time.time(),
            "levels": [], "spaces": [], "elements": elements}


class Sidecar:
    """The sidecar under test, pinned to ``cpu``, with a throw-away data folder."""

    def __init__(self, cpu: int | None):
        self.temp = tempfile.TemporaryDirectory(prefix="revitpyiot-bench-")
        data = Path(self.temp.name) / "data"
        data.mkdir()
        config = Path(self.temp.name) / "sidecar.toml"
        config.write_text("[simulator]\ndemo_faults = false\n[historian]\nflush_interval_ms = 500\n"
                          f"ring_points = {RING_POINTS}\n[sidecar]\nlog_level = \"WARNING\"\n", encoding="utf-8")
        self.launcher = SidecarLauncher(
            serve_arguments(command_endpoint=LOOPBACK_ANY_PORT, event_endpoint=LOOPBACK_ANY_PORT, data_dir=data,
                            config=config), log_path=Path(self.temp.name) / "sidecar.log", cwd=ROOT,
            env=dict(os.environ, REVITPYIOT_DATA_DIR=str(data)), cpu=cpu, client_name="revitpyiot-bench")
        self.launcher.start(ready_timeout_s=30)
        self.events = self.launcher.event_endpoint

    def client(self, context: zmq.Context[Any]) -> RequestClient:
        return self.launcher.client(timeout_s=60.0, context=context)

    def close(self) -> None:
        self.launcher.stop(20)
        self.temp.cleanup()


def packed(client: RequestClient, kind: str, body: Any) -> tuple[str, bytes]:
    """A request packed ahead of time (packing stays out of the timed loop)."""
    message = client.envelope(kind, body)
    return message["id"], pack(message)


def send_packed(client: RequestClient, request: tuple[str, bytes]) -> dict[str, Any]:
    reply = client.exchange(request[1], request[0])
    if not reply.get("ok"):
        raise RuntimeError(f"request failed: {reply.get('error')}")
    body: dict[str, Any] = reply["body"]
    return body


def normal_batch(start_ts: float, n: int, offset: int) -> list[list[Any]]:
    return [[f"t-{(offset + i) % SENSORS}", start_ts + i * 1e-4, 21.0 + (i % 7) * 0.1] for i in range(n)]


def throughput_run(context: zmq.Context[Any], sidecar: Sidecar, batches: int, run: int) -> dict[str, float]:
    client = sidecar.client(context)
    base = time.time() - 3600.0 + run * 10.0
    payloads = [packed(client, "ingest", {"readings": normal_batch(base + k * 1.0, BATCH, k * 7)})
                for k in range(batches)]
    started = time.perf_counter()
    for payload in payloads:
        send_packed(client, payload)
    replied = time.perf_counter()
    while client.request("status", {})["historian"]["backlog"] > 0:
        time.sleep(0.005)
    stored = time.perf_counter()
    client.close()
    total = batches * BATCH
    return {"readings_per_s": total / (stored - started), "ingest_only_readings_per_s": total / (replied - started)}


def latency_run(context: zmq.Context[Any], sidecar: Sidecar, probes: int) -> list[float]:
    stop = threading.Event()

    def background() -> None:  # 10,000 readings/s as 1,000-reading batches every 100 ms
        bg = sidecar.client(context)
        k = 0
        next_at = time.perf_counter()
        while not stop.is_set():
            bg.request("ingest", {"readings": normal_batch(time.time(), 1000, k * 1000)})
            k += 1
            next_at += 0.1
            time.sleep(max(0.0, next_at - time.perf_counter()))
        bg.close()

    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"alert")
    sub.connect(sidecar.events)
    probe_client = sidecar.client(context)
    time.sleep(0.5)
    thread = threading.Thread(target=background, daemon=True)
    thread.start()
    time.sleep(0.5)
    latencies = []

    def wait_alert(sensor_id: str, state: str) -> float:
        while True:
            if not sub.poll(10_000):
                raise RuntimeError(f"no {state} alert for {sensor_id}")
            _, payload = sub.recv_multipart()
            arrived = time.perf_counter()
            body = msgpack.unpackb(payload, raw=False)["body"]
            if body.get("sensor_id") == sensor_id and body.get("state") == state:
                return arrived

    try:
        for i in range(probes):
            sensor_id = f"probe-{i % PROBES}"
            request_id, payload = packed(probe_client, "ingest", {"readings": [[sensor_id, time.time(), 40.0]]})  # > 32 Cel critical
            sent = time.perf_counter()
            probe_client.send(payload)  # the alert event is stamped before the reply is read
            arrived = wait_alert(sensor_id, "active")
            probe_client.receive(request_id)
            latencies.append((arrived - sent) * 1000.0)
            probe_client.request("ingest", {"readings": [[sensor_id, time.time(), 21.0]]})
            wait_alert(sensor_id, "cleared")
            time.sleep(0.02)
    finally:
        stop.set()
        thread.join()
        sub.close(0)
        probe_client.close()
    return latencies


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100.0 * (len(ordered) - 1)))]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, Python " \
           f"{platform.python_version()}, load average {load:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs and requests")
    args = parser.parse_args(argv)
    runs, batches, probes = (3, 10, 60) if args.quick else (5, 30, 300)
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    sidecar_cpu = cpus[0] if cpus else None
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))
    context: zmq.Context[Any] = zmq.Context()
    throughput, latencies = [], []
    for run in range(runs):
        sidecar = Sidecar(sidecar_cpu)
        try:
            client = sidecar.client(context)
            client.request("configure", building())
            client.request("start", {})
            client.close()
            throughput.append(throughput_run(context, sidecar, batches, run))
            run_latency = latency_run(context, sidecar, probes // runs)
            latencies.append((percentile(run_latency, 50), percentile(run_latency, 99)))
        finally:
            sidecar.close()
    ring = SensorRing(SENSORS + PROBES, RING_POINTS)
    figures = {
        "readings_per_s": round(statistics.median(t["readings_per_s"] for t in throughput)),
        "ingest_only_readings_per_s": round(statistics.median(t["ingest_only_readings_per_s"] for t in throughput)),
        "alert_latency_ms_p50": round(statistics.median(p for p, _ in latencies), 3),
        "alert_latency_ms_p99": round(statistics.median(p for _, p in latencies), 3),
        "bytes_per_buffered_point": round(ring.bytes_per_point, 2),
    }
    print(f"machine: {machine()}")
    print(f"sidecar pinned to CPU {sidecar_cpu}; {runs} runs x {batches} ingest requests of {BATCH:,} readings; "
          f"{SENSORS:,} sensors; alert probes {probes} under 10,000 readings/s")
    print(f"{'figure':32} {'median':>14}  unit         target")
    targets = {"readings_per_s": ">= 100,000", "alert_latency_ms_p50": "<= 2", "alert_latency_ms_p99": "<= 10",
               "bytes_per_buffered_point": "<= 24", "ingest_only_readings_per_s": "(reply received)"}
    units = {"readings_per_s": "readings/s", "ingest_only_readings_per_s": "readings/s",
             "alert_latency_ms_p50": "ms", "alert_latency_ms_p99": "ms", "bytes_per_buffered_point": "bytes"}
    for key, value in figures.items():
        print(f"{key:32} {value:>14,}  {units[key]:12} {targets[key]}")
    print("per run: " + ", ".join(f"{t['readings_per_s']:,.0f}" for t in throughput) + " readings/s; p50/p99 ms "
          + ", ".join(f"{p:.2f}/{q:.2f}" for p, q in latencies))
    context.destroy(linger=0)
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
