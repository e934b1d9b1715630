"""MQTT ingest: single-reading messages through Mosquitto into the sidecar's pipeline, next to a
bare gmqtt subscriber on the same broker, in the same run.

A publisher process sends N plain-number messages (QoS 0, one reading each, over S topics) as
fast as it can. The receiving side is either
- ``bare``: a gmqtt client whose on_message only counts, or
- ``sidecar``: the real ``MqttSource`` (decode, route, batch) feeding the real ``Pipeline``
  (validation-free batch path: latest values, limit rules, alerts, health),
and its rate is messages received / (last arrival - first arrival). Runs alternate bare and
sidecar; figures are medians. ``mqtt_ingest_ratio`` = sidecar / bare (target >= 0.5).

Usage: ``python benchmarks/mqtt_ingest.py [--quick]``; the last line is a JSON object.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import gmqtt
import numpy as np
from bench_support import free_port, machine_line, run_quick_or_full

from sidecar.model import build_model
from sidecar.pipeline import Pipeline
from sidecar.readings import ReadingBatch
from sidecar.sources.base import RUNNING
from sidecar.sources.mqtt import MqttSource

PUBLISHER = r"""
import asyncio, sys, gmqtt
async def main(port, count, topics, prefix):
    client = gmqtt.Client(None)
    await client.connect("127.0.0.1", int(port))
    names = [f"{prefix}/s{i}".encode() for i in range(int(topics))]
    names = [n.decode() for n in names]
    for i in range(int(count)):
        client.publish(names[i % len(names)], b"%d.5" % (i % 50))
        if i % 2000 == 0:
            await asyncio.sleep(0)
    await asyncio.sleep(0.5)
    await client.disconnect()
asyncio.run(main(*sys.argv[1:]))
"""


class Broker:
    def __init__(self) -> None:
        binary = "/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else shutil.which("mosquitto")
        if not binary:
            raise SystemExit("mosquitto not found: install the Debian package 'mosquitto'")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="bench-mosquitto-"))
        self.dir.chmod(0o755)
        conf = self.dir / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\nlog_type error\n"
                        "persistence false\nmax_queued_messages 0\nmax_inflight_messages 0\n", encoding="utf-8")
        conf.chmod(0o644)
        self.process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise SystemExit("mosquitto did not start")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Arrivals:
    def __init__(self) -> None:
        self.count = 0
        self.first = 0.0
        self.last = 0.0

    def hit(self, n: int = 1) -> None:
        now = time.perf_counter()
        if self.count == 0:
            self.first = now
        self.count += n
        self.last = now


async def publish(port: int, count: int, topics: int, prefix: str) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-c", PUBLISHER, str(port), str(count),
                                                   str(topics), prefix)
    await process.wait()


async def settle(arrivals: Arrivals, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    previous = -1
    while arrivals.count < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        if arrivals.count == previous and arrivals.count > 0:
            break   # nothing more is coming
        previous = arrivals.count


async def run_bare(port: int, count: int, topics: int) -> tuple[float, int]:
    prefix = f"bench/{uuid.uuid4().hex[:6]}"
    arrivals = Arrivals()
    client = gmqtt.Client(None)

    def on_message(client: object, topic: str, payload: bytes, qos: int, properties: object) -> int:
        arrivals.hit()
        return 0

    client.on_message = on_message
    await client.connect("127.0.0.1", port)
    client.subscribe(f"{prefix}/#")
    await asyncio.sleep(0.2)
    await publish(port, count, topics, prefix)
    await settle(arrivals, count, 30)
    await client.disconnect()
    return arrivals.count / max(arrivals.last - arrivals.first, 1e-9), arrivals.count


async def run_sidecar(port: int, count: int, topics: int) -> tuple[float, int]:
    prefix = f"bench/{uuid.uuid4().hex[:6]}"
    elements = [{"unique_id": f"s-{i}", "element_id": i, "kind": "sensor", "category": "Data Devices",
                 "name": f"Sensor {i}", "location": [0.0, 0.0, 0.0], "parameters": {},
                 "sensor": {"sensor_id": f"s{i}", "quantity": "temperature", "unit": "Cel",
                            "source": f"mqtt:///{prefix}/s{i}"}} for i in range(topics)]
    model = build_model({"building_id": "bench", "model": {"title": "bench"}, "exported_ts": 0.0,
                         "levels": [], "spaces": [], "elements": elements})
    events: list[tuple[str, object]] = []
    pipeline = Pipeline(model, lambda topic, body: events.append((topic, body)), lambda batch: None)
    pipeline.initialise()
    arrivals = Arrivals()

    def sink(sensor: np.ndarray, ts: np.ndarray, value: np.ndarray) -> None:
        pipeline.submit(ReadingBatch(model, sensor, ts, value))
        arrivals.hit(len(sensor))

    source = MqttSource(model, np.arange(topics, dtype=np.int32), sink, {"host": "127.0.0.1", "port": port})
    task = asyncio.create_task(source.run())
    while source.state != RUNNING:
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)
    await publish(port, count, topics, prefix)
    await settle(arrivals, count, 30)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert pipeline.readings_total == arrivals.count
    return arrivals.count / max(arrivals.last - arrivals.first, 1e-9), arrivals.count


async def main_async(quick: bool) -> dict[str, object]:
    count = 20_000 if quick else 100_000
    runs = 2 if quick else 5
    topics = 100
    broker = Broker()
    bare: list[float] = []
    side: list[float] = []
    received: list[int] = []
    try:
        for _ in range(runs):
            rate, got = await run_bare(broker.port, count, topics)
            bare.append(rate)
            received.append(got)
            rate, got = await run_sidecar(broker.port, count, topics)
            side.append(rate)
            received.append(got)
    finally:
        broker.close()
    bare_rate, side_rate = statistics.median(bare), statistics.median(side)
    return {"mqtt_bare_msgs_per_s": round(bare_rate), "mqtt_sidecar_readings_per_s": round(side_rate),
            "mqtt_ingest_ratio": round(side_rate / bare_rate, 3), "messages_per_run": count,
            "min_received_fraction": round(min(received) / count, 4), "runs": runs, "topics": topics}


def main() -> None:
    figures = run_quick_or_full(__doc__, main_async)
    print(machine_line(f"gmqtt {gmqtt.__version__}"))
    print(f"{'receiver':<34}{'rate':>14}  unit")
    print(f"{'bare gmqtt subscriber':<34}{figures['mqtt_bare_msgs_per_s']:>14,}  messages/s")
    print(f"{'MqttSource -> Pipeline':<34}{figures['mqtt_sidecar_readings_per_s']:>14,}  readings/s")
    print(f"{'ratio (target >= 0.5)':<34}{figures['mqtt_ingest_ratio']:>14}")
    print(f"messages per run {figures['messages_per_run']:,}, medians of {figures['runs']} runs, "
          f"lowest fraction received {figures['min_received_fraction']}")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
