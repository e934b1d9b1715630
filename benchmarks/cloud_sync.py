"""Cloud connector figures on loopback, against real Mosquitto brokers playing IoT Hub (TLS) and
IoT Core (mutual TLS), next to a bare SDK publisher on the same broker in the same run.

    python benchmarks/cloud_sync.py [--quick] [--runs N]

Per connector (azure, aws):
- latency reading -> broker receipt (on_readings with ts=now, one reading per call, at a steady
  rate; an MQTT observer on the broker's plain listener stamps arrival): p50/p99 ms;
- sustained messages/s: one-reading messages committed one by one, until all arrived;
- outbox drain after an outage: messages queued while the broker was down, then the time from
  the broker's restart to the last arrival (includes the reconnect back-off); drain_reconnect_s
  is the part until the connector is connected again;
- the bare SDK publisher (IoTHubDeviceClient.send_message / mqtt5 Client.publish, no outbox):
  latency p50/p99 and messages/s.
Figures are medians over --runs runs. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support/, which cloud_peers uses
sys.path.insert(0, str(ROOT / "tests" / "cloud"))

from cloud_peers import Mosquitto, cleanup, free_loopback_address, free_port, make_pki, world_readable_dir
from gmqtt import Client as GmqttClient

from sidecar.cloud import create_connector

KEY = "YmVuY2htYXJrLWtleS1ub3QtYS1yZWFsLW9uZQ=="


class Arrivals:
    """The observer. Its session (subscriptions, QoS 1 messages queued while it is away) is kept by
    the broker, across a restart too (persistence on): reconnecting with the same ``client_id``
    receives everything published meanwhile, whoever reconnects first, the observer or the connector."""

    def __init__(self, client_id: str | None = None, values: dict[float, float] | None = None) -> None:
        self.client_id = client_id or f"bench-{os.getpid()}-{id(self)}"
        self.values: dict[float, float] = {} if values is None else values
        self.changed = asyncio.Event()
        self.client: GmqttClient | None = None

    async def connect(self, broker: Mosquitto, topics: list[str]) -> None:
        client = GmqttClient(self.client_id, clean_session=False, session_expiry_interval=3600)
        client.on_message = self._on_message
        await client.connect(broker.host, broker.plain_port)
        for t in topics:
            client.subscribe(t, qos=1)
        await asyncio.sleep(0.3)
        self.client = client

    async def close(self) -> None:
        if self.client is not None:
            self.client.reconnect_retries = 0
            # a broker already gone: the observer is discarded either way
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.disconnect(), 2)

    def _on_message(self, client: Any, topic: str, payload: bytes, qos: int, props: dict) -> int:
        now = time.time()
        try:
            body = json.loads(payload)
        except ValueError:
            return 0
        for r in body.get("readings", []):
            self.values.setdefault(float(r[2]), now)
        if "bare" in body:
            self.values.setdefault(float(body["bare"]), now)
        self.changed.set()
        return 0

    async def wait_count(self, n: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.values) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {len(self.values)}/{n} arrived")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.5)
            except TimeoutError:
                pass


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def noop_commands(kind: str, body: dict) -> dict:
    return {}


async def bench_connector(kind: str, broker: Mosquitto, settings: dict, data_dir: Path, n_lat: int,
                          n_tput: int, n_drain: int) -> dict:
    topics = ["devices/+/messages/events/#"] if kind == "azure" else ["building/+/sensors/data"]
    arrivals = Arrivals()
    await arrivals.connect(broker, topics)
    connector = create_connector(kind, settings, data_dir, noop_commands)
    await connector.start()
    while connector.status()["state"] != "connected":
        await asyncio.sleep(0.02)
    out: dict[str, Any] = {}
    # latency at a steady 200 readings/s
    sent: dict[float, float] = {}
    for i in range(n_lat):
        ts = time.time()
        sent[float(i)] = ts
        connector.on_readings([("s1", ts, float(i))])
        await asyncio.sleep(0.005)
    await arrivals.wait_count(n_lat)
    lat = [(arrivals.values[v] - sent[v]) * 1000 for v in sent]
    out["latency_ms_p50"], out["latency_ms_p99"] = round(pct(lat, 0.5), 3), round(pct(lat, 0.99), 3)
    # sustained messages/s, one reading per message
    base = 1_000_000.0
    t0 = time.perf_counter()
    for i in range(n_tput):
        connector.on_readings([("s1", time.time(), base + i)])
        await connector.flush()
    await arrivals.wait_count(n_lat + n_tput)
    out["messages_per_s"] = round(n_tput / (time.perf_counter() - t0), 1)
    # sustained readings/s in realistic batches of 50 (the pump packs what arrives meanwhile)
    base = 3_000_000.0
    n_batches = max(1, n_tput // 5)
    t0 = time.perf_counter()
    for b in range(n_batches):
        connector.on_readings([("s1", time.time(), base + b * 50 + k) for k in range(50)])
        await asyncio.sleep(0)
    await arrivals.wait_count(n_lat + n_tput + n_batches * 50)
    out["readings_per_s"] = round(n_batches * 50 / (time.perf_counter() - t0), 1)
    # outbox drain after an outage. The observer leaves first (a clean DISCONNECT: its session
    # stays, and is saved when the broker stops) and comes back under the same client id, so a
    # connector that reconnects before the observer has its messages queued for it, not lost to
    # a new session (that race once cost a random ~6 s: gmqtt's reconnect_delay).
    await arrivals.close()
    await asyncio.to_thread(broker.stop)
    base = 2_000_000.0
    for i in range(n_drain):
        connector.on_readings([("s1", time.time(), base + i)])
        await connector.flush()
    await asyncio.to_thread(broker.start)
    t0 = time.perf_counter()
    reconnected = asyncio.create_task(_connected_after(connector, t0))
    arrivals2 = Arrivals(arrivals.client_id, arrivals.values)
    await arrivals2.connect(broker, topics)
    await arrivals2.wait_count(n_lat + n_tput + n_batches * 50 + n_drain)
    out["drain_messages_per_s"] = round(n_drain / (time.perf_counter() - t0), 1)
    out["drain_reconnect_s"] = round(await reconnected, 3)
    out["dropped"] = connector.status()["dropped"]
    await connector.stop()
    await arrivals2.close()
    return out


async def _connected_after(connector: Any, t0: float) -> float:
    """Seconds from ``t0`` (the broker's restart) until the connector is connected again."""
    while connector.status()["state"] != "connected":
        await asyncio.sleep(0.005)
    return time.perf_counter() - t0


async def bench_bare_azure(broker: Mosquitto, ca_pem: str, n: int) -> dict:
    from azure.iot.device import Message
    from azure.iot.device.aio import IoTHubDeviceClient
    arrivals = Arrivals()
    await arrivals.connect(broker, ["devices/+/messages/events/#"])
    client = IoTHubDeviceClient.create_from_connection_string(
        f"HostName={broker.host};DeviceId=bare;SharedAccessKey={KEY}", server_verification_cert=ca_pem,
        connection_retry=False)
    await client.connect()
    sent = {}
    t0 = time.perf_counter()
    for i in range(n):
        sent[float(i)] = time.time()
        await client.send_message(Message(json.dumps({"bare": i}), content_type="application/json",
                                          content_encoding="utf-8"))
    await arrivals.wait_count(n)
    rate = n / (time.perf_counter() - t0)
    lat = [(arrivals.values[v] - sent[v]) * 1000 for v in sent]
    await client.shutdown()
    await arrivals.close()
    return {"latency_ms_p50": round(pct(lat, 0.5), 3), "latency_ms_p99": round(pct(lat, 0.99), 3),
            "messages_per_s": round(rate, 1)}


async def bench_bare_aws(broker: Mosquitto, settings: dict, n: int) -> dict:
    from awscrt import mqtt5
    from awsiot import mqtt5_client_builder
    arrivals = Arrivals()
    await arrivals.connect(broker, ["bare/#"])
    loop = asyncio.get_running_loop()
    connected = asyncio.Event()
    client = mqtt5_client_builder.mtls_from_path(
        endpoint=broker.host, port=broker.mtls_port, cert_filepath=settings["certificate_file"],
        pri_key_filepath=settings["private_key_file"], ca_filepath=settings["ca_file"], client_id="bare",
        on_lifecycle_connection_success=lambda d: loop.call_soon_threadsafe(connected.set))
    client.start()
    await connected.wait()
    sent = {}
    t0 = time.perf_counter()
    futures = []
    for i in range(n):
        sent[float(i)] = time.time()
        futures.append(asyncio.wrap_future(client.publish(mqtt5.PublishPacket(
            topic="bare/data", payload=json.dumps({"bare": i}).encode(), qos=mqtt5.QoS.AT_LEAST_ONCE))))
        if len(futures) >= 32:
            await asyncio.gather(*futures)
            futures = []
    await asyncio.gather(*futures)
    await arrivals.wait_count(n)
    rate = n / (time.perf_counter() - t0)
    lat = [(arrivals.values[v] - sent[v]) * 1000 for v in sent]
    client.stop()
    await arrivals.close()
    return {"latency_ms_p50": round(pct(lat, 0.5), 3), "latency_ms_p99": round(pct(lat, 0.99), 3),
            "messages_per_s": round(rate, 1)}


async def one_run(quick: bool) -> dict:
    n_lat, n_tput, n_drain = (300, 500, 500) if quick else (2000, 3000, 3000)
    work = world_readable_dir("rpiot-bench-cloud-")
    data = Path(tempfile.mkdtemp(prefix="rpiot-bench-data-"))
    try:
        pki = make_pki(work)
        az = Mosquitto(pki, work, free_loopback_address())
        host = free_loopback_address()
        aw = Mosquitto(pki, work, host, tls_port=None, mtls_port=free_port(host))
        az.start()
        aw.start()
        try:
            os.environ["RPIOT_BENCH_AZURE_CS"] = f"HostName={az.host};DeviceId=dev1;SharedAccessKey={KEY}"
            common = {"building_id": "B1", "backoff_initial_s": 0.1, "backoff_max_s": 0.5, "status_interval_s": 3600,
                      "outbox_max_rows": 1_000_000}
            az_settings = {**common, "connection_string_env": "RPIOT_BENCH_AZURE_CS",
                           "server_verification_cert_file": str(pki.ca_cert), "report_twin": False}
            cert, key = pki.client("thing1")
            aw_settings = {**common, "endpoint": aw.host, "port": aw.mtls_port, "thing_name": "thing1",
                           "certificate_file": str(cert), "private_key_file": str(key), "ca_file": str(pki.ca_cert),
                           "shadow": False}
            result = {
                "azure": await bench_connector("azure", az, az_settings, data / "az", n_lat, n_tput, n_drain),
                "aws": await bench_connector("aws", aw, aw_settings, data / "aw", n_lat, n_tput, n_drain),
                "azure_bare_sdk": await bench_bare_azure(az, pki.ca_cert.read_text(), n_tput),
                "aws_bare_sdk": await bench_bare_aws(aw, aw_settings, n_tput),
            }
        finally:
            az.stop()
            aw.stop()
        return result
    finally:
        cleanup(work)
        cleanup(data)


def median_of(runs: list[dict]) -> dict:
    out: dict[str, dict] = {}
    for group in runs[0]:
        out[group] = {k: statistics.median(r[group][k] for r in runs) for k in runs[0][group]}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer messages, one run")
    parser.add_argument("--runs", type=int, default=None)
    args = parser.parse_args()
    runs_n = args.runs or (1 if args.quick else 3)
    runs = [asyncio.run(one_run(args.quick)) for _ in range(runs_n)]
    fig = median_of(runs)
    for group, values in fig.items():
        print(f"{group:16s} " + "  ".join(f"{k}={v}" for k, v in values.items()))
    summary = {
        "cloud_latency_ms_p50": max(fig["azure"]["latency_ms_p50"], fig["aws"]["latency_ms_p50"]),
        "cloud_latency_ms_p99": max(fig["azure"]["latency_ms_p99"], fig["aws"]["latency_ms_p99"]),
        "target_p99_ms": 20, "promised_ms": 200,
        **{f"{g}_{k}": v for g, values in fig.items() for k, v in values.items()},
        "runs": runs_n, "quick": args.quick,
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
