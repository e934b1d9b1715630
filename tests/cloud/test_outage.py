"""Store-and-forward under real outages: the broker stops while telemetry flows, and the
process holding the outbox is killed during an outage."""
from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cloud_helpers import Observer, aws_settings, azure_connection_string, azure_settings

from sidecar.cloud import create_connector

PROC = Path(__file__).with_name("connector_proc.py")


def telemetry_values(observer: Observer) -> list[float]:
    """Reading values in arrival order, duplicates included."""
    values = []
    for m in observer.messages:
        if m.topic.startswith("devices/dev1/messages/events/") or m.topic == "building/B1/sensors/data":
            body = m.json()
            if body.get("type") == "telemetry":
                values.extend(r[2] for r in body["readings"])
    return values


def assert_complete_in_order(values: list[float], expected: int) -> None:
    firsts: list[float] = []
    seen: set[float] = set()
    for v in values:
        if v not in seen:
            seen.add(v)
            firsts.append(v)
    assert firsts == [float(i) for i in range(expected)], \
        f"missing {sorted(set(range(expected)) - seen)[:10]}, first arrivals out of order: " \
        f"{[a for a, b in itertools.pairwise(firsts) if a > b][:10]}"


@pytest.mark.parametrize("kind", ["azure", "aws"])
async def test_broker_outage_while_telemetry_flows_loses_nothing(
        kind, monkeypatch, azure_broker, aws_broker, pki, tmp_path, handler, observer_factory):
    broker = azure_broker if kind == "azure" else aws_broker
    if kind == "azure":
        monkeypatch.setenv("RPIOT_TEST_AZURE_CS", azure_connection_string(broker))
        settings = azure_settings(broker, pki)
    else:
        settings = aws_settings(broker, pki)
    observer: Observer = await observer_factory(broker)
    connector = create_connector(kind, settings, tmp_path, handler)
    await connector.start()
    total = 300
    try:
        async def produce() -> None:
            for i in range(total):
                connector.on_readings([("s1", time.time(), float(i))])
                await asyncio.sleep(0.01)
        producer = asyncio.create_task(produce())
        await observer.wait_for(lambda ms: len(telemetry_values(observer)) >= 40)
        await asyncio.to_thread(broker.stop)  # the cloud goes away while readings keep coming
        await asyncio.sleep(1.0)
        during = connector.status()
        await asyncio.to_thread(broker.start)  # same address and port
        await observer.reconnect()
        await producer
        await observer.wait_for(lambda ms: len(set(telemetry_values(observer))) >= total, timeout=60)
        assert_complete_in_order(telemetry_values(observer), total)
        assert during["state"] != "connected" and during["backlog"] > 0 and during["last_error"]
        for _ in range(100):
            if connector.status()["backlog"] == 0:
                break
            await asyncio.sleep(0.05)
        status = connector.status()
        assert status["backlog"] == 0 and status["dropped"] == 0 and status["state"] == "connected"
    finally:
        await connector.stop()


async def _read_until(proc: subprocess.Popen, word: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = await asyncio.to_thread(proc.stdout.readline)
        if not line:
            break
        if line.startswith(word):
            return line
    raise AssertionError(f"subprocess never printed {word!r}")


def _outbox_rows(data_dir: Path, name: str) -> int:
    db = sqlite3.connect(f"file:{data_dir / 'cloud' / (name + '-outbox.sqlite3')}?mode=ro", uri=True)
    try:
        return int(db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])
    finally:
        db.close()


def spawn(kind: str, settings: dict, data_dir: Path, first: int, count: int, stderr_path: Path,
          env: dict[str, str]) -> subprocess.Popen:
    with open(stderr_path, "ab") as err:
        return subprocess.Popen([sys.executable, str(PROC), kind, json.dumps(settings), str(data_dir), str(first),
                                 str(count), "0.01"], stdout=subprocess.PIPE, stderr=err, text=True, env=env)


