"""The reconnect back-off of the connectors (the sidecar's one ``Backoff``): ``backoff_max_s`` is
the longest wait, jitter included, so a connector notices a returning cloud within it."""
from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path

import pytest
from cloud_helpers import RecordingHandler, azure_connection_string, azure_settings

from sidecar.backoff import Backoff
from sidecar.cloud import create_connector


def test_the_jittered_wait_never_exceeds_the_maximum_and_stays_spread_at_it():
    backoff = Backoff(0.5, 60.0, jitter=0.2, rng=random.Random(7))
    first = [backoff.next_delay() for _ in range(7)]  # 0.5 .. 32 s: +-20% around the doubling
    for n, delay in enumerate(first):
        assert 0.8 * 0.5 * 2 ** n <= delay <= 1.2 * 0.5 * 2 ** n
    at_cap = [backoff.next_delay() for _ in range(2000)]
    assert max(at_cap) <= 60.0 and min(at_cap) >= 48.0
    assert max(at_cap) - min(at_cap) > 10.0  # still jittered: a fleet does not retry in lock-step
    backoff.reset()
    assert 0.4 <= backoff.next_delay() <= 0.6


async def test_during_an_outage_azure_probes_at_most_every_backoff_max_s_and_reconnects(
        monkeypatch: pytest.MonkeyPatch, azure_broker, pki, tmp_path: Path):
    monkeypatch.setenv("RPIOT_TEST_AZURE_CS", azure_connection_string(azure_broker))
    settings = azure_settings(azure_broker, pki, backoff_initial_s=0.05, backoff_max_s=0.2)
    connector = create_connector("azure", settings, tmp_path, RecordingHandler())
    waits: list[float] = []
    backoff = connector._backoff
    hand_out = backoff.next_delay

    def recorded() -> float:
        delay = hand_out()
        waits.append(delay)
        return delay

    monkeypatch.setattr(backoff, "next_delay", recorded)
    await connector.start()
    try:
        for _ in range(200):
            if connector.status()["state"] == "connected":
                break
            await asyncio.sleep(0.05)
        assert connector.status()["state"] == "connected", connector.status()
        await asyncio.to_thread(azure_broker.stop)
        connector.on_readings([("s1", time.time(), 1.0)])  # something to send meanwhile
        await asyncio.sleep(2.5)
        assert connector.status()["state"] != "connected" and connector.status()["backlog"] == 1
        at_cap = [w for w in waits if w > 0.15]
        assert len(at_cap) >= 4, waits  # it kept probing, at the cap by now
        assert max(waits) <= 0.2, waits
        await asyncio.to_thread(azure_broker.start)
        t0 = time.monotonic()
        while connector.status()["backlog"] and time.monotonic() - t0 < 10:
            await asyncio.sleep(0.01)
        assert connector.status()["backlog"] == 0 and connector.status()["state"] == "connected"
    finally:
        await connector.stop()
