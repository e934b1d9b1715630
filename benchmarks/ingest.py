"""Readings through the whole sidecar pipeline, and alert latency under load.

Each run starts a fresh sidecar: a subprocess pinned to one CPU core (Linux), its data in a
throw-away folder, the historian's default settings (SQLite, ``flush_interval_ms`` 1000). The
clients run here, on another core when there is one. A run has two phases.

Throughput: one client sends a stream of ``ingest`` requests of 10,000 readings over 1,000
sensors (80 requests with ``--quick``, 200 without), each after the previous reply (as a client
that needs ``accepted`` does), then polls ``status`` until the historian's backlog is 0.

- ``readings_per_s``: the stream's readings / (first request sent -> every one of them
  committed to SQLite). The whole pipeline on the sidecar's one core: decoding, checks,
  parsing, ring buffer, rules, alerts, health, the journal append and its fdatasync before
  each reply, and the historian's commits (running alongside, on the same core).
- ``ingest_only_readings_per_s``: the same readings / (first request -> last reply).
- ``commit_tail_ms``: last reply -> last reading committed. The historian commits a backlog
  worth a commit (32 readings per sensor of the building on average, at least 5,000) 20 ms
  after its input goes quiet; a smaller one waits for the flush interval (<= 1 s). A stream
  that ends just after an interval commit shows that wait (a tail near 1,000 ms, a lower
  ``readings_per_s`` for that run): the stream is long enough that the median does not hinge
  on it.

Latency: while another client ingests 10,000 readings/s (1,000-reading requests every 100 ms),
a probe sends one out-of-limit reading (40 Cel, critical above 32) in its own ``ingest``
request and waits for its ``alert`` event on a SUB socket, then clears it with a normal
reading (60 probes a run with ``--quick``, 200 without).

- ``alert_latency_ms_p50`` / ``_p99``: of one run's probes, from sending the request to
  receiving the event (the event is published before the reply, which waits for the fsync).

Every figure is printed for every run, then as the median of the runs with their range (min-max);
at least 5 runs, also with ``--quick``. ``bytes_per_buffered_point`` is computed (ring buffer
memory). Last, the cost per reading of each step, measured in this process one step at a time
(``stage_costs``). Figures depend on the machine and its load: the script prints both.
``--py-spy DIR`` records where the sidecar spends its time during the first run's two phases
(``pip install py-spy``: a benchmark tool, not a dependency of the product).

    python benchmarks/ingest.py [--quick] [--runs N] [--py-spy DIR]   # the last line is JSON
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import msgpack
import numpy as np
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
        config.write_text("[simulator]\ndemo_faults = false\n[historian]\n"  # the default flush interval (1 s)
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


def throughput_run(context: zmq.Context[Any], sidecar: Sidecar, batches: list[list[list[Any]]]) -> dict[str, float]:
    """One stream of ``ingest`` requests, sent one after the other (each waits for its reply, as
    a client that needs ``accepted`` does), then the historian's backlog polled until 0."""
    client = sidecar.client(context)
    payloads = [packed(client, "ingest", {"readings": batch}) for batch in batches]
    total = sum(len(batch) for batch in batches)
    started = time.perf_counter()
    for payload in payloads:
        send_packed(client, payload)
    replied = time.perf_counter()
    while client.request("status", {})["historian"]["backlog"] > 0:
        time.sleep(0.002)
    stored = time.perf_counter()
    client.close()
    return {"readings_per_s": total / (stored - started), "ingest_only_readings_per_s": total / (replied - started),
            "commit_tail_ms": (stored - replied) * 1000.0}


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


