"""A client that stops reading gets a fresh snapshot instead of an unbounded queue."""
from __future__ import annotations

import asyncio
import socket
import time

import aiohttp

from sidecar.dashboard import LiveFeed, start_dashboard
from sidecar.dashboard.live import readings_rows

from .support import DemoBackend


async def test_stalled_client_is_bounded_and_resynced_with_a_snapshot():
    backend = DemoBackend()
    live = LiveFeed(backend, flush_interval_s=0.005, client_queue=16)
    backend.live = live
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, live=live)
    host, port = url.split("//")[1].rstrip("/").split(":")
    sensors = list(backend.sensors)
    try:
        # A raw socket with a tiny receive buffer that completes the handshake and then never reads.
        stalled = socket.socket()
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stalled.connect((host, int(port)))
        stalled.sendall(f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url.replace("http", "ws") + "ws") as healthy:
            assert (await healthy.receive_json(timeout=10))["type"] == "snapshot"
            while live.client_count < 2:
                await asyncio.sleep(0.01)
            got = 0
            deadline = time.monotonic() + 60
            # flood: readings of every sensor (big messages) until the stalled client overflows
            while live.counters["resyncs"] == 0:
                assert time.monotonic() < deadline, "the stalled client never overflowed"
                now = time.time()
                live.on_readings([(sid, now, float(i)) for i, sid in enumerate(sensors)])
                await asyncio.sleep(0.006)
                while True:  # the healthy client keeps up
                    try:
                        msg = await healthy.receive_json(timeout=0.001)
                    except TimeoutError:
                        break
                    got += 1
                    assert msg["type"] == "readings"
            # memory stays bounded: no queue ever holds more than its limit
            for _ in range(200):
                live.on_readings([(sid, time.time(), 1.0) for sid in sensors])
                await asyncio.sleep(0.001)
                assert all(c.queue.qsize() <= 16 for c in live._clients)
            assert got > 0
            assert live.counters["dropped_messages"] > 0
            assert live.counters["snapshots"] >= 2  # the connect snapshots; the resync one is pending
            stalled_channel = max(live._clients, key=lambda c: c.resyncs)
            assert stalled_channel.resyncs >= 1

            # the healthy client was never resynced
            healthy_channel = min(live._clients, key=lambda c: c.resyncs)
            assert healthy_channel.resyncs == 0

        # the stalled client starts reading again: after the backlog it receives a "lagged" snapshot
        stalled.setblocking(False)
        received = b""
        deadline = time.monotonic() + 30
        loop = asyncio.get_running_loop()
        while b'"reason":"lagged"' not in received:
            assert time.monotonic() < deadline, "no lagged snapshot reached the resumed client"
            try:
                chunk = await asyncio.wait_for(loop.sock_recv(stalled, 65536), 1.0)
            except TimeoutError:
                continue
            assert chunk, "server closed the stalled client"
            received = received[-200_000:] + chunk
        stalled.close()
    finally:
        await runner.cleanup()


async def test_readings_are_coalesced_and_shared():
    """Ten thousand readings of a few sensors become one small message per flush per client."""
    backend = DemoBackend()
    live = LiveFeed(backend, flush_interval_s=0.05)
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, live=live)
    try:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url.replace("http", "ws") + "ws") as ws:
            snapshot = await ws.receive_json(timeout=10)
            assert snapshot["type"] == "snapshot"
            keys = snapshot["keys"]  # sensor ids by key, extended by each push's "add"
            while live.client_count < 1:
                await asyncio.sleep(0.01)
            batch = [(f"s{i % 5}", 1000.0 + i, float(i)) for i in range(10_000)]
            live.on_readings(batch)
            msg = await ws.receive_json(timeout=10)
            assert msg["type"] == "readings"
            assert sorted(readings_rows(msg, keys)) == sorted([[f"s{k}", 1000.0 + 9995 + k, float(9995 + k)]
                                                               for k in range(5)])
            live.on_health([{"unique_id": "u", "status": "critical"}])
            live.on_readings([("x", 1.0, float("nan"))])  # never breaks the JSON for the page
            got = [await ws.receive_json(timeout=10), await ws.receive_json(timeout=10)]
            assert got[0]["type"] == "health" and readings_rows(got[1], keys) == [["x", 1.0, None]]
    finally:
        await runner.cleanup()