@pytest.mark.parametrize("kind", ["aws", "azure"])
async def test_killed_during_an_outage_the_outbox_survives_and_drains(
        kind, azure_broker, aws_broker, pki, tmp_path, observer_factory):
    broker = azure_broker if kind == "azure" else aws_broker
    env = dict(os.environ)
    if kind == "azure":
        env["RPIOT_TEST_AZURE_CS"] = azure_connection_string(broker)
        settings = azure_settings(broker, pki)
    else:
        settings = aws_settings(broker, pki)
    observer: Observer = await observer_factory(broker)
    stderr_path = tmp_path / "connector.stderr"
    data_dir = tmp_path / "data"
    first_batch, outage_batch = 50, 100
    proc = spawn(kind, settings, data_dir, 0, first_batch, stderr_path, env)
    try:
        await _read_until(proc, "drained", 30)  # the first readings are delivered
        await asyncio.to_thread(broker.stop)
        proc.kill()  # readings flowed up to here; now a second process, fed during the outage
        proc.wait(5)
        proc = spawn(kind, settings, data_dir, first_batch, outage_batch, stderr_path, env)
        await _read_until(proc, f"committed {first_batch + outage_batch - 1}", 30)
        os.kill(proc.pid, signal.SIGKILL)  # killed with the cloud still down
        proc.wait(5)
        assert _outbox_rows(data_dir, kind) == outage_batch  # every reading of the outage is on disk
        await asyncio.to_thread(broker.start)
        await observer.reconnect()
        proc = spawn(kind, settings, data_dir, 0, 0, stderr_path, env)  # restart: no new readings
        started = await _read_until(proc, "started", 30)
        assert started.split()[1] == str(outage_batch)
        await _read_until(proc, "drained", 60)
        await observer.wait_for(lambda ms: len(set(telemetry_values(observer))) >= first_batch + outage_batch,
                                timeout=30)
        assert_complete_in_order(telemetry_values(observer), first_batch + outage_batch)
        assert _outbox_rows(data_dir, kind) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


async def test_a_long_outage_rolls_up_then_drops_with_a_counted_alerted_loss(
        monkeypatch, azure_broker, pki, tmp_path, handler, observer_factory):
    monkeypatch.setenv("RPIOT_TEST_AZURE_CS", azure_connection_string(azure_broker))
    observer: Observer = await observer_factory(azure_broker)
    azure_broker.stop()
    settings = azure_settings(azure_broker, pki, outbox_max_rows=50, outbox_max_mb=0.01, rollup_chunk_rows=20)
    connector = create_connector("azure", settings, tmp_path, handler)
    losses: list[dict] = []
    connector.add_loss_listener(losses.append)
    await connector.start()
    try:
        for i in range(400):  # 4 sensors at "1 Hz" for 100 s of outage, in 1 s batches
            connector.on_readings([(f"s{k}", 1_700_000_000.0 + i // 4, float(i)) for k in range(4)])
            await connector.flush()
        status = connector.status()
        assert status["rolled_up_readings"] > 0 and status["dropped"] > 0 and losses
        assert sum(x["readings"] for x in losses) == status["dropped"]
        assert status["backlog"] <= 51
        azure_broker.start()
        await observer.reconnect()
        await observer.wait_for(lambda ms: [m for m in ms if "type=data_loss" in m.topic], timeout=30)
        for _ in range(200):
            if connector.status()["backlog"] == 0:
                break
            await asyncio.sleep(0.05)
        unique = {m.json()["message_id"]: m.json() for m in observer.messages
                  if m.topic.startswith("devices/dev1/messages/events/")}  # the cloud dedupes on message_id
        got = list(unique.values())
        notice = next(g for g in got if g["type"] == "data_loss")
        assert notice["total_dropped_readings"] == status["dropped"]
        raw = sum(len(g["readings"]) for g in got if g["type"] == "telemetry")
        rolled = sum(e["n"] for g in got if g["type"] == "telemetry_rollup" for e in g["stats"])
        assert raw + rolled + status["dropped"] == 1600  # every reading: sent, rolled up, or counted lost
    finally:
        await connector.stop()