def stage_costs(batches: int) -> dict[str, list[float]]:
    """Microseconds per reading of each step an ``ingest`` request's readings take, measured in
    this process on the benchmark's 10,000-reading batches (one step at a time, so they add up
    without the contention of the real run): msgpack decoding, the envelope check,
    ``parse_ingest``, ``Pipeline.submit`` (latest values, ring buffer, rules, alerts, health),
    the journal append and its fdatasync, and the historian's commit of one batch and of ten."""
    from sidecar.model import build_model
    from sidecar.pipeline import Pipeline
    from sidecar.readings import parse_ingest
    from sidecar.store.historian import dedupe_last_wins
    from sidecar.store.journal import Journal
    from sidecar.store.sqlite import SQLiteBackend
    from sidecar.validation import validate_request

    model = build_model(building())
    ids = [sensor.sensor_id for sensor in model.sensors]
    pipeline = Pipeline(model, lambda topic, body: None, lambda batch: None)
    costs: dict[str, list[float]] = {key: [] for key in ("decode", "check", "parse", "submit", "journal append",
                                                          "journal fdatasync", "commit (1 batch)",
                                                          "commit (10 batches)")}
    base = time.time() - 3600.0
    with tempfile.TemporaryDirectory(prefix="revitpyiot-stages-") as temp:
        journal = Journal(Path(temp) / "journal")
        backend = SQLiteBackend(Path(temp) / "history.sqlite3")
        backend.open()
        keys = backend.sensor_keys(ids)
        grouped = SQLiteBackend(Path(temp) / "grouped.sqlite3")  # the same readings, ten batches a commit
        grouped.open()
        grouped.sensor_keys(ids)
        pending: list[Any] = []
        for k in range(batches):
            payload = msgpack.packb({"v": 1, "type": "ingest", "id": f"s{k}", "ts": time.time(), "token": "t",
                                     "body": {"readings": normal_batch(base + k, BATCH, k * 7)}}, use_bin_type=True)
            gc.disable()  # as the bus does for large requests
            t0 = time.perf_counter()
            message = msgpack.unpackb(payload, raw=False)
            t1 = time.perf_counter()
            validate_request(message)
            t2 = time.perf_counter()
            batch, _ = parse_ingest(message["body"]["readings"], model, time.time(), 300.0)
            t3 = time.perf_counter()
            pipeline.submit(batch)
            t4 = time.perf_counter()
            journal.append(1, ids, batch.sensor, batch.ts, batch.value)
            t5 = time.perf_counter()
            journal.sync()
            t6 = time.perf_counter()
            gc.enable()
            stored = dedupe_last_wins(keys[batch.sensor], batch.ts, batch.value)
            backend.write(*stored)
            t8 = time.perf_counter()
            for key, (a, b) in zip(costs, ((t0, t1), (t1, t2), (t2, t3), (t3, t4), (t4, t5), (t5, t6), (t6, t8))):
                costs[key].append((b - a) / BATCH * 1e6)
            pending.append((keys[batch.sensor], batch.ts, batch.value))
            if len(pending) == 10:
                t9 = time.perf_counter()
                grouped.write(*dedupe_last_wins(*(np.concatenate(part) for part in zip(*pending))))
                costs["commit (10 batches)"].append((time.perf_counter() - t9) / (10 * BATCH) * 1e6)
                pending = []
        backend.close()
        grouped.close()
        journal.close()
    return costs


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


class Profiler:
    """``py-spy record`` attached to the sidecar for one phase (``--py-spy DIR``; a benchmark
    tool, not a product dependency: ``pip install py-spy``). Writes collapsed stacks, one file
    per phase, with thread ids; ``--nonblocking`` keeps its cost on the sidecar small."""

    def __init__(self, directory: Path | None, pid: int | None, name: str):
        self.process: subprocess.Popen[bytes] | None = None
        if directory is None or pid is None:
            return
        exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not Path(exe).exists():
            raise SystemExit("--py-spy needs py-spy: pip install py-spy")
        directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen([exe, "record", "-p", str(pid), "-r", "250", "-t", "--nonblocking",
                                         "-f", "raw", "-o", str(directory / f"{name}.txt")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)  # attached before the phase starts

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(30)


def spread(values: list[float], digits: int = 0) -> str:
    """``median (min-max)`` of the runs' values."""
    fmt = f"{{:,.{digits}f}}"
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="shorter streams and fewer probes (still 5 runs)")
    parser.add_argument("--runs", type=int, help="runs (default 5 with --quick, 7 without)")
    parser.add_argument("--py-spy", type=Path, metavar="DIR", dest="py_spy",
                        help="record the sidecar with py-spy during the first run's phases into DIR")
    args = parser.parse_args(argv)
    runs, batches, probes = (5, 80, 60) if args.quick else (7, 200, 200)
    runs = args.runs or runs
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    sidecar_cpu = cpus[0] if cpus else None
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))
    context: zmq.Context[Any] = zmq.Context()
    base = time.time() - 3600.0
    stream = [normal_batch(base + k * 1.0, BATCH, k * 7) for k in range(batches)]  # each run: a fresh sidecar
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    throughput: list[dict[str, float]] = []
    latencies: list[tuple[float, float]] = []
    print(f"machine: {machine()}")
    print(f"sidecar pinned to CPU {sidecar_cpu}; {runs} runs, each a fresh sidecar: a stream of {batches} ingest "
          f"requests of {BATCH:,} readings over {SENSORS:,} sensors, then {probes} alert probes under "
          "10,000 readings/s")
    print(f"{'run':>3} {'readings/s':>11} {'ingest only':>12} {'commit tail':>12} {'alert p50':>10} {'p99':>7}")
    for run in range(runs):
        sidecar = Sidecar(sidecar_cpu)
        spy_dir = args.py_spy if run == 0 else None
        try:
            client = sidecar.client(context)
            client.request("configure", building())
            client.request("start", {})
            client.close()
            profiler = Profiler(spy_dir, sidecar.launcher.pid, "throughput")
            try:
                figures = throughput_run(context, sidecar, stream)
            finally:
                profiler.stop()
            profiler = Profiler(spy_dir, sidecar.launcher.pid, "latency")
            try:
                run_latency = latency_run(context, sidecar, probes)
            finally:
                profiler.stop()
        finally:
            sidecar.close()
        throughput.append(figures)
        latencies.append((percentile(run_latency, 50), percentile(run_latency, 99)))
        print(f"{run + 1:>3} {figures['readings_per_s']:>11,.0f} {figures['ingest_only_readings_per_s']:>12,.0f} "
              f"{figures['commit_tail_ms']:>9,.1f} ms {latencies[-1][0]:>7.2f} ms {latencies[-1][1]:>4.2f} ms",
              flush=True)
    ring = SensorRing(SENSORS + PROBES, RING_POINTS)
    columns: dict[str, list[float]] = {
        "readings_per_s": [t["readings_per_s"] for t in throughput],
        "ingest_only_readings_per_s": [t["ingest_only_readings_per_s"] for t in throughput],
        "commit_tail_ms": [t["commit_tail_ms"] for t in throughput],
        "alert_latency_ms_p50": [p for p, _ in latencies],
        "alert_latency_ms_p99": [q for _, q in latencies],
    }
    digits = {"readings_per_s": 0, "ingest_only_readings_per_s": 0, "commit_tail_ms": 1,
              "alert_latency_ms_p50": 2, "alert_latency_ms_p99": 2}
    targets = {"readings_per_s": ">= 300,000", "alert_latency_ms_p50": "<= 2", "alert_latency_ms_p99": "<= 10",
               "bytes_per_buffered_point": "<= 24", "ingest_only_readings_per_s": "", "commit_tail_ms": ""}
    units = {"readings_per_s": "readings/s", "ingest_only_readings_per_s": "readings/s", "commit_tail_ms": "ms",
             "alert_latency_ms_p50": "ms", "alert_latency_ms_p99": "ms", "bytes_per_buffered_point": "bytes"}
    meaning = {"readings_per_s": "stream ingested and committed to SQLite",
               "ingest_only_readings_per_s": "until the last ingest reply",
               "commit_tail_ms": "last reply -> last reading committed",
               "alert_latency_ms_p50": "probe sent -> its alert event received",
               "alert_latency_ms_p99": "(per run; median of the runs' p99s)",
               "bytes_per_buffered_point": "ring buffer memory (computed)"}
    print(f"\n{'figure':28} {'median of ' + str(runs) + ' runs (min-max)':>34}  {'unit':11} {'target':11} meaning")
    for key, values in columns.items():
        print(f"{key:28} {spread(values, digits[key]):>34}  {units[key]:11} {targets[key]:11} {meaning[key]}")
    print(f"{'bytes_per_buffered_point':28} {ring.bytes_per_point:>34.2f}  {'bytes':11} "
          f"{targets['bytes_per_buffered_point']:11} {meaning['bytes_per_buffered_point']}")
    stages = stage_costs(30 if args.quick else 60)
    print(f"\nper reading, in this process, one step at a time (median of {len(stages['decode'])} batches of "
          f"{BATCH:,}; min-max):")
    for key, values in stages.items():
        print(f"  {key:22} {spread(values, 3):>24} us")
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load_before:.1f} before, {load_after:.1f} after (figures depend on the machine and its load)")
    if args.py_spy:
        print(f"py-spy stacks of run 1: {args.py_spy / 'throughput.txt'}, {args.py_spy / 'latency.txt'}")
    context.destroy(linger=0)
    summary: dict[str, Any] = {key: round(statistics.median(values), digits[key] + 1 if digits[key] else 0)
                               for key, values in columns.items()}
    summary["bytes_per_buffered_point"] = round(ring.bytes_per_point, 2)
    summary["runs"] = runs
    summary["us_per_reading"] = {key: round(statistics.median(values), 3) for key, values in stages.items()}
    summary["spread"] = {key: [round(min(values), digits[key] + 1), round(max(values), digits[key] + 1)]
                         for key, values in columns.items()}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
